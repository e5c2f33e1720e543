//! Probing a daemon: steps and findings with stable codes, for `check`,
//! `doctor` and `metrics` (only they start a runtime).
//!
//! `probe` dispatches on the endpoint: unix:// (`probe_unix`), ssh://
//! (`ssh`), tcp:// and https:// (`probe_tcp`). A TLS probe walks profile →
//! resolve → connect → handshake → first request → API on ONE connection:
//! - the handshake's verifier (`tls`) runs the real webpki verification and
//!   records the chain and its verdict but lets the handshake go on, so a bad
//!   chain still shows what the server does with our client certificate;
//! - the first request (/_ping) is where TLS 1.3 client-cert rejections
//!   arrive; when nothing is wrong so far, /version and /info ride along
//!   pipelined (`pipeline`): a healthy probe is one connection, ~3 RTT;
//! - only when those answers are not plainly Docker's does a second,
//!   strictly verifying connection through bollard (`second_pass`) get the
//!   full diagnosis.
//!
//! A rejected chain is an error, and errors skip the API steps: a probe is
//! never "ok" over an unverified chain unless the profile skips
//! verification. Plain tcp:// gets the API phase and a "speaks TLS?" check.
//!
//! Every probe has one hard deadline covering all of it; the phase it was
//! in when the deadline hit is reported.

pub mod diagnose;
pub mod explain;
pub mod finding;
pub mod report;
pub mod ssh;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

pub use finding::{Code, Finding, Phase, Severity};
pub use report::{CertSummary, DockerInfo, Report, Status, Step, StepKind, StepState};

use crate::conn::dial::{Dial, Stage, Tls, Watch};
use crate::conn::endpoint::{self, Endpoint, EndpointError};
use crate::conn::http as pipeline;
use crate::conn::ssh::Dest;
use crate::conn::tls::{self, Material, Observations, Observed, VerifyMode};
use crate::conn::{Target, docker as api};
use diagnose::Ctx;

/// The phase a probe is in, shared with the transport (for `timeout`).
#[derive(Clone)]
pub struct PhaseCell(Arc<Mutex<Phase>>);

impl Default for PhaseCell {
    fn default() -> Self {
        PhaseCell(Arc::new(Mutex::new(Phase::Resolve)))
    }
}

impl PhaseCell {
    pub fn set(&self, p: Phase) {
        *self.0.lock().unwrap() = p;
    }
    pub fn get(&self) -> Phase {
        *self.0.lock().unwrap()
    }
    /// What a connection in `conn` reports its stages to.
    fn watch(&self) -> Watch {
        let cell = self.clone();
        std::sync::Arc::new(move |s| {
            cell.set(match s {
                Stage::Connect => Phase::Connect,
                Stage::Handshake => Phase::Handshake,
                Stage::Response => Phase::Response,
            })
        })
    }
}

/// The runtime `check`, `doctor`, `metrics` and `proxy` probe on (the
/// hot-path commands never start one).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Options for probing many targets.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hard deadline per probe (connect + handshake + response).
    pub timeout: Duration,
    /// Probes in flight at once (at least 1).
    pub concurrency: usize,
    /// Unix seconds "now" (certificate dates are judged against it).
    pub now: i64,
    /// A certificate (client, server or CA) expiring within this many days is a warning.
    pub warn_days: i64,
}

impl Options {
    pub fn new(timeout: Duration, now: i64) -> Self {
        Options {
            timeout,
            concurrency: 64,
            now,
            warn_days: i64::from(crate::output::expiry::DEFAULT_WARN_DAYS),
        }
    }
}

#[derive(Default)]
struct Partial {
    steps: Vec<Step>,
    findings: Vec<Finding>,
    docker: Option<DockerInfo>,
    server_cert: Option<CertSummary>,
    client_cert: Option<CertSummary>,
    latency_ms: Option<u64>,
    server_chain_der: Vec<Vec<u8>>,
}

/// What a probe has learnt so far; survives the deadline cancelling it.
#[derive(Default, Clone)]
struct Shared {
    phase: PhaseCell,
    partial: Arc<Mutex<Partial>>,
}

impl Shared {
    /// Add a finding (one per code: the first one wins).
    fn push(&self, f: Finding) {
        let mut p = self.partial.lock().unwrap();
        if !p.findings.iter().any(|g| g.code == f.code) {
            p.findings.push(f);
        }
    }
    fn extend(&self, fs: impl IntoIterator<Item = Finding>) {
        for f in fs {
            self.push(f);
        }
    }
    /// Record a step (a later record of the same step replaces it).
    fn step(&self, s: Step) {
        let mut p = self.partial.lock().unwrap();
        p.steps.retain(|x| x.step != s.step);
        p.steps.push(s);
    }
    fn skip(&self, kinds: &[StepKind], why: &str) {
        for k in kinds {
            self.step(Step::new(*k, StepState::Skip, why));
        }
    }
    fn has_errors(&self) -> bool {
        self.partial
            .lock()
            .unwrap()
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error)
    }
    fn with<R>(&self, f: impl FnOnce(&mut Partial) -> R) -> R {
        f(&mut self.partial.lock().unwrap())
    }
}

