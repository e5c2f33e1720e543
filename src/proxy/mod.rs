//! `dctx proxy`: a local unix socket that forwards every Docker API call to
//! one daemon over mTLS, so tools that cannot do TLS (or need a key file)
//! talk to it as to a local daemon. hyper serves the socket; a pooled
//! hyper-util client carries requests upstream (a `docker` run through the
//! proxy reuses warm TLS connections instead of paying a handshake);
//! upgraded connections (attach, exec) are relayed byte for byte.

pub mod audit;
pub mod guard;
pub mod socket;

use std::convert::Infallible;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::conn::dial::{Connector, Dial, Tls};
pub use crate::conn::target::Reload;
use crate::conn::{Endpoint, EndpointError, Source, Target, tls};
use crate::probe::Severity;
pub use audit::Audit;
pub use guard::Policy;
pub use socket::{Bound, bind, default_path};

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Another dctx proxy for the same profile owns the socket.
    #[error("a proxy for {name} is already running (pid {pid})")]
    AlreadyRunning { name: String, pid: i32 },
    /// Something that is not a dctx proxy accepts connections on the socket.
    #[error(
        "{0} is in use by another program (no live dctx proxy owns it); choose another --socket"
    )]
    SocketInUse(PathBuf),
    /// The socket path exists and is a regular file, dir, …
    #[error("{0} exists and is not a socket; remove it or choose another --socket")]
    NotASocket(PathBuf),
    /// The shared-temp socket dir is not ours or not private.
    #[error("{0} is not a private (0700) directory owned by you; remove it or use --socket")]
    UnsafeDir(PathBuf),
    /// The profile cannot be proxied (endpoint or TLS material unusable).
    #[error("cannot proxy {name}: {why}")]
    Unusable { name: String, why: String },
    /// A filesystem or socket operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

/// How the proxy behaves.
#[derive(Debug, Clone)]
pub struct Options {
    pub policy: Policy,
    /// Unix seconds at start (the start-time warnings are judged against it;
    /// every upstream connection is verified against the clock of its own).
    pub now: i64,
    /// Client connections served at once; further ones wait to be accepted.
    pub max_clients: usize,
    pub connect_timeout: Duration,
    /// A client must send a request's headers within this, and an idle
    /// keep-alive connection is closed after it: slow or idle clients
    /// cannot hold every slot.
    pub header_timeout: Duration,
}

impl Options {
    pub fn new(policy: Policy, now: i64) -> Self {
        Options {
            policy,
            now,
            max_clients: 1024,
            connect_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
        }
    }
}

type Out = UnsyncBoxBody<Bytes, hyper::Error>;

/// A running proxy's shared state.
pub struct Proxy {
    name: String,
    host: String,
    /// The profile as last read (the 502 diagnosis probes it).
    source: Arc<Source>,
    client: Client<Connector, Counted<Incoming>>,
    opts: Options,
    audit: Option<Audit>,
    /// The last diagnosis of an unreachable daemon and when it was made
    /// (a burst of failing requests runs one probe, not one each).
    diagnosis: Mutex<Option<(Instant, String)>>,
}

