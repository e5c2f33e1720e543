//! A unix:// probe: connect to the socket, then the API phase.

use std::time::Duration;

use super::api::{self, Fast};
use super::diagnose::Ctx;
use super::finding::{Code, Finding, Phase};
use super::record::Recorder;
use super::report::{Step, StepKind, StepState};
use crate::conn::Target;
use crate::conn::dial::Dial;
use crate::conn::tls::Observations;

pub async fn probe(
    t: &Target,
    rec: &mut Recorder,
    path: std::path::PathBuf,
    timeout: Duration,
    now: i64,
) {
    let ctx = Ctx::no_tls(&t.name, "docker", 0, now, timeout.as_secs_f64());
    rec.step(Step::new(
        StepKind::Profile,
        StepState::Ok,
        format!("unix socket {}", path.display()),
    ));
    rec.skip(&[StepKind::Resolve], "unix socket: no name to resolve");
    rec.phase.set(Phase::Connect);
    let stream = match tokio::net::UnixStream::connect(&path).await {
        Ok(s) => {
            rec.step(Step::new(
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
            rec.step(Step::new(StepKind::Connect, StepState::Fail, msg.clone()));
            rec.push(Finding::error(code, msg, fix));
            return;
        }
    };
    if !matches!(api::stream(rec, stream, "docker").await, Fast::Fallback) {
        return;
    }
    let obs = Observations::default();
    api::calls(rec, Dial::Unix(path), "docker", &ctx, &obs, None, timeout).await;
}
