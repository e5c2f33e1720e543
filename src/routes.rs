//! The Docker API's routes as dockerd's own router sees them, classified
//! once: the proxy's guardrails judge requests with [`judge`], and the same
//! read-only allowlist renders as regexes ([`Route::regex`]) for fronts
//! such as an nginx `map`.
//!
//! dockerd (moby `api/server`, gorilla/mux) registers every route twice,
//! as `/v{version:[0-9.]+}/PATH` and as `/PATH`, and matches the
//! percent-decoded path: `/v1.41.0/…`, `/v1.41./…` and `/v1.24.0/…` all
//! route. A judged request is reduced to a canonical path (decoded once,
//! empty and dot segments removed, no trailing slash), and that canonical
//! path, re-encoded, is what the proxy forwards: whatever the daemon acts
//! on is exactly what was judged.

/// What a route does to the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Reads state: a GET/HEAD route that neither upgrades nor hijacks.
    Read,
    /// Changes state (also: any route not in the table).
    Write,
    /// Deletes, prunes or stops things (what `--protect` refuses).
    Destructive,
    /// The connection becomes a container's stdio: attach, exec start,
    /// the websocket attach.
    Hijack,
    /// A protocol the guard cannot see into rides the connection:
    /// BuildKit's `/grpc` and `/session`, or an upgrade on any other route.
    Tunnel,
}

/// One route of dockerd's router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// moby's template: `{name:.*}` and `{id:.+}` match one or more of any
    /// character (slashes too: image names have them), `{id}` one segment.
    pub path: &'static str,
    pub class: Class,
}

const fn r(method: &'static str, path: &'static str, class: Class) -> Route {
    Route {
        method,
        path,
        class,
    }
}

use Class::{Destructive as D, Hijack as H, Read as R, Tunnel as T, Write as W};

