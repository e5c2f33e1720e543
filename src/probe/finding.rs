//! Findings: what the probe concluded, as data with a stable code, a
//! severity, a plain-words message and the concrete fix.

use serde::Serialize;

/// The fix registry, in one place: every finding code, its stable name, and
/// whether its fix is a runnable command sequence (`Commands`: doctor prints
/// `fix_commands`, and tests/it/advice.rs runs each one against a real daemon)
/// or plain advice (`Advice`: a decision, a person to ask, something to look
/// at). Adding a code here is the whole registration.
macro_rules! codes {
    ($($(#[$doc:meta])* $v:ident => $s:literal, $kind:ident;)*) => {
        crate::text::words! {
            /// Stable finding codes (the JSON `code` and what `doctor` prints).
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub enum Code {
                $($(#[$doc])* $v => $s,)*
            }
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = Code::VARIANTS;

            /// What kind of fix findings with this code carry.
            pub fn fix_kind(self) -> FixKind {
                match self {
                    $(Code::$v => FixKind::$kind,)*
                }
            }
        }
    };
}

crate::text::words! {
    /// Whether a code's fix is something to run or something to decide.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FixKind {
        /// A command sequence, printed unwrapped and in `fix_commands`.
        Commands => "commands",
        /// Plain advice: no command dctx could print would be right for everyone.
        Advice => "advice",
    }
}

codes! {
    /// The profile itself is unusable (unparsable host URL, CA, cert or key).
    InvalidProfile => "invalid-profile", Advice;
    /// An endpoint scheme the probe does not speak (npipe://, fd://).
    UnsupportedEndpoint => "unsupported-endpoint", Advice;
    DnsFailure => "dns-failure", Advice;
    ConnectionRefused => "connection-refused", Commands;
    /// TCP connect failed for another reason (unreachable, permission denied…).
    ConnectFailed => "connect-failed", Advice;
    Timeout => "timeout", Advice;
    PlainHttp => "plain-http", Commands;
    TlsExpected => "tls-expected", Commands;
    /// The TLS handshake failed for a reason none of the other codes explain.
    TlsError => "tls-error", Advice;
    UnknownCa => "unknown-ca", Advice;
    NameMismatch => "name-mismatch", Commands;
    CnOnly => "cn-only", Commands;
    ServerCertExpired => "server-cert-expired", Commands;
    ServerCertNotYetValid => "server-cert-not-yet-valid", Advice;
    ServerCertExpiring => "server-cert-expiring", Commands;
    ServerCertBadUsage => "server-cert-bad-usage", Commands;
    ClientCertRejected => "client-cert-rejected", Advice;
    ClientCertMissing => "client-cert-missing", Commands;
    ClientCertExpired => "client-cert-expired", Commands;
    /// The client certificate's notBefore is in the future (often clock skew).
    ClientCertNotYetValid => "client-cert-not-yet-valid", Advice;
    ClientCertExpiring => "client-cert-expiring", Commands;
    ClientCertBadUsage => "client-cert-bad-usage", Commands;
    /// The profile's CA certificate has expired (nothing it signed verifies).
    CaCertExpired => "ca-cert-expired", Advice;
    /// The profile's CA certificate expires within the warning threshold.
    CaCertExpiring => "ca-cert-expiring", Advice;
    ClientCaNotAccepted => "client-ca-not-accepted", Advice;
    KeyMismatch => "key-mismatch", Advice;
    ClientAuthNotRequired => "client-auth-not-required", Commands;
    PlaintextEndpoint => "plaintext-endpoint", Advice;
    SkipVerify => "skip-verify", Advice;
    ApiError => "api-error", Advice;
    NotDocker => "not-docker", Advice;
    /// dctx's record and Docker's context store disagree; what docker would
    /// use was probed (see `dctx show NAME`).
    Drift => "drift", Advice;
    /// ssh:// endpoint, but no `ssh` client on this machine's PATH.
    SshClientMissing => "ssh-client-missing", Advice;
    /// ssh:// host key not in known_hosts (batch mode cannot ask to accept it).
    SshHostKeyUnknown => "ssh-host-key-unknown", Advice;
    /// ssh:// host key differs from the one in known_hosts (possible MITM).
    SshHostKeyChanged => "ssh-host-key-changed", Advice;
    /// The ssh server refused every identity offered.
    SshAuthRefused => "ssh-auth-refused", Advice;
    /// No `docker` on the PATH of the remote ssh session.
    SshNoDocker => "ssh-no-docker", Advice;
    /// The remote user may not open the Docker daemon socket.
    SshSocketDenied => "ssh-socket-denied", Advice;
    /// The remote `docker system dial-stdio` finds no daemon behind its socket.
    SshDaemonNotRunning => "ssh-daemon-not-running", Advice;
    /// The remote docker CLI is too old for `docker system dial-stdio` (< 18.09).
    SshDialStdioUnsupported => "ssh-dial-stdio-unsupported", Advice;
    /// ssh failed for a reason none of the other ssh codes explain (stderr quoted).
    SshError => "ssh-error", Advice;
    /// The client certificate is revoked (the front says so, or a CRL lists it).
    ClientCertRevoked => "client-cert-revoked", Advice;
    /// A TLS front before dockerd answers 403 to this identity.
    ForbiddenByFront => "forbidden-by-front", Advice;
    /// An enrolled profile is past its renewal point and was not renewed.
    RenewalDue => "renewal-due", Advice;
    /// The last renewal of an enrolled profile failed (its reason is kept).
    RenewalFailed => "renewal-failed", Advice;
}

crate::text::words! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Severity {
        Info => "info",
        Warning => "warning",
        Error => "error",
    }
}

crate::text::words! {
    /// The phase a probe was in when its deadline hit (for `timeout`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Phase {
        Resolve => "resolve",
        Connect => "connect",
        Handshake => "handshake",
        Response => "response",
        /// ssh:// only: key exchange, host key check and authentication.
        SshHandshake => "ssh-handshake",
    }
}

/// One conclusion about a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The fix in words (for a command fix: what the commands do, where to
    /// run them and the daemon-side step after them).
    pub fix: String,
    /// One runnable sequence, in order, each command shell-quoted and exactly
    /// as `doctor` prints it (only codes whose `fix_kind` is `commands`).
    pub fix_commands: Vec<String>,
    /// Another route to the same end, never mixed into `fix_commands`.
    pub fix_alternatives: Vec<String>,
    /// The directory the commands assume as their working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_dir: Option<String>,
    /// Only for `timeout`: which phase ran out of time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

/// A command fix: words, where to run it, and the commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fix {
    pub text: String,
    pub dir: Option<String>,
    pub commands: Vec<String>,
    pub alternatives: Vec<String>,
}

