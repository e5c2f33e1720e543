//! Parse a Docker host string into what the probe dials.

use std::net::IpAddr;
use std::path::PathBuf;

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP; `tls` decides whether TLS is spoken.
    Tcp {
        host: String,
        port: u16,
        tls: bool,
    },
    Unix(PathBuf),
    /// `ssh://[user@]host[:port]`: the system ssh client runs `docker system
    /// dial-stdio` there. No user / port: ~/.ssh/config (or ssh's defaults) decide.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
    /// A scheme the probe does not speak (npipe://, fd://).
    Unsupported(String),
}

impl Endpoint {
    /// `tcp://h:p` (TLS when `tls`), `https://h[:p]`, `http://h[:p]`,
    /// `unix:///path`, `ssh://[user@]host[:port]`, bare `h:p`. Errors say
    /// what is wrong with the string.
    pub fn parse(host: &str, tls: bool) -> Result<Endpoint, String> {
        let host = host.trim();
        let (scheme, rest) = match host.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None if host.starts_with('/') => ("unix".to_string(), host),
            None => ("tcp".to_string(), host),
        };
        match scheme.as_str() {
            "unix" => {
                if rest.is_empty() {
                    return Err(format!("{host}: unix:// needs a socket path"));
                }
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            "tcp" => {
                let (h, p) = split_host_port(rest, if tls { 2376 } else { 2375 })?;
                Ok(Endpoint::Tcp {
                    host: h,
                    port: p,
                    tls,
                })
            }
            "https" => {
                let (h, p) = split_host_port(rest, 443)?;
                Ok(Endpoint::Tcp {
                    host: h,
                    port: p,
                    tls: true,
                })
            }
            "http" => {
                let (h, p) = split_host_port(rest, 80)?;
                Ok(Endpoint::Tcp {
                    host: h,
                    port: p,
                    tls: false,
                })
            }
            "ssh" => {
                let authority = rest.split('/').next().unwrap_or_default();
                let (user, hostport) = match authority.rsplit_once('@') {
                    Some(("", _)) => {
                        return Err(format!("{host}: empty user before '@'"));
                    }
                    Some((u, h)) => (Some(u.to_string()), h),
                    None => (None, authority),
                };
                // Port 0 never reaches ssh: it marks "no port given".
                let (h, p) = split_host_port(hostport, 0)?;
                if h.is_empty() || h.starts_with('-') {
                    return Err(format!("{host}: no usable host name"));
                }
                Ok(Endpoint::Ssh {
                    user,
                    host: h,
                    port: (p != 0).then_some(p),
                })
            }
            other => Ok(Endpoint::Unsupported(other.to_string())),
        }
    }

    /// Whether the host part is an IP literal.
    pub fn host_ip(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Tcp { host, .. } => host.parse().ok(),
            _ => None,
        }
    }
}

/// `host:port`, `[v6]:port`, `host` (default port); a trailing path is ignored.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            Endpoint::parse("tcp://1.2.3.4:2376", true).unwrap(),
            Endpoint::Tcp {
                host: "1.2.3.4".into(),
                port: 2376,
                tls: true
            }
        );
        assert_eq!(
            Endpoint::parse("https://[::1]:99", false).unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 99,
                tls: true
            }
        );
        assert_eq!(
            Endpoint::parse("unix:///var/run/docker.sock", false).unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            Endpoint::parse("npipe:////./pipe/docker_engine", false).unwrap(),
            Endpoint::Unsupported("npipe".into())
        );
        assert!(Endpoint::parse("tcp://h:x", true).is_err());
        assert_eq!(
            Endpoint::parse("tcp://h", false).unwrap(),
            Endpoint::Tcp {
                host: "h".into(),
                port: 2375,
                tls: false
            }
        );
    }

    #[test]
    fn ssh_forms() {
        let ssh = |u: Option<&str>, h: &str, p: Option<u16>| Endpoint::Ssh {
            user: u.map(String::from),
            host: h.into(),
            port: p,
        };
        assert_eq!(
            Endpoint::parse("ssh://me@host", false).unwrap(),
            ssh(Some("me"), "host", None)
        );
        assert_eq!(
            Endpoint::parse("SSH://root@127.0.0.1:2222", false).unwrap(),
            ssh(Some("root"), "127.0.0.1", Some(2222))
        );
        assert_eq!(
            Endpoint::parse("ssh://prod-box", true).unwrap(),
            ssh(None, "prod-box", None)
        );
        assert_eq!(
            Endpoint::parse("ssh://a@b@[::1]:22", false).unwrap(),
            ssh(Some("a@b"), "::1", Some(22))
        );
        assert!(Endpoint::parse("ssh://", false).is_err());
        assert!(Endpoint::parse("ssh://me@", false).is_err());
        assert!(Endpoint::parse("ssh://@host", false).is_err());
        assert!(Endpoint::parse("ssh://host:0", false).is_err());
        assert!(Endpoint::parse("ssh://-oProxyCommand=x", false).is_err());
    }
}