/// Every route of dockerd from v20.10.27 to moby's main branch of 2026-08
/// (`api/server/router/*`, later `daemon/server/router/*`; the debug routes
/// included, and 20.10's `POST /containers/{name}/copy`).
pub const ROUTES: &[Route] = &[
    // system
    r("GET", "/_ping", R),
    r("HEAD", "/_ping", R),
    r("GET", "/events", R),
    r("GET", "/info", R),
    r("GET", "/version", R),
    r("GET", "/system/df", R),
    r("POST", "/auth", W),
    // containers
    r("HEAD", "/containers/{name:.*}/archive", R),
    r("GET", "/containers/json", R),
    r("GET", "/containers/{name:.*}/export", R),
    r("GET", "/containers/{name:.*}/changes", R),
    r("GET", "/containers/{name:.*}/json", R),
    r("GET", "/containers/{name:.*}/top", R),
    r("GET", "/containers/{name:.*}/logs", R),
    r("GET", "/containers/{name:.*}/stats", R),
    r("GET", "/containers/{name:.*}/attach/ws", H),
    r("GET", "/exec/{id:.*}/json", R),
    r("GET", "/containers/{name:.*}/archive", R),
    r("POST", "/containers/create", W),
    r("POST", "/containers/{name:.*}/kill", D),
    r("POST", "/containers/{name:.*}/pause", W),
    r("POST", "/containers/{name:.*}/unpause", W),
    r("POST", "/containers/{name:.*}/restart", D),
    r("POST", "/containers/{name:.*}/start", W),
    r("POST", "/containers/{name:.*}/stop", D),
    r("POST", "/containers/{name:.*}/wait", W),
    r("POST", "/containers/{name:.*}/resize", W),
    r("POST", "/containers/{name:.*}/attach", H),
    r("POST", "/containers/{name:.*}/copy", W),
    r("POST", "/containers/{name:.*}/exec", W),
    r("POST", "/exec/{name:.*}/start", H),
    r("POST", "/exec/{name:.*}/resize", W),
    r("POST", "/containers/{name:.*}/rename", W),
    r("POST", "/containers/{name:.*}/update", W),
    r("POST", "/containers/prune", D),
    r("POST", "/commit", W),
    r("PUT", "/containers/{name:.*}/archive", W),
    r("DELETE", "/containers/{name:.*}", D),
    // checkpoints (experimental)
    r("GET", "/containers/{name:.*}/checkpoints", R),
    r("POST", "/containers/{name:.*}/checkpoints", W),
    r("DELETE", "/containers/{name}/checkpoints/{checkpoint}", D),
    // images
    r("GET", "/images/json", R),
    r("GET", "/images/search", R),
    r("GET", "/images/get", R),
    r("GET", "/images/{name:.*}/get", R),
    r("GET", "/images/{name:.*}/history", R),
    r("GET", "/images/{name:.*}/json", R),
    r("GET", "/images/{name:.*}/attestations", R),
    r("POST", "/images/load", W),
    r("POST", "/images/create", W),
    r("POST", "/images/{name:.*}/push", W),
    r("POST", "/images/{name:.*}/tag", W),
    r("POST", "/images/prune", D),
    r("DELETE", "/images/{name:.*}", D),
    r("GET", "/distribution/{name:.*}/json", R),
    // volumes
    r("GET", "/volumes", R),
    r("GET", "/volumes/{name:.*}", R),
    r("POST", "/volumes/create", W),
    r("POST", "/volumes/prune", D),
    r("PUT", "/volumes/{name:.*}", W),
    r("DELETE", "/volumes/{name:.*}", D),
    // networks
    r("GET", "/networks", R),
    r("GET", "/networks/", R),
    r("GET", "/networks/{id:.+}", R),
    r("POST", "/networks/create", W),
    r("POST", "/networks/{id:.*}/connect", W),
    r("POST", "/networks/{id:.*}/disconnect", W),
    r("POST", "/networks/prune", D),
    r("DELETE", "/networks/{id:.*}", D),
    // build, BuildKit
    r("POST", "/build", W),
    r("POST", "/build/prune", D),
    r("POST", "/build/cancel", W),
    r("POST", "/session", T),
    r("POST", "/grpc", T),
    // swarm
    r("POST", "/swarm/init", W),
    r("POST", "/swarm/join", W),
    r("POST", "/swarm/leave", D),
    r("GET", "/swarm", R),
    r("GET", "/swarm/unlockkey", R),
    r("POST", "/swarm/update", W),
    r("POST", "/swarm/unlock", W),
    r("GET", "/services", R),
    r("GET", "/services/{id}", R),
    r("POST", "/services/create", W),
    r("POST", "/services/{id}/update", W),
    r("DELETE", "/services/{id}", D),
    r("GET", "/services/{id}/logs", R),
    r("GET", "/nodes", R),
    r("GET", "/nodes/{id}", R),
    r("DELETE", "/nodes/{id}", D),
    r("POST", "/nodes/{id}/update", W),
    r("GET", "/tasks", R),
    r("GET", "/tasks/{id}", R),
    r("GET", "/tasks/{id}/logs", R),
    r("GET", "/secrets", R),
    r("POST", "/secrets/create", W),
    r("DELETE", "/secrets/{id}", D),
    r("GET", "/secrets/{id}", R),
    r("POST", "/secrets/{id}/update", W),
    r("GET", "/configs", R),
    r("POST", "/configs/create", W),
    r("DELETE", "/configs/{id}", D),
    r("GET", "/configs/{id}", R),
    r("POST", "/configs/{id}/update", W),
    // plugins
    r("GET", "/plugins", R),
    r("GET", "/plugins/{name:.*}/json", R),
    r("GET", "/plugins/privileges", R),
    r("DELETE", "/plugins/{name:.*}", D),
    r("POST", "/plugins/{name:.*}/enable", W),
    r("POST", "/plugins/{name:.*}/disable", W),
    r("POST", "/plugins/pull", W),
    r("POST", "/plugins/{name:.*}/push", W),
    r("POST", "/plugins/{name:.*}/upgrade", W),
    r("POST", "/plugins/{name:.*}/set", W),
    r("POST", "/plugins/create", W),
    // debug (daemon in debug mode)
    r("GET", "/debug/vars", R),
    r("GET", "/debug/pprof/", R),
    r("GET", "/debug/pprof/cmdline", R),
    r("GET", "/debug/pprof/profile", R),
    r("GET", "/debug/pprof/symbol", R),
    r("GET", "/debug/pprof/trace", R),
    r("GET", "/debug/pprof/{name}", R),
];

