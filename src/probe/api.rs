//! The Docker API through bollard, over a transport built here: an
//! in-memory rustls config (bollard's own TLS wants files and has TLS 1.2
//! off), plain TCP, or a unix socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::PhaseCell;
use super::finding::Phase;

/// How to reach the daemon for API calls.
#[derive(Clone)]
pub enum Dial {
    Tcp {
        addr: SocketAddr,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    },
    Unix(PathBuf),
}

struct Transport {
    dial: Dial,
    host_header: String,
    phase: PhaseCell,
    /// Connection drivers never outlive this.
    deadline: Duration,
    conn: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

type BErr = bollard::errors::Error;

impl Transport {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, BErr> {
        match &self.dial {
            Dial::Tcp { addr, tls } => {
                self.phase.set(Phase::Connect);
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    Some((cfg, name)) => {
                        self.phase.set(Phase::Handshake);
                        let s = tokio_rustls::TlsConnector::from(cfg.clone())
                            .connect(name.clone(), tcp)
                            .await?;
                        self.http(s).await
                    }
                    None => self.http(tcp).await,
                }
            }
            Dial::Unix(path) => {
                self.phase.set(Phase::Connect);
                let s = tokio::net::UnixStream::connect(path).await?;
                self.http(s).await
            }
        }
    }

    async fn http<S>(&self, s: S) -> Result<SendRequest<Full<Bytes>>, BErr>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Capped: an endless or huge answer ends in an error, not in RAM.
        let s = super::pipeline::Capped::new(s, super::pipeline::CONN_CAP);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
        let deadline = self.deadline;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(deadline, conn).await;
        });
        Ok(sender)
    }

    async fn send(&self, req: BollardRequest) -> Result<hyper::Response<Incoming>, BErr> {
        let req = to_daemon(req, &self.host_header).await?;
        let mut guard = self.conn.lock().await;
        let reusable = match guard.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            *guard = Some(self.connect().await?);
        }
        let sender = guard.as_mut().expect("connection just made");
        self.phase.set(Phase::Response);
        Ok(sender.send_request(req).await?)
    }
}

/// bollard's request as the daemon gets it, whatever the transport:
/// origin-form target without bollard's /vX.Y prefix (the daemon then
/// answers at its own API version, whatever it is: 20.10 tops at 1.41),
/// our Host and User-Agent, the body collected.
pub(super) async fn to_daemon(
    req: BollardRequest,
    host_header: &str,
) -> Result<hyper::Request<Full<Bytes>>, BErr> {
    let (mut parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .to_bytes();
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = strip_version(&pq).parse()?;
    parts.headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_str(host_header)
            .unwrap_or(hyper::header::HeaderValue::from_static("docker")),
    );
    parts.headers.insert(
        hyper::header::USER_AGENT,
        hyper::header::HeaderValue::from_static(concat!("dctx/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(hyper::Request::from_parts(parts, Full::new(body)))
}

/// `/v1.53/_ping?x` → `/_ping?x`.
fn strip_version(pq: &str) -> String {
    if let Some(rest) = pq.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.')
        && !rest[..i].is_empty()
    {
        return rest[i..].to_string();
    }
    pq.to_string()
}

/// A bollard client speaking over `dial`.
pub fn docker(dial: Dial, host_header: &str, phase: PhaseCell, deadline: Duration) -> Docker {
    let scheme = match &dial {
        Dial::Tcp { tls: Some(_), .. } => "https",
        _ => "http",
    };
    let addr = match &dial {
        Dial::Tcp { addr, .. } => format!("{scheme}://{addr}"),
        Dial::Unix(_) => "http://docker".to_string(),
    };
    let t = Arc::new(Transport {
        dial,
        host_header: host_header.to_string(),
        phase,
        deadline,
        conn: tokio::sync::Mutex::new(None),
    });
    let secs = deadline.as_secs() + 1;
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let t = t.clone();
            async move { t.send(req).await }
        },
        Some(addr),
        secs,
        bollard::API_DEFAULT_VERSION,
    )
    .expect("custom transport never fails to build")
}

#[cfg(test)]
mod tests {
    #[test]
    fn strips_version_prefix() {
        assert_eq!(super::strip_version("/v1.53/_ping"), "/_ping");
        assert_eq!(
            super::strip_version("/v1.41/info?a=b"),
            "/info?a=b".to_string()
        );
        assert_eq!(super::strip_version("/version"), "/version");
        assert_eq!(super::strip_version("/vx/y"), "/vx/y");
    }
}
