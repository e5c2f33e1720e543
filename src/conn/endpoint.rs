//! The one endpoint type, read two ways:
//! - [`Endpoint::parse`], strict, for what dctx writes (`add`, `set-host`): a
//!   host docker cannot load breaks every docker command, and one holding
//!   control characters spoofs terminals and env scripts. Errors carry the
//!   corrected value where there is one.
//! - [`Endpoint::read`], lenient, for what a dialler meets in the wild (a
//!   Docker context dctx did not write, `DOCKER_HOST`): bare `host:port`,
//!   `https://`, `http://`; the TCP port is filled in and TLS decided.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://host:port` (`port` None: docker's default, 2376 with TLS, 2375
    /// without; never None from [`Endpoint::read`]).
    Tcp { host: String, port: Option<u16> },
    /// `unix:///absolute/path`
    Unix(String),
    /// `ssh://[user@]host[:port]`
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
}

/// Why an endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// A control character, space or non-ASCII character anywhere.
    #[error("endpoint {0:?} holds a space or control character")]
    BadCharacter(String),
    /// No `scheme://`; `suggestion` is the probable intent.
    #[error("endpoint {given:?} has no scheme: did you mean {suggestion}?")]
    NoScheme { given: String, suggestion: String },
    /// A scheme dctx does not write (npipe://, fd://, ftp://…).
    #[error(
        "endpoint scheme {0:?} is not supported: use tcp://HOST:PORT, unix:///PATH or ssh://[USER@]HOST[:PORT]"
    )]
    Scheme(String),
    /// The host part is missing or is not a name or IP address.
    #[error("endpoint {0:?}: the host is missing or not a valid name or IP address")]
    Host(String),
    /// The port is not a number in 1..=65535.
    #[error("endpoint {given:?}: {port:?} is not a TCP port (1-65535)")]
    Port { given: String, port: String },
    /// A path after a tcp:// or ssh:// authority.
    #[error("endpoint {0:?}: tcp:// and ssh:// endpoints take no path")]
    Path(String),
    /// `unix://` with a relative or empty path.
    #[error("endpoint {0:?}: a unix socket needs an absolute path (unix:///var/run/docker.sock)")]
    UnixPath(String),
    /// What [`Endpoint::read`] cannot make sense of (the reason in words).
    #[error("{0}")]
    Unreadable(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => {
                write!(f, "tcp://{}", bracket(host))?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            Endpoint::Unix(p) => write!(f, "unix://{p}"),
            Endpoint::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                f.write_str(&bracket(host))?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

impl Endpoint {
    /// Parse and normalise: `https://` becomes `tcp://` (docker's DOCKER_HOST
    /// knows no https), `http://` too.
    pub fn parse(given: &str) -> Result<Endpoint, EndpointError> {
        if given.is_empty()
            || given
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
        {
            return Err(EndpointError::BadCharacter(given.to_string()));
        }
        let Some((scheme, rest)) = given.split_once("://") else {
            let suggestion = if given.starts_with('/') {
                format!("unix://{given}")
            } else {
                format!("tcp://{given}")
            };
            return Err(EndpointError::NoScheme {
                given: given.to_string(),
                suggestion,
            });
        };
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" | "https" | "http" => {
                let (host, port) = authority(given, rest)?;
                Ok(Endpoint::Tcp { host, port })
            }
            "unix" => {
                if !rest.starts_with('/') || rest.len() < 2 {
                    return Err(EndpointError::UnixPath(given.to_string()));
                }
                Ok(Endpoint::Unix(rest.to_string()))
            }
            "ssh" => {
                let (user, hostport) = match rest.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h),
                    None => (None, rest),
                };
                if let Some(u) = user
                    && (u.is_empty()
                        || !u
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
                {
                    return Err(EndpointError::Host(given.to_string()));
                }
                let (host, port) = authority(given, hostport)?;
                Ok(Endpoint::Ssh {
                    user: user.map(str::to_string),
                    host,
                    port,
                })
            }
            other => Err(EndpointError::Scheme(other.to_string())),
        }
    }

    pub fn is_tcp(&self) -> bool {
        matches!(self, Endpoint::Tcp { .. })
    }

    pub fn is_ssh(&self) -> bool {
        matches!(self, Endpoint::Ssh { .. })
    }

    /// The endpoint as a dialler reads it, and whether TLS is spoken:
    /// `tcp://h:p` (TLS when `tls`), `https://h[:p]`, `http://h[:p]`,
    /// `unix:///path`, `ssh://[user@]host[:port]`, bare `h:p` or `/path`.
    /// The TCP port is always filled in. An unknown scheme (npipe://, fd://)
    /// is [`EndpointError::Scheme`]; anything else unusable is
    /// [`EndpointError::Unreadable`] with the reason.
    pub fn read(given: &str, tls: bool) -> Result<(Endpoint, bool), EndpointError> {
        let host = given.trim();
        let bad = EndpointError::Unreadable;
        let (scheme, rest) = match host.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None if host.starts_with('/') => ("unix".to_string(), host),
            None => ("tcp".to_string(), host),
        };
        let tcp = |default: u16, tls: bool| {
            let (h, p) = split_host_port(rest, default).map_err(bad)?;
            Ok((
                Endpoint::Tcp {
                    host: h,
                    port: Some(p),
                },
                tls,
            ))
        };
        match scheme.as_str() {
            "unix" if rest.is_empty() => Err(bad(format!("{host}: unix:// needs a socket path"))),
            "unix" => Ok((Endpoint::Unix(rest.to_string()), false)),
            "tcp" => tcp(if tls { 2376 } else { 2375 }, tls),
            "https" => tcp(443, true),
            "http" => tcp(80, false),
            "ssh" => {
                let authority = rest.split('/').next().unwrap_or_default();
                let (user, hostport) = match authority.rsplit_once('@') {
                    Some(("", _)) => return Err(bad(format!("{host}: empty user before '@'"))),
                    Some((u, h)) => (Some(u.to_string()), h),
                    None => (None, authority),
                };
                // Port 0 never reaches ssh: it marks "no port given".
                let (h, p) = split_host_port(hostport, 0).map_err(bad)?;
                if h.is_empty() || h.starts_with('-') {
                    return Err(bad(format!("{host}: no usable host name")));
                }
                let port = (p != 0).then_some(p);
                Ok((
                    Endpoint::Ssh {
                        user,
                        host: h,
                        port,
                    },
                    false,
                ))
            }
            other => Err(EndpointError::Scheme(other.to_string())),
        }
    }

    /// The same endpoint with docker's default port made explicit.
    pub fn with_default_port(self, tls: bool) -> Endpoint {
        match self {
            Endpoint::Tcp { host, port: None } => Endpoint::Tcp {
                host,
                port: Some(if tls { 2376 } else { 2375 }),
            },
            e => e,
        }
    }

    /// The TCP port, if any.
    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Tcp { port, .. } | Endpoint::Ssh { port, .. } => *port,
            Endpoint::Unix(_) => None,
        }
    }
}