/// The TLS layers (handshake … client cert accepted), in `doctor` order.
const TLS_STEPS: &[StepKind] = StepKind::TLS;

/// Probe one target within `timeout`; never fails, never prints.
pub async fn run(target: &Target, timeout: Duration, now: i64) -> Report {
    run_with(target, &Options::new(timeout, now)).await
}

/// `run` with every option (the expiry warning threshold too).
pub async fn run_with(target: &Target, opts: &Options) -> Report {
    let (timeout, now, warn_days) = (opts.timeout, opts.now, opts.warn_days);
    let shared = Shared::default();
    let started = Instant::now();
    let res = tokio::time::timeout(
        timeout,
        probe(target.clone(), shared.clone(), timeout, now, warn_days),
    )
    .await;
    if res.is_err() {
        let phase = shared.phase.get();
        let is_ssh = endpoint::is_ssh(&target.host);
        let mut f = if is_ssh {
            ssh::timeout(phase, timeout.as_secs_f64())
        } else {
            Finding::timeout(phase, timeout.as_secs_f64())
        };
        f.message = format!("{} (after {} ms)", f.message, started.elapsed().as_millis());
        let kind = match phase {
            _ if is_ssh => ssh::timeout_step(phase, &shared),
            Phase::Resolve => StepKind::Resolve,
            Phase::Connect => StepKind::Connect,
            Phase::Handshake | Phase::SshHandshake => StepKind::TlsHandshake,
            Phase::Response => {
                let p = shared.partial.lock().unwrap();
                [
                    StepKind::ClientCertAccepted,
                    StepKind::Ping,
                    StepKind::Version,
                    StepKind::Info,
                ]
                .into_iter()
                .find(|k| !p.steps.iter().any(|s| s.step == *k))
                .unwrap_or(StepKind::Info)
            }
        };
        shared.step(Step::new(kind, StepState::Fail, f.message.clone()));
        shared.push(f);
    }
    let mut report = finish(target, &shared);
    report.duration_secs = started.elapsed().as_secs_f64();
    report
}

fn finish(target: &Target, shared: &Shared) -> Report {
    let mut p = std::mem::take(&mut *shared.partial.lock().unwrap());
    let unix = target.host.starts_with("unix://");
    let kinds: &[StepKind] = if endpoint::is_ssh(&target.host) {
        StepKind::SSH
    } else {
        &StepKind::ALL
    };
    for &k in kinds {
        // A unix socket has no TLS layers to list.
        let wanted = !(unix && TLS_STEPS.contains(&k));
        if wanted && !p.steps.iter().any(|s| s.step == k) {
            p.steps.push(Step::new(k, StepState::Skip, "not reached"));
        }
    }
    p.steps.sort_by_key(|s| s.step);
    // The daemon refusing a client certificate the profile's own findings
    // already condemn (expired, wrong usage, wrong key) is their consequence:
    // one root cause, one finding.
    let condemned = p.findings.iter().any(|f| {
        matches!(
            f.code,
            Code::ClientCertExpired
                | Code::ClientCertBadUsage
                | Code::ClientCertNotYetValid
                | Code::KeyMismatch
        ) && f.severity == Severity::Error
    });
    if condemned {
        p.findings.retain(|f| f.code != Code::ClientCertRejected);
    }
    if unix {
        for s in p.steps.iter_mut().filter(|s| s.step == StepKind::Connect) {
            s.name = "connect";
        }
    }
    Report {
        name: target.name.clone(),
        endpoint: target.host.clone(),
        status: Status::from_findings(&p.findings),
        latency_ms: p.latency_ms,
        docker: p.docker,
        server_cert: p.server_cert,
        client_cert: p.client_cert,
        findings: p.findings,
        steps: p.steps,
        server_chain_der: p.server_chain_der,
        duration_secs: 0.0,
    }
}

/// Probe every target, at most `opts.concurrency` at once, and return the
/// reports in the targets' order. `progress(done, total)` is called as
/// probes finish.
pub async fn run_all(
    targets: Vec<Target>,
    opts: &Options,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> Vec<Report> {
    let total = targets.len();
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let progress = Arc::new(progress);
    let mut set = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for (i, t) in targets.iter().cloned().enumerate() {
        let sem = sem.clone();
        let o = opts.clone();
        let h = set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore never closed");
            (i, run_with(&t, &o).await)
        });
        ids.insert(h.id(), i);
    }
    let mut out: Vec<Option<Report>> = vec![None; total];
    let mut done = 0;
    while let Some(r) = set.join_next_with_id().await {
        done += 1;
        match r {
            Ok((_, (i, report))) => out[i] = Some(report),
            Err(e) => {
                if let Some(&i) = ids.get(&e.id()) {
                    let shared = Shared::default();
                    shared.push(Finding::error(
                        Code::ApiError,
                        format!("the probe crashed: {e}"),
                        "please report this as a dctx bug",
                    ));
                    out[i] = Some(finish(&targets[i], &shared));
                }
            }
        }
        progress(done, total);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| finish(&targets[i], &Shared::default())))
        .collect()
}