/// `word` quoted for a POSIX shell (single quotes, only when needed).
pub fn sh_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// One shell command from its words, each quoted.
pub fn sh_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| sh_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command line split into its words at unquoted spaces (the quoting is
/// `sh_quote`'s), so a printer can break between words with `\`. By hand:
/// shell-words/shlex unquote, and the printed words must stay quoted.
pub fn sh_words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !quoted => escaped = true,
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if i > start {
                    out.push(&line[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
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
            fix_commands: Vec::new(),
            fix_alternatives: Vec::new(),
            fix_dir: None,
            phase: None,
        }
    }

    /// A finding whose fix is a command sequence.
    pub fn with_fix(code: Code, severity: Severity, message: impl Into<String>, fix: Fix) -> Self {
        debug_assert_eq!(code.fix_kind(), FixKind::Commands, "{code}: registry");
        let mut f = Self::new(code, severity, message, fix.text);
        f.fix_commands = fix.commands;
        f.fix_alternatives = fix.alternatives;
        f.fix_dir = fix.dir;
        f
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_parse_back() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(*c));
        }
        // The serde name is the registry name, for every word of the model.
        use crate::text::assert_one_spelling;
        assert_one_spelling(Code::ALL, Code::as_str);
        assert_one_spelling(Severity::VARIANTS, Severity::as_str);
        assert_one_spelling(Phase::VARIANTS, Phase::as_str);
        assert_one_spelling(FixKind::VARIANTS, FixKind::as_str);
    }

    /// The README's `timeout` row names every phase, in the JSON's spelling.
    #[test]
    fn readme_names_every_timeout_phase() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let from = "`phase` says where:";
        let at = readme.find(from).expect("the timeout row") + from.len();
        let row = &readme[at..at + readme[at..].find('|').unwrap()];
        let mut named: Vec<&str> = row.split('`').skip(1).step_by(2).collect();
        let mut phases: Vec<&str> = Phase::VARIANTS.iter().map(|p| p.as_str()).collect();
        named.sort();
        phases.sort();
        assert_eq!(named, phases);
    }

    #[test]
    fn quoting_round_trips_through_the_word_splitter() {
        let words = ["printf", "a=b\\nc d", "it's", "-days", "364"];
        let line = sh_line(&words);
        assert_eq!(line, r"printf 'a=b\nc d' 'it'\''s' -days 364");
        assert_eq!(
            sh_words(&line),
            ["printf", r"'a=b\nc d'", r"'it'\''s'", "-days", "364"]
        );
    }
}
