//! The connector hyper-util's pooled client dials the daemon with: TCP (+
//! rustls with the profile's material, verifying strictly) or a unix socket.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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

use crate::probe::Target;
use crate::probe::tls::{self, VerifyMode};

/// Re-reads the profile (its TLS files, and the key from wherever it is
/// kept) when a new upstream connection is dialled.
pub type Reload = Arc<dyn Fn() -> Result<Target, String> + Send + Sync>;

/// Where the daemon is.
#[derive(Clone)]
pub enum Dial {
    Tcp {
        host: String,
        port: u16,
        tls: Option<Arc<TlsSource>>,
    },
    Unix(PathBuf),
}

/// The TLS side of a TCP dial: every new connection reads the profile's
/// current material and verifies the daemon against the clock at that
/// moment (a renewed cert is used, an expired one refused, without a
/// restart; open connections keep theirs).
pub struct TlsSource {
    /// The name the daemon's certificate must hold.
    pub name: ServerName<'static>,
    /// The profile as last read (the 502 diagnosis probes it too).
    pub current: Arc<Mutex<Target>>,
    pub reload: Option<Reload>,
}

impl TlsSource {
    /// A client config from the profile's current material, judged now.
    pub fn config(&self) -> Result<Arc<ClientConfig>, String> {
        if let Some(reload) = &self.reload {
            let fresh = reload()?;
            *self.current.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        let t = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let m = tls::load_material(&t)?;
        let mode = if t.skip_verify {
            VerifyMode::Insecure
        } else {
            VerifyMode::Strict
        };
        drop(t);
        tls::client_config(Some(&m), mode, unix_now(), Default::default())
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Dials a fresh upstream connection (the client pools them).
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
            let fut = async {
                Ok(match dial {
                    Dial::Unix(p) => Stream::Unix(UnixStream::connect(p).await?),
                    Dial::Tcp { host, port, tls } => {
                        let tcp = TcpStream::connect((host.as_str(), port)).await?;
                        let _ = tcp.set_nodelay(true);
                        match tls {
                            None => Stream::Tcp(tcp),
                            Some(src) => {
                                // The keyring is a blocking D-Bus call.
                                let s = src.clone();
                                let cfg = tokio::task::spawn_blocking(move || s.config())
                                    .await
                                    .map_err(io::Error::other)?
                                    .map_err(io::Error::other)?;
                                Stream::Tls(Box::new(
                                    tokio_rustls::TlsConnector::from(cfg)
                                        .connect(src.name.clone(), tcp)
                                        .await?,
                                ))
                            }
                        }
                    }
                })
            };
            match tokio::time::timeout(limit, fut).await {
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