async fn probe(t: Target, sh: Shared, timeout: Duration, now: i64, warn_days: i64) {
    let (ep, tls) = match t.endpoint() {
        Ok(x) => x,
        Err(EndpointError::Scheme(scheme)) => {
            let msg = format!(
                "{scheme}:// endpoints are not probed by dctx (only tcp://, https://, http:// and unix://)"
            );
            sh.push(Finding::warning(
                Code::UnsupportedEndpoint,
                msg.clone(),
                format!(
                    "check it with the docker CLI instead: `docker --context {} version`",
                    t.name
                ),
            ));
            sh.step(Step::new(StepKind::Profile, StepState::Warn, msg));
            return;
        }
        Err(e) => {
            invalid_profile(&sh, format!("the endpoint {:?} is not usable: {e}", t.host));
            return;
        }
    };
    match ep {
        Endpoint::Unix(path) => probe_unix(&t, &sh, path.into(), timeout, now).await,
        Endpoint::Ssh { user, host, port } => {
            ssh::probe(&t, &sh, Dest { user, host, port }, timeout, now).await
        }
        Endpoint::Tcp { host, port, .. } => {
            let port = port.expect("read fills the port in");
            probe_tcp(&t, &sh, (&host, port, tls), timeout, now, warn_days).await
        }
    }
}

fn invalid_profile(sh: &Shared, msg: String) {
    sh.push(Finding::error(
        Code::InvalidProfile,
        msg.clone(),
        "re-import the profile's material: `dctx add NAME --ca ca.pem --cert cert.pem --key key.pem --replace`",
    ));
    sh.step(Step::new(StepKind::Profile, StepState::Fail, msg));
}

async fn probe_unix(
    t: &Target,
    sh: &Shared,
    path: std::path::PathBuf,
    timeout: Duration,
    now: i64,
) {
    let ctx = Ctx {
        name: &t.name,
        host: "docker",
        port: 0,
        now,
        skip_verify: false,
        timeout_secs: timeout.as_secs_f64(),
        // A unix socket has no certificates to expire.
        warn_days: 0,
    };
    sh.step(Step::new(
        StepKind::Profile,
        StepState::Ok,
        format!("unix socket {}", path.display()),
    ));
    sh.skip(&[StepKind::Resolve], "unix socket: no name to resolve");
    sh.phase.set(Phase::Connect);
    let stream = match tokio::net::UnixStream::connect(&path).await {
        Ok(s) => {
            sh.step(Step::new(
                StepKind::Connect,
                StepState::Ok,
                format!("connected to {}", path.display()),
            ));
            s
        }
        Err(e) => {
            let (code, msg, fix) = match e.kind() {
                std::io::ErrorKind::NotFound => (
                    Code::ConnectionRefused,
                    format!("there is no socket at {}", path.display()),
                    "start dockerd (`systemctl start docker`), or fix the socket path in the profile",
                ),
                std::io::ErrorKind::PermissionDenied => (
                    Code::ConnectFailed,
                    format!("permission denied on {}", path.display()),
                    "add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again)",
                ),
                std::io::ErrorKind::ConnectionRefused => (
                    Code::ConnectionRefused,
                    format!("nothing listens on {} (stale socket)", path.display()),
                    "start dockerd (`systemctl start docker`)",
                ),
                _ => (
                    Code::ConnectFailed,
                    format!("cannot connect to {}: {e}", path.display()),
                    "check the socket path and that dockerd runs",
                ),
            };
            sh.step(Step::new(StepKind::Connect, StepState::Fail, msg.clone()));
            sh.push(Finding::error(code, msg, fix));
            return;
        }
    };
    if !matches!(api_stream(sh, stream, "docker").await, Fast::Fallback) {
        return;
    }
    let obs = Observations::default();
    api_calls(sh, Dial::Unix(path), "docker", &ctx, &obs, None, timeout).await;
}

async fn resolve(sh: &Shared, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    sh.phase.set(Phase::Resolve);
    if let Ok(ip) = host.parse::<IpAddr>() {
        sh.step(Step::new(
            StepKind::Resolve,
            StepState::Ok,
            format!("{host} is an IP address"),
        ));
        return Some(vec![SocketAddr::new(ip, port)]);
    }
    let fail = |why: String| {
        let msg = format!("cannot resolve {host}: {why}");
        sh.step(Step::new(StepKind::Resolve, StepState::Fail, msg.clone()));
        sh.push(Finding::error(
            Code::DnsFailure,
            msg,
            format!(
                "check the spelling and your DNS (`getent hosts {host}`); add it to /etc/hosts, or use a name or IP address the server certificate holds"
            ),
        ));
    };
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let mut addrs: Vec<SocketAddr> = addrs.collect();
            addrs.dedup();
            if addrs.is_empty() {
                fail("no addresses".into());
                return None;
            }
            let list = addrs
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            sh.step(Step::new(
                StepKind::Resolve,
                StepState::Ok,
                format!("{host} → {list}"),
            ));
            Some(addrs)
        }
        Err(e) => {
            fail(e.to_string());
            None
        }
    }
}

