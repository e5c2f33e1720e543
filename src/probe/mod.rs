//! Probing a daemon: steps and findings with stable codes, for `check`,
//! `doctor` and `metrics` (only they start a runtime).
//!
//! `probe` dispatches on the endpoint: unix:// ([`unix`]), ssh:// ([`ssh`]),
//! tcp:// and https:// ([`tcp`]), each a pipeline of phase functions that
//! return what the next needs; all of them write through one [`record`]er,
//! whose rules make the report. [`diagnose`] turns observations into
//! findings (pure: the model, pki and conn's TLS observations only). A TLS probe walks profile →
//! resolve → connect → handshake → first request → API on ONE connection:
//! - the handshake's verifier (`tls`) runs the real webpki verification and
//!   records the chain and its verdict but lets the handshake go on, so a bad
//!   chain still shows what the server does with our client certificate;
//! - the first request (/_ping) is where TLS 1.3 client-cert rejections
//!   arrive; when nothing is wrong so far, /version and /info ride along
//!   pipelined (`pipeline`): a healthy probe is one connection, ~3 RTT;
//! - only when those answers are not plainly Docker's does a second,
//!   strictly verifying connection through bollard ([`api::calls`]) get the
//!   full diagnosis.
//!
//! A rejected chain is an error, and errors skip the API steps: a probe is
//! never "ok" over an unverified chain unless the profile skips
//! verification. Plain tcp:// gets the API phase and a "speaks TLS?" check.
//!
//! Every probe has one hard deadline covering all of it; the phase it was
//! in when the deadline hit is reported.

pub mod api;
pub mod diagnose;
pub mod explain;
pub mod finding;
pub mod record;
pub mod report;
pub mod ssh;
pub mod tcp;
pub mod unix;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use finding::{Code, Finding, Phase, Severity};
pub use record::Recorder;
pub use report::{CertSummary, DockerInfo, Report, Status, Step, StepKind, StepState};

use crate::conn::Target;
use crate::conn::endpoint::{self, Endpoint, EndpointError};
use crate::conn::ssh::Dest;

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
            warn_days: i64::from(crate::text::expiry::DEFAULT_WARN_DAYS),
        }
    }
}

/// Probe one target within `timeout`; never fails, never prints.
pub async fn run(target: &Target, timeout: Duration, now: i64) -> Report {
    run_with(target, &Options::new(timeout, now)).await
}

/// `run` with every option (the expiry warning threshold too).
pub async fn run_with(target: &Target, opts: &Options) -> Report {
    let mut rec = Recorder::default();
    let started = Instant::now();
    // The probe borrows the recorder; cancelled at the deadline, it gives
    // back what was learnt so far.
    let res = tokio::time::timeout(opts.timeout, probe(target, &mut rec, opts)).await;
    if res.is_err() {
        timed_out(target, &mut rec, opts.timeout, started);
    }
    let mut report = rec.finish(target);
    report.duration_secs = started.elapsed().as_secs_f64();
    report
}

/// The deadline hit: the step of the phase it hit in fails with `timeout`.
fn timed_out(target: &Target, rec: &mut Recorder, timeout: Duration, started: Instant) {
    rec.drain();
    let phase = rec.phase.get();
    let is_ssh = endpoint::is_ssh(&target.host);
    let mut f = if is_ssh {
        ssh::timeout(phase, timeout.as_secs_f64())
    } else {
        Finding::timeout(phase, timeout.as_secs_f64())
    };
    f.message = format!("{} (after {} ms)", f.message, started.elapsed().as_millis());
    let kind = match phase {
        _ if is_ssh => ssh::timeout_step(phase, rec),
        Phase::Resolve => StepKind::Resolve,
        Phase::Connect => StepKind::Connect,
        Phase::Handshake | Phase::SshHandshake => StepKind::TlsHandshake,
        Phase::Response => rec
            .first_missing(&[
                StepKind::ClientCertAccepted,
                StepKind::Ping,
                StepKind::Version,
                StepKind::Info,
            ])
            .unwrap_or(StepKind::Info),
    };
    rec.fail(kind, f);
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
                    let mut rec = Recorder::default();
                    rec.push(Finding::error(
                        Code::ApiError,
                        format!("the probe crashed: {e}"),
                        "please report this as a dctx bug",
                    ));
                    out[i] = Some(rec.finish(&targets[i]));
                }
            }
        }
        progress(done, total);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| Recorder::default().finish(&targets[i])))
        .collect()
}

/// Dispatch on the endpoint.
async fn probe(t: &Target, rec: &mut Recorder, opts: &Options) {
    let (timeout, now) = (opts.timeout, opts.now);
    let (ep, tls) = match t.endpoint() {
        Ok(x) => x,
        Err(EndpointError::Scheme(scheme)) => {
            let msg = format!(
                "{scheme}:// endpoints are not probed by dctx (only tcp://, https://, http:// and unix://)"
            );
            rec.push(Finding::warning(
                Code::UnsupportedEndpoint,
                msg.clone(),
                format!(
                    "check it with the docker CLI instead: `docker --context {} version`",
                    t.name
                ),
            ));
            rec.step(Step::new(StepKind::Profile, StepState::Warn, msg));
            return;
        }
        Err(e) => {
            rec.invalid_profile(format!("the endpoint {:?} is not usable: {e}", t.host));
            return;
        }
    };
    match ep {
        Endpoint::Unix(path) => unix::probe(t, rec, path.into(), timeout, now).await,
        Endpoint::Ssh { user, host, port } => {
            ssh::probe(t, rec, Dest { user, host, port }, timeout, now).await
        }
        Endpoint::Tcp { host, port, .. } => {
            let port = port.expect("read fills the port in");
            tcp::probe(t, rec, (&host, port, tls), timeout, now, opts.warn_days).await
        }
    }
}