/// The read-only allowlist: the routes `--read-only` lets through (and only
/// without an upgrade request). A front that renders it must also refuse
/// any request carrying `Upgrade` or `Connection: upgrade`.
pub fn read_only_allowlist() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|r| r.class == Class::Read)
}

/// The regex that matches a version prefix as dockerd's router does.
pub const VERSION_PREFIX_REGEX: &str = "(?:/v[0-9.]+)?";

impl Route {
    /// An anchored (PCRE / Rust regex) pattern for this route's path in every
    /// form dockerd routes: unversioned and `/v{[0-9.]+}`-prefixed. It
    /// matches a decoded, normalised path (nginx's `$uri`).
    pub fn regex(&self) -> String {
        let mut out = format!("^{VERSION_PREFIX_REGEX}");
        for tok in tokens(self.path) {
            match tok {
                Tok::Lit(s) => {
                    for c in s.chars() {
                        if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                            out.push(c);
                        } else {
                            out.push('\\');
                            out.push(c);
                        }
                    }
                }
                Tok::Any => out.push_str(".+"),
                Tok::Seg => out.push_str("[^/]+"),
            }
        }
        out.push('$');
        out
    }

    /// Whether this route's template matches a canonical, unversioned path.
    fn matches(&self, path: &str) -> bool {
        matches(&tokens(self.path), path.as_bytes())
    }
}

/// The read-only allowlist as (method, path regex) pairs, for `map` rules.
pub fn read_only_rules() -> Vec<(&'static str, String)> {
    read_only_allowlist()
        .map(|r| (r.method, r.regex()))
        .collect()
}

enum Tok<'a> {
    Lit(&'a str),
    /// `{x:.*}` / `{x:.+}`: one or more of any character.
    Any,
    /// `{x}`: one or more characters other than `/`.
    Seg,
}

fn tokens(template: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Tok::Lit(&rest[..open]));
        }
        let close = rest[open..].find('}').expect("template braces") + open;
        let var = &rest[open + 1..close];
        out.push(if var.contains(':') {
            Tok::Any
        } else {
            Tok::Seg
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Tok::Lit(rest));
    }
    out
}

fn matches(toks: &[Tok<'_>], s: &[u8]) -> bool {
    match toks.split_first() {
        None => s.is_empty(),
        Some((Tok::Lit(l), rest)) => s.starts_with(l.as_bytes()) && matches(rest, &s[l.len()..]),
        // The common tails in O(n): `{x:.*}` last, or followed by the last literal.
        Some((Tok::Any, [])) => !s.is_empty(),
        Some((Tok::Any, [Tok::Lit(l)])) => s.len() > l.len() && s.ends_with(l.as_bytes()),
        Some((Tok::Any, rest)) => (1..=s.len()).any(|n| matches(rest, &s[n..])),
        Some((Tok::Seg, rest)) => (1..=s.len())
            .take_while(|&n| s[n - 1] != b'/')
            .any(|n| matches(rest, &s[n..])),
    }
}

/// A request as the guard judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The path to forward: the version prefix as sent, then the canonical
    /// segments percent-encoded so that the daemon decodes them back to
    /// exactly [`Judged::api_path`].
    pub forward: String,
    /// Decoded, normalised, without the version prefix (for messages).
    pub api_path: String,
    /// The route the daemon would dispatch to (the most severe one if
    /// several templates match), `None` when it has no such route.
    pub route: Option<&'static Route>,
    pub class: Class,
    /// The client asked for a protocol upgrade.
    pub upgrade: bool,
}

