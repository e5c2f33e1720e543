//! Opt-in guardrails: which API calls `--read-only` and `--protect` refuse,
//! judged on the route dockerd would dispatch to (see [`crate::routes`]).

use crate::routes::{Class, Judged};

/// The guardrails switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Only the read allowlist passes, and never with an upgrade.
    pub read_only: bool,
    /// Destructive calls and tunnels are refused; attach and exec pass.
    pub protect: bool,
}

impl Policy {
    /// The flag that refuses the judged request, if any.
    pub fn refuses(&self, j: &Judged) -> Option<&'static str> {
        if self.read_only && j.class != Class::Read {
            return Some("--read-only");
        }
        if self.protect && matches!(j.class, Class::Destructive | Class::Tunnel) {
            return Some("--protect");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::judge;

    const P: Policy = Policy {
        read_only: false,
        protect: true,
    };
    const RO: Policy = Policy {
        read_only: true,
        protect: false,
    };

    fn refuses(p: Policy, method: &str, path: &str, upgrade: bool) -> Option<&'static str> {
        p.refuses(&judge(method, path, upgrade))
    }

    #[test]
    fn protect() {
        for (m, p) in [
            ("DELETE", "/v1.47/volumes/data"),
            ("DELETE", "/containers/abc"),
            ("POST", "/v1.41.0/volumes/prune"),
            ("POST", "/v1.41./containers/k2/stop"),
            ("POST", "/v1.24.0/containers/k1/restart"),
            ("POST", "/v1.47//containers/abc/kill/"),
            ("POST", "/grpc"),
            ("POST", "/session"),
        ] {
            assert_eq!(refuses(P, m, p, false), Some("--protect"), "{m} {p}");
        }
        assert_eq!(refuses(P, "POST", "/containers/create", false), None);
        assert_eq!(refuses(P, "POST", "/containers/abc/attach", true), None);
        assert_eq!(refuses(P, "POST", "/exec/e/start", true), None);
        assert_eq!(refuses(P, "GET", "/containers/c/attach/ws", true), None);
        assert_eq!(
            refuses(P, "POST", "/build", true),
            Some("--protect"),
            "an upgrade outside attach/exec"
        );
    }

    #[test]
    fn read_only() {
        assert_eq!(refuses(RO, "GET", "/v1.47/containers/json", false), None);
        assert_eq!(refuses(RO, "HEAD", "/_ping", false), None);
        for (m, p, up) in [
            ("POST", "/containers/create", false),
            ("DELETE", "/volumes/x", false),
            ("GET", "/containers/c/attach/ws", false),
            ("GET", "/v1.41.0/containers/c/attach/ws", true),
            ("GET", "/containers/json", true),
            ("POST", "/exec/e/start", false),
            ("GET", "/nonsense", false),
        ] {
            assert_eq!(refuses(RO, m, p, up), Some("--read-only"), "{m} {p}");
        }
    }
}
