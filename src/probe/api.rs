//! The API phase: /_ping, /version and /info, either pipelined on the
//! connection a probe already has (one round trip), or through bollard on a
//! fresh connection whose errors get the full diagnosis.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};

use super::diagnose::{self, Ctx};
use super::finding::{Finding, Phase, Severity};
use super::record::Recorder;
use super::report::{DockerInfo, Step, StepKind, StepState};
use crate::conn::dial::Dial;
use crate::conn::http as pipeline;
use crate::conn::tls::{Material, Observations};

/// What the pipelined API phase on the first connection concluded.
pub enum Fast {
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
/// [`Fast::Fallback`] the caller runs [`calls`] on a fresh connection.
pub async fn stream<S: AsyncRead + AsyncWrite + Unpin>(
    rec: &mut Recorder,
    mut stream: S,
    host_header: &str,
) -> Fast {
    rec.phase.set(Phase::Response);
    let t0 = Instant::now();
    if pipeline::send(&mut stream, host_header).await.is_err() {
        return Fast::Fallback;
    }
    let mut r = pipeline::Reader::new(stream);
    match r.next().await {
        Ok(ping) => pipelined(rec, &mut r, ping, t0).await,
        Err(_) => Fast::Fallback,
    }
}

fn too_large(what: &str) -> Finding {
    diagnose::not_docker(format!(
        "{what} answered with more than {} KiB",
        pipeline::BODY_CAP / 1024
    ))
}

/// The pipelined answers after the first (/_ping, already read at `t0`'s
/// request). Records the same steps as [`calls`].
pub async fn pipelined<S: AsyncRead + Unpin>(
    rec: &mut Recorder,
    r: &mut pipeline::Reader<S>,
    ping: pipeline::Answer,
    t0: Instant,
) -> Fast {
    if ping.too_large {
        rec.fail_api(StepKind::Ping, too_large("GET /_ping"));
        return Fast::Failed;
    }
    if !(ping.ok() && ping.text().trim() == "OK") {
        return Fast::Fallback;
    }
    let ms = t0.elapsed().as_millis() as u64;
    ping_step(rec, ms);
    let version = match r.next().await {
        Ok(a) if a.too_large => {
            rec.fail_api(StepKind::Version, too_large("GET /version"));
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
    let info = version_step(rec, version);
    let i = match r.next().await {
        Ok(a) if a.too_large => {
            rec.fail_api(StepKind::Info, too_large("GET /info"));
            return Fast::Failed;
        }
        Ok(a) if a.ok() => match serde_json::from_slice::<bollard::models::SystemInfo>(&a.body) {
            Ok(i) => i,
            Err(_) => return Fast::Fallback,
        },
        _ => return Fast::Fallback,
    };
    rec.latency(ms);
    rec.docker(info);
    info_step(rec, &i);
    Fast::Ok
}

/// /_ping, /version, /info through bollard. True when the daemon answered
/// like Docker.
pub async fn calls(
    rec: &mut Recorder,
    dial: Dial,
    host_header: &str,
    ctx: &Ctx<'_>,
    obs: &Observations,
    m: Option<&Material>,
    timeout: Duration,
) -> bool {
    let docker =
        crate::conn::docker::over_dial(dial, host_header, Some(rec.phase.watch()), timeout);
    calls_with(rec, &docker, ctx, obs, m).await
}

/// `calls` on a ready client (ssh:// brings its own stream).
pub async fn calls_with(
    rec: &mut Recorder,
    docker: &bollard::Docker,
    ctx: &Ctx<'_>,
    obs: &Observations,
    m: Option<&Material>,
) -> bool {
    let diagnosed = |e: bollard::errors::Error, what: &str| {
        let o = obs.lock().unwrap();
        diagnose::api_failure(&e, what, &o, m, ctx)
    };
    let t0 = Instant::now();
    match docker.ping().await {
        Ok(body) if body.trim() == "OK" => {
            let ms = t0.elapsed().as_millis() as u64;
            rec.latency(ms);
            ping_step(rec, ms);
        }
        Ok(body) => {
            let short = diagnose::clean_body(&body);
            let why = format!("GET /_ping answered {short:?} instead of \"OK\"");
            rec.fail_api(StepKind::Ping, diagnose::not_docker(why));
            return false;
        }
        Err(e) => {
            rec.fail_api(StepKind::Ping, diagnosed(e, "GET /_ping"));
            return false;
        }
    }
    match docker.version().await {
        Ok(v) if v.version.is_some() || v.api_version.is_some() => {
            let info = version_step(rec, v);
            rec.docker(info);
        }
        Ok(_) => {
            let why = "GET /version has no Version field".into();
            rec.fail_api(StepKind::Version, diagnose::not_docker(why));
            return false;
        }
        Err(e) => {
            rec.fail_api(StepKind::Version, diagnosed(e, "GET /version"));
            return false;
        }
    }
    match docker.info().await {
        Ok(i) => info_step(rec, &i),
        Err(e) => {
            // The daemon answered as Docker: a failing /info is a warning.
            let mut f = diagnosed(e, "GET /info");
            f.severity = Severity::Warning;
            rec.step(Step::new(
                StepKind::Info,
                StepState::Warn,
                f.message.clone(),
            ));
            rec.push(f);
        }
    }
    true
}

fn ping_step(rec: &mut Recorder, ms: u64) {
    rec.step(Step::new(
        StepKind::Ping,
        StepState::Ok,
        format!("OK in {ms} ms"),
    ));
}

/// What GET /info adds, recorded as the `info` step (both API paths).
fn info_step(rec: &mut Recorder, i: &bollard::models::SystemInfo) {
    let detail = format!(
        "{} of {} containers running; {}",
        i.containers_running.unwrap_or(0),
        i.containers.unwrap_or(0),
        i.operating_system.as_deref().unwrap_or("unknown OS")
    );
    rec.docker_info(i);
    rec.step(Step::new(StepKind::Info, StepState::Ok, detail));
}

/// What GET /version says, recorded as the `version` step (both API paths).
fn version_step(rec: &mut Recorder, v: bollard::models::SystemVersion) -> DockerInfo {
    let info = DockerInfo {
        version: v.version.unwrap_or_default(),
        api_version: v.api_version.unwrap_or_default(),
        os: v.os.unwrap_or_default(),
        arch: v.arch.unwrap_or_default(),
        ..Default::default()
    };
    rec.step(Step::new(
        StepKind::Version,
        StepState::Ok,
        format!(
            "Docker {} (API {}, {}/{})",
            info.version, info.api_version, info.os, info.arch
        ),
    ));
    info
}