/// Judge `method raw_path` (the request target's path, query excluded);
/// `upgrade` is whether the request carries `Upgrade` or
/// `Connection: upgrade`. Any upgrade outside attach/exec is a tunnel;
/// anything not known to be a read counts as a write.
pub fn judge(method: &str, raw_path: &str, upgrade: bool) -> Judged {
    let (version, segs) = canonical(raw_path);
    let api_path = format!("/{}", segs.join("/"));
    let mut forward = String::new();
    if let Some(v) = &version {
        forward.push('/');
        forward.push_str(v);
    }
    for s in &segs {
        forward.push('/');
        encode_segment(s, &mut forward);
    }
    if forward.is_empty() {
        forward.push('/');
    }
    let method = method.to_ascii_uppercase();
    let route = ROUTES
        .iter()
        .filter(|r| r.method == method && r.matches(&api_path))
        .max_by_key(|r| r.class);
    let mut class = route.map_or(Class::Write, |r| r.class);
    if upgrade && class != Class::Hijack {
        class = Class::Tunnel;
    }
    Judged {
        forward,
        api_path,
        route,
        class,
        upgrade,
    }
}

/// Decode once, drop empty and `.` segments, resolve `..`, split off a
/// leading `v[0-9.]+` segment (dockerd's version matcher).
fn canonical(path: &str) -> (Option<String>, Vec<String>) {
    let mut segs: Vec<String> = Vec::new();
    for raw in percent_decode(path).split('/') {
        match raw {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s.to_string()),
        }
    }
    let version = segs
        .first()
        .filter(|s| is_version(s))
        .is_some()
        .then(|| segs.remove(0));
    (version, segs)
}