async fn connect(
    sh: &Shared,
    addrs: &[SocketAddr],
    ctx: &Ctx<'_>,
    tls: bool,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    sh.phase.set(Phase::Connect);
    let mut last = None;
    for a in addrs {
        let t0 = Instant::now();
        match crate::conn::dial::tcp(a).await {
            Ok(s) => {
                sh.step(Step::new(
                    StepKind::Connect,
                    StepState::Ok,
                    format!("connected to {a} in {} ms", t0.elapsed().as_millis()),
                ));
                return Some((s, *a));
            }
            Err(e) => last = Some((e, *a)),
        }
    }
    let (e, a) = last?;
    let f = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        diagnose::connection_refused(ctx, a, tls)
    } else {
        Finding::error(
            Code::ConnectFailed,
            format!("cannot connect to {a}: {e}"),
            "check the network path to the host (routing, firewall, VPN)",
        )
    };
    sh.step(Step::new(
        StepKind::Connect,
        StepState::Fail,
        f.message.clone(),
    ));
    sh.push(f);
    None
}

/// A TCP probe, one method per phase; each returns what the next needs
/// (`None`: the phase failed and recorded why).
struct Probe<'a> {
    t: &'a Target,
    sh: &'a Shared,
    ctx: Ctx<'a>,
    timeout: Duration,
    host_header: String,
}

/// The TLS connection after a handshake, with what it revealed.
type TlsConn = tokio_rustls::client::TlsStream<tls::Sniff<tokio::net::TcpStream>>;

/// What the first request on the TLS connection left for the API phase.
struct FirstAnswer {
    /// The pipelined /version and /info answers still to read (healthy path).
    reader: Option<pipeline::Reader<TlsConn>>,
    ping: Option<pipeline::Answer>,
    sent_at: Instant,
}

async fn probe_tcp(
    t: &Target,
    sh: &Shared,
    (host, port, tls): (&str, u16, bool),
    timeout: Duration,
    now: i64,
    warn_days: i64,
) {
    let p = Probe {
        t,
        sh,
        ctx: Ctx {
            name: &t.name,
            host,
            port,
            now,
            skip_verify: tls && t.skip_verify,
            timeout_secs: timeout.as_secs_f64(),
            warn_days,
        },
        timeout,
        host_header: if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        },
    };
    let Some(material) = p.profile(tls) else {
        return;
    };
    let Some(addrs) = resolve(sh, host, port).await else {
        return;
    };
    let Some((tcp, addr)) = connect(sh, &addrs, &p.ctx, tls).await else {
        return;
    };
    let Some(m) = material else {
        return p.plain(tcp, addr).await;
    };
    let Some((stream, obs, sname)) = p.handshake(tcp, &m).await else {
        return;
    };
    let (requested, sent) = {
        let o = obs.lock().unwrap();
        (o.client_cert_requested, o.client_cert_sent)
    };
    let first = p.first_request(stream, &obs, &m).await;
    if sh.has_errors() {
        sh.skip(
            &[StepKind::Ping, StepKind::Version, StepKind::Info],
            "skipped: fix the errors above first",
        );
        return;
    }
    let ok = p.api(first, &m, addr, sname).await;
    if ok && !(requested && sent) {
        sh.push(diagnose::client_auth_not_required(&p.ctx, requested));
        // An error now, so the layer it belongs to fails too.
        sh.with(|p| {
            for s in p
                .steps
                .iter_mut()
                .filter(|s| s.step == StepKind::ClientCertRequest)
            {
                s.state = StepState::Fail;
                s.ok = false;
            }
        });
    }
}

