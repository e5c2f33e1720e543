//! Strict endpoint parsing for what dctx writes (`add`, `set-host`): a host
//! docker cannot load breaks every docker command, and one holding control
//! characters spoofs terminals and env scripts. Errors carry the corrected
//! value where there is one.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://host:port` (`port` None: docker's default, 2376 with TLS, 2375 without).
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
}
