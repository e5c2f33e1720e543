//! The result of probing one daemon: plain data, rendered by `output/`.

use serde::Serialize;

use super::finding::{Code, Finding, Severity};
use crate::pki::CertInfo;

crate::text::words! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Status {
        Ok => "ok",
        Warn => "warn",
        Fail => "fail",
        /// docker's `default` with nothing configured (no DOCKER_HOST, no local
        /// socket) and not asked for by name: nothing to be healthy or not.
        Absent => "absent",
    }
}

impl Status {
    /// Errors → fail, warnings → warn, otherwise ok.
    pub fn from_findings(findings: &[Finding]) -> Self {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Error) => Status::Fail,
            Some(Severity::Warning) => Status::Warn,
            _ => Status::Ok,
        }
    }
}

/// What the daemon says about itself (GET /version, GET /info).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DockerInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
    /// From /info: `OperatingSystem` (e.g. "Debian GNU/Linux 12 (bookworm)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers_running: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<i64>,
}

/// The certificate facts shown in tables and JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub eku: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
}

impl CertSummary {
    pub fn new(c: &CertInfo, now: i64) -> Self {
        CertSummary {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sans: c.sans.clone(),
            eku: c.eku.clone(),
            not_before: c.not_before_rfc3339(),
            not_after: c.not_after_rfc3339(),
            days_left: c.days_left(now),
        }
    }
}

crate::text::words! {
    /// The layers `doctor` walks, in order (the JSON `step`; `title` is
    /// what people read).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum StepKind {
        Profile => "profile",
        Resolve => "resolve",
        Connect => "connect",
        /// ssh:// only: key exchange and the host key vs known_hosts.
        SshHandshake => "ssh-handshake",
        /// ssh:// only: public-key authentication.
        SshAuth => "ssh-auth",
        /// ssh:// only: the remote `docker system dial-stdio` reaching the daemon.
        DialStdio => "dial-stdio",
        TlsHandshake => "tls-handshake",
        ServerChain => "server-chain",
        HostName => "host-name",
        Validity => "validity",
        ServerEku => "server-eku",
        ClientCertRequest => "client-cert-request",
        ClientCertAccepted => "client-cert-accepted",
        Ping => "ping",
        Version => "version",
        Info => "info",
    }
}

impl StepKind {
    pub const ALL: [StepKind; 13] = [
        StepKind::Profile,
        StepKind::Resolve,
        StepKind::Connect,
        StepKind::TlsHandshake,
        StepKind::ServerChain,
        StepKind::HostName,
        StepKind::Validity,
        StepKind::ServerEku,
        StepKind::ClientCertRequest,
        StepKind::ClientCertAccepted,
        StepKind::Ping,
        StepKind::Version,
        StepKind::Info,
    ];

