//! Dialling a daemon: tcp (+ rustls), or a unix socket. One [`Dial`] serves
//! the proxy's pooled client ([`Connector`]) and the bollard transport
//! ([`super::docker`]); the probe's own phases use the same primitives
//! ([`tcp`]) one step at a time.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

use super::target::Source;

/// How far a connection got (for a caller that reports where a deadline hit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Handshake,
    Response,
}

/// Told each [`Stage`] as a connection reaches it.
pub type Watch = Arc<dyn Fn(Stage) + Send + Sync>;

/// The TLS side of a TCP dial.
#[derive(Clone)]
pub enum Tls {
    /// One config for every connection (the probe's: it records what it saw).
    Fixed {
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    },
    /// Each new connection reads the source's current material and verifies
    /// the daemon against the clock at that moment (a renewed cert is used,
    /// an expired one refused, without a restart).
    Fresh {
        source: Arc<Source>,
        name: ServerName<'static>,
    },
}

impl Tls {
    async fn config(&self) -> io::Result<(Arc<ClientConfig>, ServerName<'static>)> {
        match self {
            Tls::Fixed { config, name } => Ok((config.clone(), name.clone())),
            Tls::Fresh { source, name } => {
                // The keyring is a blocking D-Bus call.
                let s = source.clone();
                let cfg = tokio::task::spawn_blocking(move || {
                    super::tls::working_config(&s.refresh()?, super::unix_now())
                })
                .await
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
                Ok((cfg, name.clone()))
            }
        }
    }
}

/// Where the daemon is and how to speak to it.
#[derive(Clone)]
pub enum Dial {
    Tcp {
        /// A name or an IP literal.
        host: String,
        port: u16,
        tls: Option<Tls>,
    },
    Unix(PathBuf),
}

impl Dial {
    /// A TCP dial to an address already resolved.
    pub fn addr(addr: SocketAddr, tls: Option<Tls>) -> Dial {
        Dial::Tcp {
            host: addr.ip().to_string(),
            port: addr.port(),
            tls,
        }
    }

    /// One new connection, reporting each stage to `watch`.
    pub async fn connect(&self, watch: Option<&Watch>) -> io::Result<Stream> {
        let stage = |s| {
            if let Some(w) = watch {
                w(s)
            }
        };
        stage(Stage::Connect);
        match self {
            Dial::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
            Dial::Tcp { host, port, tls } => {
                let tcp = tcp((host.as_str(), *port)).await?;
                let Some(tls) = tls else {
                    return Ok(Stream::Tcp(tcp));
                };
                let (cfg, name) = tls.config().await?;
                stage(Stage::Handshake);
                let s = tokio_rustls::TlsConnector::from(cfg)
                    .connect(name, tcp)
                    .await?;
                Ok(Stream::Tls(Box::new(s)))
            }
        }
    }
}

/// A TCP connection with Nagle off (requests are small and latency-bound).
pub async fn tcp(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Dials a fresh upstream connection for hyper's pooled client.
#[derive(Clone)]
pub struct Connector {
    pub dial: Dial,
    pub connect_timeout: Duration,
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let dial = self.dial.clone();
        let limit = self.connect_timeout;
        Box::pin(async move {
            match tokio::time::timeout(limit, dial.connect(None)).await {
                Ok(r) => r.map(|s| Conn(TokioIo::new(s))),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {} s", limit.as_secs()),
                )),
            }
        })
    }
}

pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
}

macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s.get_mut() {
            Stream::Tcp($x) => {
                let $x = Pin::new($x);
                $e
            }
            Stream::Tls($x) => {
                let $x = Pin::new($x.as_mut());
                $e
            }
            Stream::Unix($x) => {
                let $x = Pin::new($x);
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, b))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write_vectored(cx, b))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }
}

/// One upstream connection as hyper sees it.
pub struct Conn(TokioIo<Stream>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, b)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, b)
    }
    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.0)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
