//! Turn observations (certificates, handshake errors, HTTP answers) into
//! findings with concrete fixes. Pure functions: no I/O, no clock reads.

use std::net::IpAddr;

use crate::pki::CertInfo;
use crate::probe::finding::{Fix, Severity, sh_line};

mod api;
mod client;
/// Docker's recipe: sign `csr` with ca.pem/ca-key.pem in the current
/// directory, extensions from `extfile` (the step people forget).
fn sign_with_ca(csr: &str, extfile: &str, days: &str, out: &str) -> String {
    sh_line(&[
        "openssl",
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        days,
        "-sha256",
        "-extfile",
        extfile,
        "-out",
        out,
    ])
}

#[cfg(test)]
mod fixtures;
mod front;
mod handshake;
mod server;

pub use api::*;
pub use client::*;
pub use front::*;
pub use handshake::*;
pub use server::*;

/// Facts about the probe every message may need.
pub struct Ctx<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub now: i64,
    pub skip_verify: bool,
    pub timeout_secs: f64,
    /// Expiring-soon threshold, days.
    pub warn_days: i64,
}

impl<'a> Ctx<'a> {
    /// For a transport without certificates (unix socket, ssh): nothing
    /// to verify, nothing to expire.
    pub fn no_tls(name: &'a str, host: &'a str, port: u16, now: i64, timeout_secs: f64) -> Self {
        Ctx {
            name,
            host,
            port,
            now,
            skip_verify: false,
            timeout_secs,
            warn_days: 0,
        }
    }

    fn host_is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    fn san_for_host(&self) -> String {
        if self.host_is_ip() {
            format!("IP:{}", self.host)
        } else {
            format!("DNS:{}", self.host)
        }
    }

    /// `host:port` as a URL authority (IPv6 in brackets).
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Days a reissued certificate may last: under the signing CA's
    /// remaining lifetime with a day of slack (run tomorrow, it still ends
    /// before the CA), at most 825. The hour keeps a probe made in the very
    /// second a `-days 365` CA was made off the day boundary, so every
    /// probe of the next 23 hours prints the same number.
    fn reissue_days(&self, ca: Option<&CertInfo>) -> i64 {
        match ca {
            Some(ca) => ((ca.not_after - self.now - 3600).div_euclid(86_400) - 1).clamp(1, 825),
            None => 365,
        }
    }

    /// Reissue the server certificate from the user's CA: every name `old`
    /// holds (a CN-only or v1 certificate's CN counts) plus the dialled
    /// host, serverAuth, dates inside the CA's. Keeps the daemon's key, so
    /// only the certificate file changes.
    pub(crate) fn reissue_server(&self, old: &CertInfo, cas: &[CertInfo]) -> Fix {
        let mut sans: Vec<String> = old
            .dns_names
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(old.ip_addrs.iter().map(|i| format!("IP:{i}")))
            .collect();
        if !old.has_san_ext
            && let Some(cn) = &old.common_name
        {
            match cn.parse::<IpAddr>() {
                Ok(ip) => sans.push(format!("IP:{ip}")),
                Err(_) if is_host_name(cn) => sans.push(format!("DNS:{cn}")),
                Err(_) => {}
            }
        }
        let kept = if sans.is_empty() {
            "it holds no name to keep".to_string()
        } else {
            format!("keeping its names ({})", sans.join(", "))
        };
        let wanted = self.san_for_host();
        let added = if sans.iter().any(|s| s.eq_ignore_ascii_case(&wanted)) {
            String::new()
        } else {
            sans.push(wanted.clone());
            format!(" and adding {wanted}")
        };
        let ca = cas
            .iter()
            .find(|c| old.is_signed_by(c))
            .or_else(|| cas.first());
        let days = self.reissue_days(ca).to_string();
        let cn = printable_cn(old).unwrap_or(self.host).to_string();
        let san_line = format!("subjectAltName={}", sans.join(","));
        let mut hosts = vec!["dctx", "pki", "--dir", ".", "server"];
        let names: Vec<String> = sans
            .iter()
            .map(|s| s.split_once(':').map_or(s.as_str(), |(_, v)| v).to_string())
            .collect();
        for n in &names {
            hosts.extend(["--host", n]);
        }
        hosts.extend(["--days", &days, "--out", ".", "--force"]);
        Fix {
            text: format!(
                "reissue the server certificate from your CA, {kept}{added}, for serverAuth, \
                 valid {days} days (within the CA's lifetime); then restart dockerd so it loads the new server-cert.pem \
                 (same --tlscert and --tlskey). Run in {SERVER_DIR} (Docker's guide names; use yours):"
            ),
            dir: Some(SERVER_DIR.into()),
            commands: vec![
                format!(
                    "{} > server-extfile.cnf",
                    sh_line(&["printf", "%s\\n", &san_line, "extendedKeyUsage=serverAuth"])
                ),
                sh_line(&[
                    "openssl",
                    "req",
                    "-new",
                    "-key",
                    "server-key.pem",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-out",
                    "server.csr",
                ]),
                sign_with_ca("server.csr", "server-extfile.cnf", &days, "server-cert.pem"),
            ],
            // dctx's signer on the same CA (`--dir .`: the directory above);
            // it makes a new key, so server-key.pem changes too.
            alternatives: vec![sh_line(&hosts)],
        }
    }