fn is_version(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
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

/// Percent-encode everything but RFC 3986 unreserved characters and the
/// few delimiters Docker names use (`:` `@` `+` `,` `=`).
fn encode_segment(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@+,=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: &str, path: &str) -> Class {
        judge(method, path, false).class
    }

    #[test]
    fn every_version_form_routes_like_dockerd() {
        for p in [
            "/containers/k1/kill",
            "/v1.41/containers/k1/kill",
            "/v1.41.0/containers/k1/kill",
            "/v1.41./containers/k1/kill",
            "/v1.24.0/containers/k1/kill",
            "/v1/containers/k1/kill",
            "/v./containers/k1/kill",
            "/v1.47//containers/k1/kill/",
            "/containers/k1/%6bill",
            "/x/../containers/k1/kill",
            "/containers/a/b/kill",
        ] {
            assert_eq!(class("POST", p), Class::Destructive, "{p}");
        }
        let long = format!("/containers/{}/kill", "a/".repeat(50_000));
        assert_eq!(class("POST", &long), Class::Destructive);
        assert_eq!(class("POST", "/v1.41.0/volumes/prune"), Class::Destructive);
        assert_eq!(class("post", "/v1.41/volumes/prune"), Class::Destructive);
        // Not a version: `v` alone, or letters.
        assert_eq!(class("POST", "/v/containers/k1/kill"), Class::Write);
        assert_eq!(class("POST", "/vx/containers/k1/kill"), Class::Write);
        assert_eq!(class("DELETE", "/v1.41.0/volumes/data"), Class::Destructive);
        assert_eq!(
            class("DELETE", "/images/library/busybox:1"),
            Class::Destructive
        );
    }

    #[test]
    fn forwards_the_canonical_path() {
        let j = judge("POST", "/v1.41.//containers/%6b1/./start/", false);
        assert_eq!(j.forward, "/v1.41./containers/k1/start");
        assert_eq!(j.api_path, "/containers/k1/start");
        assert_eq!(j.class, Class::Write);
        // A decoded `?`, `%` or space is re-encoded, not reinterpreted.
        let j = judge("GET", "/containers/a%3Fb%25c%20/json", false);
        assert_eq!(j.forward, "/containers/a%3Fb%25c%20/json");
        assert_eq!(j.api_path, "/containers/a?b%c /json");
        // An encoded slash becomes a separator, as in dockerd.
        let j = judge("POST", "/containers%2Fk1%2Fkill", false);
        assert_eq!(j.forward, "/containers/k1/kill");
        assert_eq!(j.class, Class::Destructive);
        assert_eq!(judge("GET", "/", false).forward, "/");
        assert_eq!(judge("GET", "/..", false).forward, "/");
    }

    #[test]
    fn reads_hijacks_and_tunnels() {
        assert_eq!(class("GET", "/v1.41/containers/json"), Class::Read);
        assert_eq!(class("HEAD", "/_ping"), Class::Read);
        assert_eq!(class("GET", "/images/library/busybox:1/json"), Class::Read);
        assert_eq!(
            class("GET", "/v1.41.0/containers/c/attach/ws"),
            Class::Hijack
        );
        assert_eq!(class("POST", "/containers/c/attach"), Class::Hijack);
        assert_eq!(class("POST", "/v1.41/exec/e/start"), Class::Hijack);
        assert_eq!(class("POST", "/grpc"), Class::Tunnel);
        assert_eq!(class("POST", "/v1.41.0/session"), Class::Tunnel);
        // Unknown routes are not reads.
        assert_eq!(class("GET", "/containers/c/attach/ws/"), Class::Hijack);
        assert_eq!(class("GET", "/nonsense"), Class::Write);
        assert_eq!(class("OPTIONS", "/containers/json"), Class::Write);
        assert_eq!(class("POST", "/_ping"), Class::Write);
        // Any upgrade outside attach/exec is a tunnel.
        assert_eq!(judge("GET", "/containers/json", true).class, Class::Tunnel);
        assert_eq!(
            judge("POST", "/containers/c/attach", true).class,
            Class::Hijack
        );
    }

    /// The rendered regexes agree with the matcher the proxy uses, and no
    /// allowlisted read overlaps a route that is not a read.
    #[test]
    fn regexes_agree_with_the_matcher() {
        let corpus = [
            "/_ping",
            "/containers/json",
            "/containers/c/json",
            "/containers/c/attach/ws",
            "/containers/a/b/attach/ws",
            "/containers/c/json/attach/ws",
            "/containers/c/attach",
            "/containers/c/kill",
            "/containers/c/archive",
            "/images/json",
            "/images/library/busybox:1/json",
            "/images/get",
            "/volumes",
            "/volumes/v",
            "/volumes/a/b",
            "/volumes/prune",
            "/networks",
            "/networks/n",
            "/services/s",
            "/services/s/x",
            "/services/s/logs",
            "/exec/e/json",
            "/exec/e/start",
            "/debug/pprof/heap",
            "/debug/pprof/a/b",
            "/grpc",
            "/session",
            "/nonsense",
        ];
        for route in ROUTES {
            let re = regex::Regex::new(&route.regex()).unwrap();
            for p in corpus {
                for v in ["", "/v1.41", "/v1.41.0", "/v1.", "/v9"] {
                    let full = format!("{v}{p}");
                    assert_eq!(
                        re.is_match(&full),
                        route.matches(p),
                        "{} {} on {full}",
                        route.method,
                        route.path
                    );
                }
                assert!(!re.is_match(&format!("/vx{p}")), "{}", route.path);
            }
        }
        for p in corpus {
            for m in ["GET", "HEAD"] {
                let allowed = read_only_rules()
                    .iter()
                    .any(|(rm, re)| *rm == m && regex::Regex::new(re).unwrap().is_match(p));
                assert_eq!(allowed, class(m, p) == Class::Read, "{m} {p}");
            }
        }
    }
}