    /// The layers of an ssh:// probe (no TLS ones).
    pub const SSH: &'static [StepKind] = &[
        StepKind::Profile,
        StepKind::Resolve,
        StepKind::Connect,
        StepKind::SshHandshake,
        StepKind::SshAuth,
        StepKind::DialStdio,
        StepKind::Ping,
        StepKind::Version,
        StepKind::Info,
    ];

    /// The TLS layers: handshake through "client cert accepted".
    pub const TLS: &'static [StepKind] = {
        let (_, rest) = Self::ALL.split_at(3);
        rest.split_at(7).0
    };

    /// Human title for `doctor`.
    pub fn title(self) -> &'static str {
        match self {
            StepKind::Profile => "profile",
            StepKind::Resolve => "name resolution",
            StepKind::Connect => "TCP connect",
            StepKind::SshHandshake => "ssh host key",
            StepKind::SshAuth => "ssh authentication",
            StepKind::DialStdio => "remote dial-stdio",
            StepKind::TlsHandshake => "TLS handshake",
            StepKind::ServerChain => "server chain vs CA",
            StepKind::HostName => "host name vs SANs",
            StepKind::Validity => "validity dates",
            StepKind::ServerEku => "server EKU",
            StepKind::ClientCertRequest => "client cert requested",
            StepKind::ClientCertAccepted => "client cert accepted",
            StepKind::Ping => "GET /_ping",
            StepKind::Version => "GET /version",
            StepKind::Info => "GET /info",
        }
    }

    /// The step a finding belongs to, honouring a timeout's phase.
    pub fn for_finding(f: &Finding) -> StepKind {
        match (f.code, f.phase) {
            (Code::Timeout, Some(super::finding::Phase::Resolve)) => StepKind::Resolve,
            (Code::Timeout, Some(super::finding::Phase::Handshake)) => StepKind::TlsHandshake,
            (Code::Timeout, Some(super::finding::Phase::Response)) => StepKind::Ping,
            (Code::Timeout, Some(super::finding::Phase::SshHandshake)) => StepKind::SshHandshake,
            (code, _) => StepKind::of(code),
        }
    }

    /// The step a finding code belongs to (doctor prints each fix under its step).
    pub fn of(code: Code) -> StepKind {
        match code {
            Code::InvalidProfile | Code::UnsupportedEndpoint | Code::SkipVerify | Code::Drift => {
                StepKind::Profile
            }
            Code::KeyMismatch
            | Code::ClientCertExpired
            | Code::ClientCertNotYetValid
            | Code::ClientCertExpiring
            | Code::ClientCertBadUsage
            | Code::CaCertExpired
            | Code::CaCertExpiring
            | Code::RenewalDue
            | Code::RenewalFailed => StepKind::Profile,
            Code::DnsFailure => StepKind::Resolve,
            Code::ConnectionRefused | Code::ConnectFailed | Code::PlaintextEndpoint => {
                StepKind::Connect
            }
            Code::Timeout => StepKind::Connect,
            Code::PlainHttp | Code::TlsError => StepKind::TlsHandshake,
            Code::TlsExpected => StepKind::Ping,
            Code::UnknownCa => StepKind::ServerChain,
            Code::NameMismatch | Code::CnOnly => StepKind::HostName,
            Code::ServerCertExpired | Code::ServerCertNotYetValid | Code::ServerCertExpiring => {
                StepKind::Validity
            }
            Code::ServerCertBadUsage => StepKind::ServerEku,
            Code::ClientCaNotAccepted | Code::ClientAuthNotRequired => StepKind::ClientCertRequest,
            Code::ClientCertMissing | Code::ClientCertRejected => StepKind::ClientCertAccepted,
            // A front (nginx) refuses these after the handshake, at the first request.
            Code::ClientCertRevoked | Code::ForbiddenByFront => StepKind::Ping,
            Code::ApiError | Code::NotDocker => StepKind::Ping,
            Code::SshClientMissing => StepKind::Profile,
            Code::SshHostKeyUnknown | Code::SshHostKeyChanged | Code::SshError => {
                StepKind::SshHandshake
            }
            Code::SshAuthRefused => StepKind::SshAuth,
            Code::SshNoDocker
            | Code::SshSocketDenied
            | Code::SshDaemonNotRunning
            | Code::SshDialStdioUnsupported => StepKind::DialStdio,
        }
    }
}

crate::text::words! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum StepState {
        Ok => "ok",
        Warn => "warn",
        Fail => "fail",
        /// Not applicable (unix socket: no TLS) or not reached.
        Skip => "skip",
    }
}

/// One layer as `doctor` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: StepKind,
    pub name: &'static str,
    pub ok: bool,
    pub state: StepState,
    pub detail: String,
}

impl Step {
    pub fn new(step: StepKind, state: StepState, detail: impl Into<String>) -> Self {
        Step {
            step,
            name: step.title(),
            ok: matches!(state, StepState::Ok | StepState::Warn),
            state,
            detail: detail.into(),
        }
    }
}

/// Everything known about one daemon after probing it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub endpoint: String,
    pub status: Status,
    /// Round trip of GET /_ping (new connection, handshake included), ms.
    pub latency_ms: Option<u64>,
    pub docker: Option<DockerInfo>,
    pub server_cert: Option<CertSummary>,
    pub client_cert: Option<CertSummary>,
    pub findings: Vec<Finding>,
    pub steps: Vec<Step>,
    /// The DER chain the server presented (leaf first), for the client-compatibility lint.
    #[serde(skip)]
    pub server_chain_der: Vec<Vec<u8>>,
    /// Wall time of the whole probe, seconds (for `dctx_probe_duration_seconds`).
    #[serde(skip)]
    pub duration_secs: f64,
}

