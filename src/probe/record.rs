//! The recorder: what a probe has learnt so far, and the rules for adding
//! to it (the first finding of a code wins; a later record of a step
//! replaces it; a failed API step skips the ones after it). The probe's
//! phases borrow it mutably; it is the caller's, so it survives the deadline
//! cancelling the probe. ssh's log reader, a task of its own, sends its
//! steps over a channel the recorder drains (also after a cancel).

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;

use super::finding::{Code, Finding, Phase, Severity};
use super::report::{CertSummary, DockerInfo, Report, Status, Step, StepKind, StepState};
use crate::conn::dial::{Stage, Watch};
use crate::conn::{Endpoint, Target, endpoint};

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
    pub fn watch(&self) -> Watch {
        let cell = self.clone();
        Arc::new(move |s| {
            cell.set(match s {
                Stage::Connect => Phase::Connect,
                Stage::Handshake => Phase::Handshake,
                Stage::Response => Phase::Response,
            })
        })
    }
}

#[derive(Default)]
struct State {
    steps: Vec<Step>,
    findings: Vec<Finding>,
    docker: Option<DockerInfo>,
    server_cert: Option<CertSummary>,
    client_cert: Option<CertSummary>,
    latency_ms: Option<u64>,
    server_chain_der: Vec<Vec<u8>>,
}

/// The API steps, in order (a failed one skips those after it).
const API_STEPS: [StepKind; 3] = [StepKind::Ping, StepKind::Version, StepKind::Info];

#[derive(Default)]
pub struct Recorder {
    state: State,
    pub phase: PhaseCell,
    /// Steps another task reports (ssh's log reader), not yet applied.
    pending: Option<UnboundedReceiver<Step>>,
}

impl Recorder {
    fn with<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state)
    }

    /// Steps will also come from `rx` (applied by [`Recorder::drain`]).
    pub fn attach(&mut self, rx: UnboundedReceiver<Step>) {
        self.pending = Some(rx);
    }

    /// Apply the steps reported so far.
    pub fn drain(&mut self) {
        let mut got = Vec::new();
        if let Some(rx) = self.pending.as_mut() {
            while let Ok(s) = rx.try_recv() {
                got.push(s);
            }
        }
        for s in got {
            self.step(s);
        }
    }

    /// Add a finding (one per code: the first one wins).
    pub fn push(&mut self, f: Finding) {
        self.with(|s| {
            if !s.findings.iter().any(|g| g.code == f.code) {
                s.findings.push(f);
            }
        })
    }

    pub fn extend(&mut self, fs: impl IntoIterator<Item = Finding>) {
        for f in fs {
            self.push(f);
        }
    }

    /// Record a step (a later record of the same step replaces it).
    pub fn step(&mut self, step: Step) {
        self.with(|s| {
            s.steps.retain(|x| x.step != step.step);
            s.steps.push(step);
        })
    }

    pub fn skip(&mut self, kinds: &[StepKind], why: &str) {
        for k in kinds {
            self.step(Step::new(*k, StepState::Skip, why));
        }
    }

    /// `kind` failed with `f`: the step says the finding's message.
    pub fn fail(&mut self, kind: StepKind, f: Finding) {
        self.step(Step::new(kind, StepState::Fail, f.message.clone()));
        self.push(f);
    }

    /// An API step failed: the later API steps are not reached.
    pub fn fail_api(&mut self, kind: StepKind, f: Finding) {
        self.fail(kind, f);
        for k in API_STEPS.into_iter().filter(|k| *k > kind) {
            self.step(Step::new(k, StepState::Skip, "not reached"));
        }
    }

    /// The profile cannot be used as it is.
    pub fn invalid_profile(&mut self, msg: String) {
        self.push(Finding::error(
            Code::InvalidProfile,
            msg.clone(),
            "re-import the profile's material: `dctx add NAME --ca ca.pem --cert cert.pem --key key.pem --replace`",
        ));
        self.step(Step::new(StepKind::Profile, StepState::Fail, msg));
    }

    /// A step recorded earlier turns out failed after all.
    pub fn mark_failed(&mut self, kind: StepKind) {
        self.with(|s| {
            for st in s.steps.iter_mut().filter(|st| st.step == kind) {
                st.state = StepState::Fail;
                st.ok = false;
            }
        })
    }

    pub fn has_errors(&self) -> bool {
        let s = &self.state;
        s.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn has_step(&self, kind: StepKind) -> bool {
        self.state.steps.iter().any(|st| st.step == kind)
    }

    /// The first of `kinds` not recorded yet.
    pub fn first_missing(&self, kinds: &[StepKind]) -> Option<StepKind> {
        kinds.iter().copied().find(|k| !self.has_step(*k))
    }

    pub fn has_finding(&self, codes: &[Code]) -> bool {
        self.state.findings.iter().any(|f| codes.contains(&f.code))
    }

    /// Findings a later observation explains better.
    pub fn withdraw(&mut self, codes: &[Code]) {
        self.with(|s| s.findings.retain(|f| !codes.contains(&f.code)))
    }

    pub fn latency(&mut self, ms: u64) {
        self.with(|s| s.latency_ms = Some(ms))
    }

    pub fn docker(&mut self, info: DockerInfo) {
        self.with(|s| s.docker = Some(info))
    }

    /// What GET /info adds to what GET /version said.
    pub fn docker_info(&mut self, i: &bollard::models::SystemInfo) {
        self.with(|s| {
            if let Some(d) = s.docker.as_mut() {
                d.operating_system = i.operating_system.clone();
                d.containers_running = i.containers_running;
                d.containers = i.containers;
            }
        })
    }

    pub fn server_chain(&mut self, der: Vec<Vec<u8>>) {
        self.with(|s| s.server_chain_der = der)
    }

    pub fn server_cert(&mut self, c: CertSummary) {
        self.with(|s| s.server_cert = Some(c))
    }

    pub fn client_cert(&mut self, c: CertSummary) {
        self.with(|s| s.client_cert = Some(c))
    }

    /// The report: every step listed (unreached ones skipped), one finding
    /// per root cause.
    pub fn finish(mut self, target: &Target) -> Report {
        self.drain();
        let mut p = self.state;
        let unix = matches!(target.endpoint(), Ok((Endpoint::Unix(_), _)));
        let kinds: &[StepKind] = if endpoint::is_ssh(&target.host) {
            StepKind::SSH
        } else {
            &StepKind::ALL
        };
        for &k in kinds {
            // A unix socket has no TLS layers to list.
            let wanted = !(unix && StepKind::TLS.contains(&k));
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
}