impl Probe<'_> {
    /// The profile step: its TLS material (`Some(None)` for plain TCP), and
    /// what the client certificate shows before any I/O.
    fn profile(&self, tls: bool) -> Option<Option<Material>> {
        let (sh, ctx, now) = (self.sh, &self.ctx, self.ctx.now);
        let (host, port) = (ctx.host, ctx.port);
        let material = if tls {
            match tls::load_material(self.t) {
                Ok(m) => Some(m),
                Err(e) => {
                    invalid_profile(sh, e);
                    return None;
                }
            }
        } else {
            None
        };
        let mut profile = if tls {
            format!("tcp://{host}:{port} with TLS")
        } else {
            format!("tcp://{host}:{port} without TLS")
        };
        if let Some(m) = &material {
            if m.system_roots {
                profile.push_str(", server verified against the system roots");
            } else if let Some(ca) = m.ca.first() {
                profile.push_str(&format!(", CA {}", ca.subject));
            }
            match &m.client_info {
                Some(c) => {
                    let e = crate::output::expiry::Expiry::new(c.not_after, now);
                    profile.push_str(&format!(
                        ", client cert {} ({})",
                        c.display_name(),
                        if e.expired() {
                            e.short()
                        } else if now >= c.not_after {
                            "expired".into()
                        } else {
                            format!("{} days left", e.days_left())
                        }
                    ));
                    sh.with(|p| p.client_cert = Some(CertSummary::new(c, now)));
                    sh.extend(diagnose::client_local(c, &m.ca, m.key_mismatch, ctx));
                }
                None => profile.push_str(", no client cert"),
            }
            sh.extend(diagnose::ca_local(&m.ca, ctx));
            if ctx.skip_verify {
                sh.push(Finding::warning(
                    Code::SkipVerify,
                    "the profile skips server certificate verification: anyone on the path can impersonate the daemon",
                    format!(
                        "import the daemon's CA and drop skip-verify: `dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace`",
                        self.t.name
                    ),
                ));
            }
        }
        let profile_state = if sh.has_errors() {
            StepState::Fail
        } else {
            StepState::Ok
        };
        sh.step(Step::new(StepKind::Profile, profile_state, profile));
        Some(material)
    }

    /// A plain tcp:// profile: the API phase on the connection, and the
    /// plain-HTTP check (does the port speak TLS instead?).
    async fn plain(&self, tcp: tokio::net::TcpStream, addr: SocketAddr) {
        let (sh, ctx) = (self.sh, &self.ctx);
        sh.skip(TLS_STEPS, "plain tcp:// profile: no TLS");
        let fast = api_stream(sh, tcp, &self.host_header).await;
        let ok = match fast {
            Fast::Ok => true,
            Fast::Failed => false,
            Fast::Fallback => {
                let obs = Observations::default();
                let dial = Dial::addr(addr, None);
                api_calls(sh, dial, &self.host_header, ctx, &obs, None, self.timeout).await
            }
        };
        if ok {
            sh.push(diagnose::plaintext_endpoint(ctx));
        } else if matches!(fast, Fast::Fallback)
            && sh.with(|p| {
                p.findings
                    .iter()
                    .any(|f| matches!(f.code, Code::NotDocker | Code::ApiError))
            })
            && speaks_tls(sh, addr, ctx.host).await
        {
            sh.with(|p| {
                p.findings
                    .retain(|f| !matches!(f.code, Code::NotDocker | Code::ApiError))
            });
            sh.push(diagnose::tls_expected(ctx));
            sh.step(Step::new(
                StepKind::Ping,
                StepState::Fail,
                "the port speaks TLS, the profile plain HTTP",
            ));
        }
    }

    /// The handshake, verifying and recording at once: the verifier runs the
    /// real webpki verification and keeps the chain and its verdict, but lets
    /// the handshake go on, so a bad chain still shows what the server does
    /// with our client certificate.
    async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
        m: &Material,
    ) -> Option<(TlsConn, Observations, ServerName<'static>)> {
        let (sh, ctx, now) = (self.sh, &self.ctx, self.ctx.now);
        let sname = match tls::server_name(ctx.host) {
            Ok(n) => n,
            Err(e) => {
                invalid_profile(sh, e);
                return None;
            }
        };
        sh.phase.set(Phase::Handshake);
        let obs = Observations::default();
        let cfg = match tls::client_config(Some(m), VerifyMode::Diagnose, now, obs.clone()) {
            Ok(c) => c,
            Err(e) => {
                invalid_profile(sh, e);
                return None;
            }
        };
        let (sniffed, seen) = tls::Sniff::new(tcp);
        let hs = tokio_rustls::TlsConnector::from(cfg)
            .connect(sname.clone(), sniffed)
            .await;
        let server_findings = |o: &Observed| {
            // Kept for the compatibility lint (doctor) and the metrics.
            sh.with(|p| p.server_chain_der = o.chain.clone());
            let chain: Vec<crate::pki::CertInfo> = o
                .chain
                .iter()
                .filter_map(|d| crate::pki::CertInfo::from_der(d).ok())
                .collect();
            if let Some(leaf) = chain.first() {
                sh.with(|p| p.server_cert = Some(CertSummary::new(leaf, now)));
                let (fs, steps) = diagnose::server_cert(&chain, o.verify_error.as_ref(), m, ctx);
                sh.extend(fs);
                for s in steps {
                    sh.step(s);
                }
            }
        };
        let stream = match hs {
            Err(e) => {
                let o = obs.lock().unwrap();
                let sniff = seen.lock().unwrap().clone();
                let f = diagnose::handshake_failure(&e, &sniff, &o, m, ctx);
                server_findings(&o);
                let client_side =
                    matches!(f.code, Code::ClientCertRejected | Code::ClientCertMissing);
                if o.client_cert_requested {
                    let (fs, step) = diagnose::client_request(&o, m, ctx);
                    sh.extend(fs);
                    sh.step(step);
                }
                if client_side {
                    sh.step(Step::new(
                        StepKind::TlsHandshake,
                        StepState::Fail,
                        "the server aborted the handshake at client authentication",
                    ));
                    sh.step(Step::new(
                        StepKind::ClientCertAccepted,
                        StepState::Fail,
                        f.message.clone(),
                    ));
                } else {
                    sh.step(Step::new(
                        StepKind::TlsHandshake,
                        StepState::Fail,
                        f.message.clone(),
                    ));
                }
                // A v1 chain's own finding (server step) names the cause and the fix.
                let v1_known = o.chain.first().is_some_and(|d| diagnose::is_v1_der(d));
                if !(v1_known && f.code == Code::TlsError) {
                    sh.push(f);
                }
                return None;
            }
            Ok(s) => s,
        };
        let conn = stream.get_ref().1;
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        sh.step(Step::new(
            StepKind::TlsHandshake,
            StepState::Ok,
            format!("{version}, {suite}"),
        ));
        {
            let o = obs.lock().unwrap();
            server_findings(&o);
            let (fs, step) = diagnose::client_request(&o, m, ctx);
            sh.extend(fs);
            sh.step(step);
        }
        Some((stream, obs, sname))
    }

    /// A real request on the TLS connection: TLS 1.3 client-cert rejections
    /// and nginx's "400 No required SSL certificate" show up only here. When
    /// nothing is wrong so far (the chain verified), /version and /info ride
    /// along pipelined, so a healthy probe is one connection and ~3 RTT.
    async fn first_request(
        &self,
        mut stream: TlsConn,
        obs: &Observations,
        m: &Material,
    ) -> FirstAnswer {
        let (sh, ctx) = (self.sh, &self.ctx);
        sh.phase.set(Phase::Response);
        let healthy = !sh.has_errors();
        let sent_at = Instant::now();
        let mut reader = None;
        let first = if healthy {
            match pipeline::send(&mut stream, &self.host_header).await {
                Err(e) => Err(e),
                Ok(()) => {
                    let r = reader.insert(pipeline::Reader::new(stream));
                    r.next().await.map(|a| (a.status, a.text(), Some(a)))
                }
            }
        } else {
            // One request, `Connection: close`: the answer's words matter, not speed.
            let req = pipeline::requests(&self.host_header, &["/_ping"]);
            match stream.write_all(&req).await {
                Err(e) => Err(e),
                Ok(()) => pipeline::Reader::new(&mut stream)
                    .next()
                    .await
                    .map(|a| (a.status, a.text(), None)),
            }
        };
        let mut ping = None;
        let o = obs.lock().unwrap();
        let (state, msg) = match first {
            Err(e) => {
                let f = diagnose::first_read_failure(&e, &o, m, ctx);
                let msg = f.message.clone();
                sh.push(f);
                (StepState::Fail, msg)
            }
            Ok((status, body, answer)) => {
                ping = answer;
                if let Some(f) = diagnose::http_client_cert_answer(status, &body, &o, m, ctx) {
                    let msg = f.message.clone();
                    sh.push(f);
                    (StepState::Fail, msg)
                } else if !o.client_cert_requested {
                    (
                        StepState::Warn,
                        "the server answered without asking for a client certificate".into(),
                    )
                } else if o.client_cert_sent {
                    (
                        StepState::Ok,
                        format!("the server accepted it and answered HTTP {status}"),
                    )
                } else {
                    (
                        StepState::Warn,
                        format!("none sent; the server answered HTTP {status} anyway"),
                    )
                }
            }
        };
        sh.step(Step::new(StepKind::ClientCertAccepted, state, msg));
        FirstAnswer {
            reader,
            ping,
            sent_at,
        }
    }

    /// The API phase: the pipelined answers when the first request carried
    /// them, else (or when they were not plainly Docker's) a second,
    /// diagnosing connection.
    async fn api(
        &self,
        first: FirstAnswer,
        m: &Material,
        addr: SocketAddr,
        sname: ServerName<'static>,
    ) -> bool {
        let fast = match (first.reader, first.ping) {
            (Some(mut r), Some(ping)) => api_pipelined(self.sh, &mut r, ping, first.sent_at).await,
            _ => Fast::Fallback,
        };
        match fast {
            Fast::Ok => true,
            Fast::Failed => false,
            Fast::Fallback => {
                second_pass(
                    self.sh,
                    &self.ctx,
                    m,
                    addr,
                    sname,
                    &self.host_header,
                    self.timeout,
                )
                .await
            }
        }
    }
}