impl Report {
    /// A target that could not even be probed (unreadable record, missing
    /// keyring entry): one failing row, with every step skipped.
    pub fn unprobed(name: &str, endpoint: &str, message: String, fix: String) -> Report {
        let kinds: &[StepKind] = if crate::conn::endpoint::is_ssh(endpoint) {
            StepKind::SSH
        } else {
            &StepKind::ALL
        };
        let mut steps: Vec<Step> = kinds
            .iter()
            .map(|k| Step::new(*k, StepState::Skip, "not reached"))
            .collect();
        steps[0] = Step::new(StepKind::Profile, StepState::Fail, message.clone());
        Report {
            name: name.to_string(),
            endpoint: endpoint.to_string(),
            status: Status::Fail,
            latency_ms: None,
            docker: None,
            server_cert: None,
            client_cert: None,
            findings: vec![Finding::error(Code::InvalidProfile, message, fix)],
            steps,
            server_chain_der: Vec::new(),
            duration_secs: 0.0,
        }
    }

    /// Add findings found outside the probe (drift) and settle the status.
    pub fn add_findings(&mut self, fs: impl IntoIterator<Item = Finding>) {
        for f in fs {
            if !self.has(f.code) {
                if let Some(step) = self
                    .steps
                    .iter_mut()
                    .find(|s| s.step == StepKind::for_finding(&f))
                    && step.state == StepState::Ok
                {
                    step.state = if f.severity == Severity::Error {
                        StepState::Fail
                    } else {
                        StepState::Warn
                    };
                    step.detail = format!("{}; {}", step.detail, f.message);
                }
                self.findings.push(f);
            }
        }
        self.status = Status::from_findings(&self.findings);
    }

    /// The first finding worth showing in a one-line summary (errors first).
    pub fn first_finding(&self) -> Option<&Finding> {
        [Severity::Error, Severity::Warning, Severity::Info]
            .iter()
            .find_map(|s| self.findings.iter().find(|f| f.severity == *s))
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    pub fn finding(&self, code: Code) -> Option<&Finding> {
        self.findings.iter().find(|f| f.code == code)
    }

    pub fn step(&self, kind: StepKind) -> Option<&Step> {
        self.steps.iter().find(|s| s.step == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spells_statuses_and_steps_as_as_str_does() {
        use crate::text::assert_one_spelling;
        assert_one_spelling(Status::VARIANTS, Status::as_str);
        assert_one_spelling(StepKind::VARIANTS, StepKind::as_str);
        assert_one_spelling(StepState::VARIANTS, StepState::as_str);
        // Titles are one per step too (doctor's lines, the JSON `name`).
        let titles: std::collections::HashSet<_> =
            StepKind::VARIANTS.iter().map(|k| k.title()).collect();
        assert_eq!(titles.len(), StepKind::VARIANTS.len());
    }

    /// docs/reference.md names every step and step state in the JSON's
    /// spelling, and no other.
    #[test]
    fn the_reference_lists_the_steps_and_states() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md"))
                .expect("docs/reference.md");
        let words = |from: &str, to: &str| -> Vec<String> {
            let at = doc.find(from).unwrap_or_else(|| panic!("no {from:?}")) + from.len();
            let end = at + doc[at..].find(to).unwrap_or_else(|| panic!("no {to:?}"));
            let mut w: Vec<String> = doc[at..end]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            w.sort();
            w
        };
        let sorted = |v: Vec<&str>| {
            let mut v: Vec<String> = v.into_iter().map(String::from).collect();
            v.sort();
            v
        };
        assert_eq!(
            words("`steps[].state` is", ";"),
            sorted(StepState::VARIANTS.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            words("`steps[].step` is one of", "instead of"),
            sorted(StepKind::VARIANTS.iter().map(|s| s.as_str()).collect())
        );
    }
}