/// `host[:port]` or `[v6][:port]`, nothing after.
fn authority(given: &str, s: &str) -> Result<(String, Option<u16>), EndpointError> {
    let s = s.strip_suffix('/').unwrap_or(s);
    if s.contains('/') || s.contains('?') || s.contains('#') {
        return Err(EndpointError::Path(given.to_string()));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| EndpointError::Host(given.to_string()))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(EndpointError::Host(given.to_string()));
        }
        match after {
            "" => (h, None),
            a => match a.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err(EndpointError::Host(given.to_string())),
            },
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if !(valid_name || host.parse::<std::net::IpAddr>().is_ok()) {
        return Err(EndpointError::Host(given.to_string()));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u32>() {
            Ok(n @ 1..=65535) if p.chars().all(|c| c.is_ascii_digit()) => Some(n as u16),
            _ => {
                return Err(EndpointError::Port {
                    given: given.to_string(),
                    port: p.to_string(),
                });
            }
        },
    };
    Ok((host.to_string(), port))
}

/// `host:port`, `[v6]:port`, `host` (default port); a trailing path is
/// ignored (the lenient reading).
fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let s = s.split('/').next().unwrap_or_default();
    if s.is_empty() {
        return Err("no host in the endpoint".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s}: unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if after.is_empty() => default_port,
            None => return Err(format!("{s}: junk after ']'")),
        };
        return Ok((h.to_string(), port));
    }
    match s.rsplit_once(':') {
        // A bare IPv6 literal without brackets has several colons.
        Some((h, _)) if h.contains(':') => Ok((s.to_string(), default_port)),
        Some((h, p)) => Ok((h.to_string(), parse_port(p)?)),
        None => Ok((s.to_string(), default_port)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{p:?} is not a TCP port")),
        Ok(n) => Ok(n),
    }
}