    /// Reissue the profile's client certificate from the daemon's CA (same
    /// key, clientAuth, dates inside the CA's) and re-import it.
    pub(crate) fn reissue_client(&self, old: &CertInfo, cas: &[CertInfo]) -> Fix {
        let ca = cas
            .iter()
            .find(|c| old.is_signed_by(c))
            .or_else(|| cas.first());
        let days = self.reissue_days(ca).to_string();
        let cn = printable_cn(old).unwrap_or("client").to_string();
        Fix {
            text: format!(
                "reissue the client certificate from the daemon's CA with the same key, for clientAuth, \
                 valid {days} days (within the CA's lifetime), and re-import it into the profile. \
                 Run in {CLIENT_DIR} (Docker's guide names; use yours):"
            ),
            dir: Some(CLIENT_DIR.into()),
            commands: vec![
                format!(
                    "{} > client-extfile.cnf",
                    sh_line(&["printf", "%s\\n", "extendedKeyUsage=clientAuth"])
                ),
                sh_line(&[
                    "openssl",
                    "req",
                    "-new",
                    "-key",
                    "key.pem",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-out",
                    "client.csr",
                ]),
                sign_with_ca("client.csr", "client-extfile.cnf", &days, "cert.pem"),
                self.reimport_line(),
            ],
            alternatives: Vec::new(),
        }
    }

    /// `dctx add NAME --host URL --ca ca.pem --cert cert.pem --key key.pem --replace`.
    fn reimport_line(&self) -> String {
        let host = format!("tcp://{}", self.authority());
        let mut w = vec!["dctx", "add", self.name, "--host", &host];
        w.extend([
            "--ca",
            "ca.pem",
            "--cert",
            "cert.pem",
            "--key",
            "key.pem",
            "--replace",
        ]);
        sh_line(&w)
    }

    /// Import the client files the daemon's admin handed out (TLS on).
    pub(crate) fn reimport(&self, what: &str) -> Fix {
        Fix {
            text: format!(
                "{what}: import the daemon's CA and a client certificate it signed. Run in {BUNDLE_DIR}:"
            ),
            dir: Some(BUNDLE_DIR.into()),
            commands: vec![self.reimport_line()],
            alternatives: Vec::new(),
        }
    }

    /// The daemon-side fix: dockerd listening on exactly the dialled
    /// address, with TLS and client verification (never 0.0.0.0, never
    /// without --tlsverify).
    pub(crate) fn dockerd_tls(&self, what: &str) -> Fix {
        Fix {
            text: format!(
                "{what}: on the daemon host, run dockerd on the address this profile dials, with TLS \
                 and client verification (as a service: the same flags in its ExecStart, or \"hosts\" and \"tls*\" in daemon.json; \
                 behind nginx: `ssl_verify_client on` with the CA). Run in {DAEMON_DIR}:"
            ),
            dir: Some(DAEMON_DIR.into()),
            commands: vec![sh_line(&[
                "dockerd",
                "-H",
                &format!("tcp://{}", self.authority()),
                "--tlsverify",
                "--tlscacert=ca.pem",
                "--tlscert=server-cert.pem",
                "--tlskey=server-key.pem",
            ])],
            alternatives: Vec::new(),
        }
    }

    /// Server-certificate problems do not break a skip-verify profile.
    fn server_sev(&self) -> Severity {
        if self.skip_verify {
            Severity::Info
        } else {
            Severity::Error
        }
    }
}

/// Where each kind of command fix runs (Docker's guide keeps all of these
/// in one directory; the seeds' other names are for the user to substitute).
pub const SERVER_DIR: &str =
    "the directory holding your CA (ca.pem, ca-key.pem) and the daemon's server-key.pem";
pub const CLIENT_DIR: &str =
    "the directory holding the daemon's CA (ca.pem, ca-key.pem) and your client key (key.pem)";
pub const BUNDLE_DIR: &str =
    "the directory holding the client files from the daemon's admin (ca.pem, cert.pem, key.pem)";
pub const DAEMON_DIR: &str =
    "the daemon's certificate directory (ca.pem, server-cert.pem, server-key.pem)";

/// The certificate's CN when it is plain printable text (it goes into a
/// printed command: nothing a terminal would interpret, no `/` for -subj).
fn printable_cn(c: &CertInfo) -> Option<&str> {
    c.common_name.as_deref().filter(|cn| {
        !cn.is_empty()
            && cn.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ')
            && !cn.contains('/')
    })
}

/// A plausible DNS name (a CN like "Docker Server" is not one).
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// "expired 705d ago" (the form every command uses), "expired" in the
/// very second it did.
fn expired_phrase(not_after: i64, now: i64) -> String {
    let e = crate::text::expiry::Expiry::new(not_after, now);
    if e.expired() {
        e.short()
    } else {
        "expired".into()
    }
}

fn days_phrase(days: i64) -> String {
    match days {
        1 => "1 day".into(),
        -1 => "1 day".into(),
        d => format!("{} days", d.abs()),
    }
}

/// An HTTP body in one short line: an HTML page becomes its <title> (or its
/// text), whitespace collapses, long text is cut.
pub fn clean_body(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let text = if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        body.get(a + 7..b).unwrap_or(body).to_string()
    } else if lower.contains('<') {
        let mut out = String::new();
        let mut in_tag = false;
        for ch in body.chars() {
            match ch {
                '<' => {
                    in_tag = true;
                    out.push(' ');
                }
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    } else {
        body.to_string()
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut one = words.join(" ");
    if one.chars().count() > 160 {
        one = one.chars().take(157).collect::<String>() + "…";
    }
    one
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::AlertDescription;

    #[test]
    fn bodies_are_cleaned() {
        assert_eq!(
            clean_body(
                "<html>\n<head><title>503 Service Temporarily Unavailable</title></head></html>"
            ),
            "503 Service Temporarily Unavailable"
        );
        assert_eq!(clean_body("<p>a\n  b</p>"), "a b");
        assert_eq!(clean_body("page not found\n"), "page not found");
    }

    #[test]
    fn alert_names() {
        assert_eq!(
            alert_name(AlertDescription::BadCertificate),
            "bad_certificate"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required"
        );
    }
}