/// Pass 2, only when the first connection's answers were not plainly
/// Docker's: a fresh, strictly verifying connection through bollard, whose
/// errors get the full diagnosis.
async fn second_pass(
    sh: &Shared,
    ctx: &Ctx<'_>,
    m: &Material,
    addr: SocketAddr,
    sname: ServerName<'static>,
    host_header: &str,
    timeout: Duration,
) -> bool {
    let mode = if ctx.skip_verify {
        VerifyMode::Insecure
    } else {
        VerifyMode::Strict
    };
    let obs2 = Observations::default();
    let cfg = match tls::client_config(Some(m), mode, ctx.now, obs2.clone()) {
        Ok(c) => c,
        Err(e) => {
            invalid_profile(sh, e);
            return false;
        }
    };
    api_calls(
        sh,
        Dial::addr(
            addr,
            Some(Tls::Fixed {
                config: cfg,
                name: sname,
            }),
        ),
        host_header,
        ctx,
        &obs2,
        Some(m),
        timeout,
    )
    .await
}

/// Does the peer speak TLS? (For a plain tcp:// profile that got no Docker answer.)
async fn speaks_tls(sh: &Shared, addr: SocketAddr, host: &str) -> bool {
    sh.phase.set(Phase::Connect);
    let Ok(tcp) = crate::conn::dial::tcp(addr).await else {
        return false;
    };
    let Ok(name) = tls::server_name(host) else {
        return false;
    };
    let obs = Observations::default();
    let Ok(cfg) = tls::client_config(None, VerifyMode::Insecure, 0, obs.clone()) else {
        return false;
    };
    sh.phase.set(Phase::Handshake);
    let res = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await;
    let seen_cert = !obs.lock().unwrap().chain.is_empty();
    match res {
        Ok(_) => true,
        Err(e) => {
            seen_cert || matches!(tls::find_rustls(&e), Some(rustls::Error::AlertReceived(_)))
        }
    }
}