impl Proxy {
    /// Check the target's material and build the pooled client. The target
    /// (and its key) stays in memory only; with `reload`, each new upstream
    /// connection re-reads the profile first.
    pub fn new(
        target: Target,
        opts: Options,
        audit: Option<Audit>,
        reload: Option<Reload>,
    ) -> Result<Self, ProxyError> {
        let unusable = |why: String| ProxyError::Unusable {
            name: target.name.clone(),
            why,
        };
        let source = Arc::new(Source::new(target.clone(), reload));
        let dial = match target.endpoint() {
            Ok((Endpoint::Unix(p), _)) => Dial::Unix(p.into()),
            Ok((Endpoint::Tcp { host, port, .. }, tls)) => {
                let tls = if tls {
                    // Unusable material is refused at start, not at the first request.
                    tls::working_config(&target, opts.now).map_err(unusable)?;
                    Some(Tls::Fresh {
                        source: source.clone(),
                        name: tls::server_name(&host).map_err(unusable)?,
                    })
                } else {
                    None
                };
                let port = port.expect("read fills the port in");
                Dial::Tcp { host, port, tls }
            }
            Err(EndpointError::Scheme(s)) => {
                return Err(unusable(format!("{s}:// endpoints cannot be proxied")));
            }
            Err(e) => return Err(unusable(e.to_string())),
            Ok((Endpoint::Ssh { .. }, _)) => {
                return Err(unusable(
                    "ssh:// endpoints are not proxied: docker already reaches them through ssh"
                        .into(),
                ));
            }
        };
        let connector = Connector {
            dial,
            connect_timeout: opts.connect_timeout,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .build(connector);
        Ok(Proxy {
            name: target.name.clone(),
            host: target.host.clone(),
            source,
            client,
            opts,
            audit,
            diagnosis: Mutex::new(None),
        })
    }

    /// The start-time warning about the profile's client certificate, if it
    /// has expired (the daemon will refuse it).
    pub fn client_cert_warning(&self) -> Option<String> {
        let info = tls::load_material(&self.source.current())
            .ok()?
            .client_info?;
        (info.not_after <= self.opts.now).then(|| {
            format!(
                "{}'s client certificate expired on {} (client-cert-expired): the daemon \
                 will refuse it; run `dctx doctor {}`",
                self.name,
                info.not_after_rfc3339(),
                self.name
            )
        })
    }

    /// Serve `bound` until `shutdown` completes; the socket goes with `bound`.
    pub async fn serve(
        self,
        bound: Bound,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ProxyError> {
        let me = Arc::new(self);
        let slots = Arc::new(tokio::sync::Semaphore::new(
            me.opts.max_clients.min(fd_budget()).max(1),
        ));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = slots.clone().acquire_owned() => p.expect("never closed"),
            };
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                r = bound.listener.accept() => match r {
                    Ok((s, _)) => s,
                    // EMFILE and friends: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let me = me.clone();
            let header_timeout = me.opts.header_timeout;
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let me = me.clone();
                    async move { Ok::<_, Infallible>(me.handle(req).await) }
                });
                // No HTTP-level half-close: a client's EOF must end an idle
                // stream (`logs -f`) and free its upstream. Hijacked
                // connections (attach, exec) half-close in the byte relay.
                let _ = hyper::server::conn::http1::Builder::new()
                    .half_close(false)
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
                drop(permit);
            });
        }
        drop(bound);
        Ok(())
    }

    async fn handle(self: Arc<Self>, mut req: Request<Incoming>) -> Response<Out> {
        let started = Instant::now();
        let method = req.method().as_str().to_string();
        let upgrade = wants_upgrade(&req);
        // The daemon gets exactly the canonical path that was judged.
        let judged = crate::routes::judge(&method, req.uri().path(), upgrade);
        let mut rec = self
            .audit
            .as_ref()
            .map(|a| audit::Record::new(a.clone(), &method, &judged.forward));
        if let Some(flag) = self.opts.policy.refuses(&judged) {
            let msg = format!(
                "dctx: blocked by {flag} on {}: {method} {}",
                self.name, judged.api_path
            );
            drain(req.into_body()).await;
            return finish(rec, json_error(StatusCode::FORBIDDEN, &msg));
        }
        let client_side = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        retarget(&mut parts, &judged.forward, upgrade);
        let sent = Arc::new(AtomicU64::new(0));
        let body = Counted {
            inner: body,
            n: sent.clone(),
            rec: None,
        };
        let resp = match self.client.request(Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(e) => {
                let msg = self.unreachable(&e).await;
                return finish(rec, json_error(StatusCode::BAD_GATEWAY, &msg));
            }
        };
        if let Some(r) = rec.as_mut() {
            r.status = resp.status().as_u16();
            r.sent = sent.clone();
            r.started = started;
        }
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_side) = client_side
        {
            return relay_upgraded(client_side, resp, rec);
        }
        passthrough(resp, upgrade, rec)
    }

    /// The 502 message: the probe's finding for this daemon (by its code),
    /// and the command that explains it. Daemon-supplied text (subjects,
    /// error strings) is escaped: docker prints the message raw.
    async fn unreachable(&self, e: &hyper_util::client::legacy::Error) -> String {
        let src = std::error::Error::source(e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        let cause = match self.diagnose().await {
            Some(finding) => finding,
            None => format!("the daemon connection failed{src}"),
        };
        let msg = format!(
            "dctx proxy: {} ({}) is unreachable: {cause}; run `dctx doctor {}`",
            self.name, self.host, self.name
        );
        crate::output::sanitize(&msg).into_owned()
    }

    /// The first error finding of a fresh probe (`message (code)`).
    async fn diagnose(&self) -> Option<String> {
        if let Some((at, msg)) = &*self.diagnosis.lock().unwrap()
            && at.elapsed() < Duration::from_secs(3)
        {
            return Some(msg.clone());
        }
        let target = self.source.current();
        let report =
            crate::probe::run(&target, self.opts.connect_timeout, crate::conn::unix_now()).await;
        let msg = report
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map(|f| format!("{} ({})", f.message, f.code))?;
        *self.diagnosis.lock().unwrap() = Some((Instant::now(), msg.clone()));
        Some(msg)
    }
}

