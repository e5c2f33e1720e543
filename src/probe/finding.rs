//! Findings: what the probe concluded, as data with a stable code, a
//! severity, a plain-words message and the concrete fix.

use serde::Serialize;

/// Stable finding codes (the JSON `code` and what `doctor` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The profile itself is unusable (unparsable host URL, CA, cert or key).
    InvalidProfile,
    /// An endpoint scheme the probe does not speak (npipe://, fd://).
    UnsupportedEndpoint,
    DnsFailure,
    ConnectionRefused,
    /// TCP connect failed for another reason (unreachable, permission denied…).
    ConnectFailed,
    Timeout,
    PlainHttp,
    TlsExpected,
    /// The TLS handshake failed for a reason none of the other codes explain.
    TlsError,
    UnknownCa,
    NameMismatch,
    CnOnly,
    ServerCertExpired,
    ServerCertNotYetValid,
    ServerCertExpiring,
    ServerCertBadUsage,
    ClientCertRejected,
    ClientCertMissing,
    ClientCertExpired,
    /// The client certificate's notBefore is in the future (often clock skew).
    ClientCertNotYetValid,
    ClientCertExpiring,
    ClientCertBadUsage,
    /// The profile's CA certificate has expired (nothing it signed verifies).
    CaCertExpired,
    /// The profile's CA certificate expires within the warning threshold.
    CaCertExpiring,
    ClientCaNotAccepted,
    KeyMismatch,
    ClientAuthNotRequired,
    PlaintextEndpoint,
    SkipVerify,
    ApiError,
    NotDocker,
    /// dctx's record and Docker's context store disagree; what docker would
    /// use was probed (see `dctx show NAME`).
    Drift,
    /// ssh:// endpoint, but no `ssh` client on this machine's PATH.
    SshClientMissing,
    /// ssh:// host key not in known_hosts (batch mode cannot ask to accept it).
    SshHostKeyUnknown,
    /// ssh:// host key differs from the one in known_hosts (possible MITM).
    SshHostKeyChanged,
    /// The ssh server refused every identity offered.
    SshAuthRefused,
    /// No `docker` on the PATH of the remote ssh session.
    SshNoDocker,
    /// The remote user may not open the Docker daemon socket.
    SshSocketDenied,
    /// The remote `docker system dial-stdio` finds no daemon behind its socket.
    SshDaemonNotRunning,
    /// The remote docker CLI is too old for `docker system dial-stdio` (< 18.09).
    SshDialStdioUnsupported,
    /// ssh failed for a reason none of the other ssh codes explain (stderr quoted).
    SshError,
    /// An enrolled profile is past its renewal point and was not renewed.
    RenewalDue,
    /// The last renewal of an enrolled profile failed (its reason is kept).
    RenewalFailed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidProfile => "invalid-profile",
            Code::UnsupportedEndpoint => "unsupported-endpoint",
            Code::DnsFailure => "dns-failure",
            Code::ConnectionRefused => "connection-refused",
            Code::ConnectFailed => "connect-failed",
            Code::Timeout => "timeout",
            Code::PlainHttp => "plain-http",
            Code::TlsExpected => "tls-expected",
            Code::TlsError => "tls-error",
            Code::UnknownCa => "unknown-ca",
            Code::NameMismatch => "name-mismatch",
            Code::CnOnly => "cn-only",
            Code::ServerCertExpired => "server-cert-expired",
            Code::ServerCertNotYetValid => "server-cert-not-yet-valid",
            Code::ServerCertExpiring => "server-cert-expiring",
            Code::ServerCertBadUsage => "server-cert-bad-usage",
            Code::ClientCertRejected => "client-cert-rejected",
            Code::ClientCertMissing => "client-cert-missing",
            Code::ClientCertExpired => "client-cert-expired",
            Code::ClientCertNotYetValid => "client-cert-not-yet-valid",
            Code::ClientCertExpiring => "client-cert-expiring",
            Code::ClientCertBadUsage => "client-cert-bad-usage",
            Code::CaCertExpired => "ca-cert-expired",
            Code::CaCertExpiring => "ca-cert-expiring",
            Code::ClientCaNotAccepted => "client-ca-not-accepted",
            Code::KeyMismatch => "key-mismatch",
            Code::ClientAuthNotRequired => "client-auth-not-required",
            Code::PlaintextEndpoint => "plaintext-endpoint",
            Code::SkipVerify => "skip-verify",
            Code::ApiError => "api-error",
            Code::NotDocker => "not-docker",
            Code::Drift => "drift",
            Code::SshClientMissing => "ssh-client-missing",
            Code::SshHostKeyUnknown => "ssh-host-key-unknown",
            Code::SshHostKeyChanged => "ssh-host-key-changed",
            Code::SshAuthRefused => "ssh-auth-refused",
            Code::SshNoDocker => "ssh-no-docker",
            Code::SshSocketDenied => "ssh-socket-denied",
            Code::SshDaemonNotRunning => "ssh-daemon-not-running",
            Code::SshDialStdioUnsupported => "ssh-dial-stdio-unsupported",
            Code::SshError => "ssh-error",
            Code::RenewalDue => "renewal-due",
            Code::RenewalFailed => "renewal-failed",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The phase a probe was in when its deadline hit (for `timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Resolve,
    Connect,
    Handshake,
    Response,
    /// ssh:// only: key exchange, host key check and authentication.
    #[serde(rename = "ssh-handshake")]
    SshHandshake,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Handshake => "handshake",
            Phase::Response => "response",
            Phase::SshHandshake => "ssh-handshake",
        }
    }
}

/// One conclusion about a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub fix: String,
    /// Only for `timeout`: which phase ran out of time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

impl Finding {
    pub fn new(
        code: Code,
        severity: Severity,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            fix: fix.into(),
            phase: None,
        }
    }

    pub fn error(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message, fix)
    }

    pub fn warning(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message, fix)
    }

    pub fn info(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message, fix)
    }

    pub fn timeout(phase: Phase, secs: f64) -> Self {
        let (what, fix) = match phase {
            Phase::Resolve => (
                "resolving the host name",
                "check the DNS server (`getent hosts <host>`), or use an IP address the server certificate holds",
            ),
            Phase::Connect => (
                "connecting (no TCP answer: a firewall silently dropping packets, or the host is down)",
                "check that the daemon host is up and that a firewall allows the port (`nc -vz <host> <port>`)",
            ),
            Phase::Handshake => (
                "during the TLS handshake (the peer accepted the connection but never completed TLS)",
                "something that is not a TLS dockerd holds the port, or it is overloaded; check what listens there (`ss -ltnp` on the host) and the daemon's -H/--tls flags",
            ),
            Phase::Response => (
                "waiting for the API response",
                "the daemon accepted the connection but does not answer; check `journalctl -u docker` on the host, or raise --timeout",
            ),
            Phase::SshHandshake => (
                "during the ssh handshake (the peer accepted the connection but never completed ssh key exchange and authentication)",
                "something that is not an sshd holds the port, or sshd is overloaded (MaxStartups); check what listens there (`ss -ltnp` on the host)",
            ),
        };
        let mut f = Finding::error(
            Code::Timeout,
            format!("no answer within {secs} s: timed out {what}"),
            fix,
        );
        f.phase = Some(phase);
        f
    }
}