/// What the pipelined API phase on the first connection concluded.
enum Fast {
    /// Every answer was Docker's; steps and details are recorded.
    Ok,
    /// A failure was recorded that a second connection cannot refine.
    Failed,
    /// Something was off: rerun the API phase on a fresh connection through
    /// bollard, whose errors get the full diagnosis.
    Fallback,
}

/// The API phase on an established stream (plain TCP, a unix socket, or any
/// byte stream a transport hands over, e.g. an ssh `dial-stdio` child):
/// /_ping, /version and /info pipelined, one round trip. On
/// [`Fast::Fallback`] the caller runs [`api_calls`] on a fresh connection.
async fn api_stream<S: AsyncRead + AsyncWrite + Unpin>(
    sh: &Shared,
    mut stream: S,
    host_header: &str,
) -> Fast {
    sh.phase.set(Phase::Response);
    let t0 = Instant::now();
    if pipeline::send(&mut stream, host_header).await.is_err() {
        return Fast::Fallback;
    }
    let mut r = pipeline::Reader::new(stream);
    match r.next().await {
        Ok(ping) => api_pipelined(sh, &mut r, ping, t0).await,
        Err(_) => Fast::Fallback,
    }
}

fn fail_api(sh: &Shared, kind: StepKind, f: Finding) {
    sh.step(Step::new(kind, StepState::Fail, f.message.clone()));
    sh.push(f);
    for k in [StepKind::Ping, StepKind::Version, StepKind::Info] {
        if k > kind {
            sh.step(Step::new(k, StepState::Skip, "not reached"));
        }
    }
}

fn too_large(what: &str) -> Finding {
    diagnose::not_docker(format!(
        "{what} answered with more than {} KiB",
        pipeline::BODY_CAP / 1024
    ))
}

/// The pipelined answers after the first (/_ping, already read at `t0`'s
/// request). Records the same steps as [`api_calls`].
async fn api_pipelined<S: AsyncRead + Unpin>(
    sh: &Shared,
    r: &mut pipeline::Reader<S>,
    ping: pipeline::Answer,
    t0: Instant,
) -> Fast {
    if ping.too_large {
        fail_api(sh, StepKind::Ping, too_large("GET /_ping"));
        return Fast::Failed;
    }
    if !(ping.ok() && ping.text().trim() == "OK") {
        return Fast::Fallback;
    }
    let ms = t0.elapsed().as_millis() as u64;
    sh.step(Step::new(
        StepKind::Ping,
        StepState::Ok,
        format!("OK in {ms} ms"),
    ));
    let version = match r.next().await {
        Ok(a) if a.too_large => {
            fail_api(sh, StepKind::Version, too_large("GET /version"));
            return Fast::Failed;
        }
        Ok(a) if a.ok() => {
            match serde_json::from_slice::<bollard::models::SystemVersion>(&a.body) {
                Ok(v) if v.version.is_some() || v.api_version.is_some() => v,
                _ => return Fast::Fallback,
            }
        }
        _ => return Fast::Fallback,
    };
    let mut info = version_step(sh, version);
    let i = match r.next().await {
        Ok(a) if a.too_large => {
            fail_api(sh, StepKind::Info, too_large("GET /info"));
            return Fast::Failed;
        }
        Ok(a) if a.ok() => match serde_json::from_slice::<bollard::models::SystemInfo>(&a.body) {
            Ok(i) => i,
            Err(_) => return Fast::Fallback,
        },
        _ => return Fast::Fallback,
    };
    let detail = format!(
        "{} of {} containers running; {}",
        i.containers_running.unwrap_or(0),
        i.containers.unwrap_or(0),
        i.operating_system.as_deref().unwrap_or("unknown OS")
    );
    info.operating_system = i.operating_system;
    info.containers_running = i.containers_running;
    info.containers = i.containers;
    sh.with(|p| {
        p.latency_ms = Some(ms);
        p.docker = Some(info);
    });
    sh.step(Step::new(StepKind::Info, StepState::Ok, detail));
    Fast::Ok
}