/// Client connections the open-file limit leaves room for: each needs its
/// socket and, at worst, an upstream one. The soft limit is raised to the
/// hard one first (as Go programs do).
fn fd_budget() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    (lim.rlim_cur.saturating_sub(64) / 2).min(usize::MAX as u64) as usize
}

/// Read and drop a refused request's body (up to a bound), so the client
/// finishes writing and reads the 403 instead of a broken pipe.
async fn drain(mut body: Incoming) {
    let mut left: usize = 64 << 20;
    let read = async {
        while let Some(Ok(f)) = body.frame().await {
            let n = f.data_ref().map_or(0, |d| d.len());
            match left.checked_sub(n) {
                Some(l) => left = l,
                None => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
}

/// Point a client's request at the daemon: exactly the canonical path that
/// was judged (plus the query), and for a plain request without hop-by-hop
/// headers, so the upstream connection stays pooled whatever the client says.
fn retarget(parts: &mut hyper::http::request::Parts, forward: &str, upgrade: bool) {
    let pq = match parts.uri.query() {
        Some(q) => format!("{forward}?{q}"),
        None => forward.to_string(),
    };
    parts.uri = format!("http://docker{pq}").parse().expect("valid path");
    if !upgrade {
        parts.headers.remove(CONNECTION);
        parts.headers.remove("keep-alive");
    }
}

/// The daemon switched protocols (attach, exec): answer the client with the
/// 101 and relay both upgraded streams byte for byte in their own task.
fn relay_upgraded(
    client_side: hyper::upgrade::OnUpgrade,
    mut resp: Response<Incoming>,
    mut rec: Option<audit::Record>,
) -> Response<Out> {
    let daemon_side = hyper::upgrade::on(&mut resp);
    // Logged when the session opens (a client killed with -9 or a
    // proxy stopped mid-session leaves this line) and when it ends.
    if let Some(r) = rec.as_mut() {
        r.write_session("open");
    }
    tokio::spawn(async move {
        let (Ok(c), Ok(d)) = (client_side.await, daemon_side.await) else {
            if let Some(r) = rec {
                r.close_session(0, 0);
            }
            return;
        };
        let (mut c, mut d) = (TokioIo::new(c), TokioIo::new(d));
        // EOF one way is forwarded as a half-close; the other way keeps flowing.
        let (up, down) = tokio::io::copy_bidirectional(&mut c, &mut d)
            .await
            .unwrap_or((0, 0));
        if let Some(r) = rec {
            r.close_session(up, down);
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, empty())
}

/// The daemon's answer streamed back as it comes, counted for the audit
/// record (written when the body is dropped), without hop-by-hop headers.
fn passthrough(
    resp: Response<Incoming>,
    upgrade: bool,
    rec: Option<audit::Record>,
) -> Response<Out> {
    let (mut parts, body) = resp.into_parts();
    if !upgrade {
        parts.headers.remove(CONNECTION);
        parts.headers.remove("keep-alive");
    }
    let body = Counted {
        inner: body,
        n: Arc::new(AtomicU64::new(0)),
        rec,
    };
    Response::from_parts(parts, UnsyncBoxBody::new(body))
}

/// An `Upgrade` header or a `Connection: upgrade` token: either asks for a
/// protocol switch (dockerd's /grpc reads `Upgrade` alone).
fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers().contains_key(hyper::header::UPGRADE)
        || req
            .headers()
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}

fn empty() -> Out {
    UnsyncBoxBody::new(Full::new(Bytes::new()).map_err(|n: Infallible| match n {}))
}

/// A Docker-style error (`{"message": …}`), which docker clients print as
/// "Error response from daemon: …".
fn json_error(status: StatusCode, msg: &str) -> Response<Out> {
    let body = serde_json::json!({ "message": msg }).to_string();
    let mut r = Response::new(UnsyncBoxBody::new(
        Full::new(Bytes::from(body)).map_err(|n: Infallible| match n {}),
    ));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn finish(rec: Option<audit::Record>, r: Response<Out>) -> Response<Out> {
    if let Some(mut rec) = rec {
        rec.status = r.status().as_u16();
        rec.write();
    }
    r
}

/// A body that counts its data bytes and, for responses, writes the audit
/// record when it is done with (finished or dropped by a vanished client).
struct Counted<B> {
    inner: B,
    n: Arc<AtomicU64>,
    rec: Option<audit::Record>,
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        if let Some(mut r) = self.rec.take() {
            r.received = self.n.load(Ordering::Relaxed);
            r.write();
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r
            && let Some(d) = f.data_ref()
        {
            self.n.fetch_add(d.len() as u64, Ordering::Relaxed);
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
