//! Opt-in guardrails: which API calls `--read-only` and `--protect` refuse.
//! Matching is on the API path with any `/vX.Y` prefix stripped, after
//! percent-decoding and dot-segment removal (what dockerd's router sees).

/// The guardrails switched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Only GET/HEAD (and `/_ping`) pass.
    pub read_only: bool,
    /// Destructive calls are refused (see [`destructive`]).
    pub protect: bool,
}

impl Policy {
    /// The flag that refuses `method path`, if any.
    pub fn refuses(&self, method: &str, path: &str) -> Option<&'static str> {
        let segs = segments(path);
        if self.read_only
            && !matches!(method, "GET" | "HEAD")
            && segs.iter().map(String::as_str).ne(["_ping"])
        {
            return Some("--read-only");
        }
        if self.protect && destructive(method, &segs) {
            return Some("--protect");
        }
        None
    }
}

/// `/v1.47/containers/x/json` → `/containers/x/json` (query dropped).
pub fn api_path(path: &str) -> String {
    format!("/{}", segments(path).join("/"))
}

/// Decoded, normalised segments with the version prefix removed.
fn segments(path: &str) -> Vec<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for raw in percent_decode(path).split('/') {
        match raw {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    if out.first().is_some_and(|s| is_version(s)) {
        out.remove(0);
    }
    out
}

fn is_version(s: &str) -> bool {
    let Some(v) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = v.split('.');
    let num =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    num(parts.next()) && num(parts.next()) && parts.next().is_none()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// What `--protect` refuses (keep the README list in step):
/// every DELETE (containers, images, volumes, networks, plugins, services,
/// secrets, configs, nodes); POST `/{containers,images,volumes,networks,build}/prune`;
/// POST `/containers/{id}/{kill,stop,restart}`; POST `/swarm/leave`.
fn destructive(method: &str, segs: &[String]) -> bool {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    matches!(
        (method, s.as_slice()),
        ("DELETE", _)
            | ("POST", [_, "prune"])
            | ("POST", ["containers", _, "kill" | "stop" | "restart"])
            | ("POST", ["swarm", "leave"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy {
        read_only: false,
        protect: true,
    };
    const RO: Policy = Policy {
        read_only: true,
        protect: false,
    };

    #[test]
    fn protect() {
        assert_eq!(
            P.refuses("DELETE", "/v1.47/volumes/data"),
            Some("--protect")
        );
        assert_eq!(
            P.refuses("DELETE", "/containers/abc?force=1"),
            Some("--protect")
        );
        assert_eq!(
            P.refuses("DELETE", "/images/library/busybox:1"),
            Some("--protect")
        );
        assert_eq!(P.refuses("POST", "/v1.41/volumes/prune"), Some("--protect"));
        assert_eq!(
            P.refuses("POST", "/containers/abc/kill?signal=9"),
            Some("--protect")
        );
        // Tricks that dockerd's router would still route to kill.
        assert_eq!(
            P.refuses("POST", "/v1.47//containers/abc/kill/"),
            Some("--protect")
        );
        assert_eq!(
            P.refuses("POST", "/containers/abc/%6bill"),
            Some("--protect")
        );
        assert_eq!(
            P.refuses("POST", "/x/../containers/abc/kill"),
            Some("--protect")
        );
        assert_eq!(P.refuses("POST", "/containers/create"), None);
        assert_eq!(P.refuses("POST", "/containers/abc/start"), None);
        assert_eq!(P.refuses("GET", "/containers/json"), None);
        assert_eq!(P.refuses("POST", "/volumes/create"), None);
    }

    #[test]
    fn read_only() {
        assert_eq!(RO.refuses("GET", "/v1.47/containers/json"), None);
        assert_eq!(RO.refuses("HEAD", "/_ping"), None);
        assert_eq!(RO.refuses("POST", "/_ping"), None);
        assert_eq!(
            RO.refuses("POST", "/containers/create"),
            Some("--read-only")
        );
        assert_eq!(RO.refuses("DELETE", "/volumes/x"), Some("--read-only"));
    }

    #[test]
    fn paths() {
        assert_eq!(api_path("/v1.47/volumes/data?x=1"), "/volumes/data");
        assert_eq!(api_path("/vx/volumes"), "/vx/volumes");
        assert_eq!(api_path("/_ping"), "/_ping");
    }
}