/// /_ping, /version, /info through bollard. True when the daemon answered
/// like Docker.
async fn api_calls(
    sh: &Shared,
    dial: Dial,
    host_header: &str,
    ctx: &Ctx<'_>,
    obs: &Observations,
    m: Option<&Material>,
    timeout: Duration,
) -> bool {
    let docker = api::over_dial(dial, host_header, Some(sh.phase.watch()), timeout);
    api_calls_with(sh, &docker, ctx, obs, m).await
}

/// `api_calls` on a ready client (ssh:// brings its own stream).
async fn api_calls_with(
    sh: &Shared,
    docker: &bollard::Docker,
    ctx: &Ctx<'_>,
    obs: &Observations,
    m: Option<&Material>,
) -> bool {
    let fail = |kind: StepKind, f: Finding| {
        sh.step(Step::new(kind, StepState::Fail, f.message.clone()));
        sh.push(f);
        for k in [StepKind::Ping, StepKind::Version, StepKind::Info] {
            if k > kind {
                sh.step(Step::new(k, StepState::Skip, "not reached"));
            }
        }
    };
    let t0 = Instant::now();
    match docker.ping().await {
        Ok(body) if body.trim() == "OK" => {
            let ms = t0.elapsed().as_millis() as u64;
            sh.with(|p| p.latency_ms = Some(ms));
            sh.step(Step::new(
                StepKind::Ping,
                StepState::Ok,
                format!("OK in {ms} ms"),
            ));
        }
        Ok(body) => {
            let short = diagnose::clean_body(&body);
            fail(
                StepKind::Ping,
                diagnose::not_docker(format!("GET /_ping answered {short:?} instead of \"OK\"")),
            );
            return false;
        }
        Err(e) => {
            let o = obs.lock().unwrap();
            fail(
                StepKind::Ping,
                diagnose::api_failure(&e, "GET /_ping", &o, m, ctx),
            );
            return false;
        }
    }
    match docker.version().await {
        Ok(v) if v.version.is_some() || v.api_version.is_some() => {
            let info = version_step(sh, v);
            sh.with(|p| p.docker = Some(info));
        }
        Ok(_) => {
            fail(
                StepKind::Version,
                diagnose::not_docker("GET /version has no Version field".into()),
            );
            return false;
        }
        Err(e) => {
            let o = obs.lock().unwrap();
            fail(
                StepKind::Version,
                diagnose::api_failure(&e, "GET /version", &o, m, ctx),
            );
            return false;
        }
    }
    match docker.info().await {
        Ok(i) => {
            let detail = format!(
                "{} of {} containers running; {}",
                i.containers_running.unwrap_or(0),
                i.containers.unwrap_or(0),
                i.operating_system.as_deref().unwrap_or("unknown OS")
            );
            sh.with(|p| {
                if let Some(d) = p.docker.as_mut() {
                    d.operating_system = i.operating_system.clone();
                    d.containers_running = i.containers_running;
                    d.containers = i.containers;
                }
            });
            sh.step(Step::new(StepKind::Info, StepState::Ok, detail));
        }
        Err(e) => {
            let o = obs.lock().unwrap();
            let mut f = diagnose::api_failure(&e, "GET /info", &o, m, ctx);
            f.severity = Severity::Warning;
            sh.step(Step::new(
                StepKind::Info,
                StepState::Warn,
                f.message.clone(),
            ));
            sh.push(f);
        }
    }
    true
}

/// What GET /version says, recorded as the `version` step (both API paths).
fn version_step(sh: &Shared, v: bollard::models::SystemVersion) -> DockerInfo {
    let info = DockerInfo {
        version: v.version.unwrap_or_default(),
        api_version: v.api_version.unwrap_or_default(),
        os: v.os.unwrap_or_default(),
        arch: v.arch.unwrap_or_default(),
        ..Default::default()
    };
    sh.step(Step::new(
        StepKind::Version,
        StepState::Ok,
        format!(
            "Docker {} (API {}, {}/{})",
            info.version, info.api_version, info.os, info.arch
        ),
    ));
    info
}