/// Whether `host` is an `ssh://` endpoint (any case), without parsing it.
pub fn is_ssh(host: &str) -> bool {
    host.trim()
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("ssh://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        Endpoint::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_what_docker_can_load() {
        assert_eq!(ok("tcp://h.example:2376"), "tcp://h.example:2376");
        assert_eq!(ok("https://h:2376"), "tcp://h:2376");
        assert_eq!(ok("HTTPS://h"), "tcp://h");
        assert_eq!(ok("tcp://[::1]:9"), "tcp://[::1]:9");
        assert_eq!(ok("tcp://10.0.0.5:2376/"), "tcp://10.0.0.5:2376");
        assert_eq!(
            ok("unix:///var/run/docker.sock"),
            "unix:///var/run/docker.sock"
        );
        assert_eq!(ok("ssh://me@box:2222"), "ssh://me@box:2222");
        assert_eq!(ok("ssh://box"), "ssh://box");
    }

    #[test]
    fn refuses_with_the_corrected_value() {
        let e = Endpoint::parse("prod.example.com:2376").unwrap_err();
        assert_eq!(
            e.to_string(),
            "endpoint \"prod.example.com:2376\" has no scheme: did you mean tcp://prod.example.com:2376?"
        );
        for bad in [
            "tcp://h:notaport",
            "tcp://h:0",
            "tcp://h:99999",
            "tcp://h:+1",
            "tcp:// spaced:2376",
            "tcp://h:1\r",
            "tcp://h\n REM\ncalc.exe",
            "tcp://h\u{1b}[2J:1",
            "tcp://:2376",
            "tcp://h:2376/path",
            "unix://relative",
            "npipe:////./pipe/docker",
            "ssh://@h",
            "tcp://[zz]:1",
            "tcp://-h:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            Endpoint::parse("tcp://h:99999"),
            Err(EndpointError::Port { .. })
        ));
    }

    fn tcp(h: &str, p: u16) -> Endpoint {
        Endpoint::Tcp {
            host: h.into(),
            port: Some(p),
        }
    }

    #[test]
    fn reads_what_a_dialler_meets() {
        let read = |s: &str, tls: bool| Endpoint::read(s, tls).unwrap();
        assert_eq!(
            read("tcp://1.2.3.4:2376", true),
            (tcp("1.2.3.4", 2376), true)
        );
        assert_eq!(read("https://[::1]:99", false), (tcp("::1", 99), true));
        assert_eq!(read("http://h", true), (tcp("h", 80), false));
        assert_eq!(read("tcp://h", false), (tcp("h", 2375), false));
        assert_eq!(read("h:7", true), (tcp("h", 7), true));
        assert_eq!(
            read("unix:///var/run/docker.sock", false),
            (Endpoint::Unix("/var/run/docker.sock".into()), false)
        );
        assert_eq!(
            Endpoint::read("npipe:////./pipe/docker_engine", false),
            Err(EndpointError::Scheme("npipe".into()))
        );
        assert!(matches!(
            Endpoint::read("tcp://h:x", true),
            Err(EndpointError::Unreadable(_))
        ));
    }

    #[test]
    fn reads_ssh_forms() {
        let ssh = |u: Option<&str>, h: &str, p: Option<u16>| Endpoint::Ssh {
            user: u.map(String::from),
            host: h.into(),
            port: p,
        };
        let read = |s: &str| Endpoint::read(s, false).map(|(e, _)| e);
        assert_eq!(
            read("ssh://me@host").unwrap(),
            ssh(Some("me"), "host", None)
        );
        assert_eq!(
            read("SSH://root@127.0.0.1:2222").unwrap(),
            ssh(Some("root"), "127.0.0.1", Some(2222))
        );
        assert_eq!(
            Endpoint::read("ssh://prod-box", true).unwrap(),
            (ssh(None, "prod-box", None), false)
        );
        assert_eq!(
            read("ssh://a@b@[::1]:22").unwrap(),
            ssh(Some("a@b"), "::1", Some(22))
        );
        for bad in [
            "ssh://",
            "ssh://me@",
            "ssh://@host",
            "ssh://host:0",
            "ssh://-oProxyCommand=x",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert!(is_ssh(" SsH://x") && !is_ssh("tcp://ssh"));
    }
}
