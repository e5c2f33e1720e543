//! The Docker API through bollard, over one transport built here: a
//! [`Dial`] (an in-memory rustls config: bollard's own TLS wants files and
//! has TLS 1.2 off; plain TCP; a unix socket) or any one established stream
//! (an ssh `dial-stdio` child). Every connection is capped, so no answer can
//! make bollard buffer without bound.

use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::dial::{Dial, Stage, Watch};
use super::http::{CONN_CAP, Capped};

/// A stream the transport can speak HTTP over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Where the transport's connections come from.
enum Origin {
    /// A new connection when the last one closed.
    Dial(Dial),
    /// The one stream there is (taken at the first request).
    Once(std::sync::Mutex<Option<Box<dyn Io>>>),
}

struct Transport {
    origin: Origin,
    host_header: String,
    watch: Option<Watch>,
    /// Connection drivers never outlive this.
    deadline: Duration,
    conn: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

type BErr = bollard::errors::Error;

impl Transport {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, BErr> {
        match &self.origin {
            Origin::Dial(d) => self.http(d.connect(self.watch.as_ref()).await?).await,
            Origin::Once(s) => {
                let s = s.lock().unwrap_or_else(|e| e.into_inner()).take();
                let s = s.ok_or_else(|| std::io::Error::other("the connection is closed"))?;
                self.http(s).await
            }
        }
    }

    async fn http(&self, s: impl Io) -> Result<SendRequest<Full<Bytes>>, BErr> {
        let s = Capped::new(s, CONN_CAP);
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
        if let Some(w) = &self.watch {
            w(Stage::Response);
        }
        Ok(sender.send_request(req).await?)
    }
}

/// bollard's request as the daemon gets it, whatever the transport:
/// origin-form target without bollard's /vX.Y prefix (the daemon then
/// answers at its own API version, whatever it is: 20.10 tops at 1.41),
/// our Host and User-Agent, the body collected.
async fn to_daemon(
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

/// A bollard client speaking over `dial` (a new connection whenever the
/// last one closed), telling `watch` how far each got.
pub fn over_dial(
    dial: Dial,
    host_header: &str,
    watch: Option<Watch>,
    deadline: Duration,
) -> Docker {
    let url = match &dial {
        Dial::Tcp { host, port, tls } => {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            format!("{scheme}://{host}:{port}")
        }
        Dial::Unix(_) => "http://docker".to_string(),
    };
    client(Origin::Dial(dial), url, host_header, watch, deadline)
}

/// A bollard client over one established stream (HTTP/1.1 keep-alive; the
/// requests after it closes fail).
pub fn over_stream(s: impl Io, host_header: &str, deadline: Duration) -> Docker {
    let once = Origin::Once(std::sync::Mutex::new(Some(Box::new(s))));
    client(once, "http://docker".into(), host_header, None, deadline)
}

fn client(
    origin: Origin,
    url: String,
    host_header: &str,
    watch: Option<Watch>,
    deadline: Duration,
) -> Docker {
    let t = Arc::new(Transport {
        origin,
        host_header: host_header.to_string(),
        watch,
        deadline,
        conn: tokio::sync::Mutex::new(None),
    });
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let t = t.clone();
            async move { t.send(req).await }
        },
        Some(&url),
        deadline.as_secs() + 1,
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
