//! Turn observations (certificates, handshake errors, HTTP answers) into
//! findings with concrete fixes. Pure functions: no I/O, no clock reads.

use std::io;
use std::net::IpAddr;

use rustls::{AlertDescription, CertificateError};

use super::report::{Step, StepKind, StepState};
use crate::pki::CertInfo;
use crate::pki::inspect::rfc3339;
use crate::probe::finding::{Code, Finding, Severity};
use crate::probe::tls::{Material, Observed, name_to_string};

mod api;
mod client;
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

impl Ctx<'_> {
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

    /// The command lines that reissue the server certificate for this host.
    fn reissue_server(&self) -> String {
        format!(
            "reissue the server certificate from your CA with the right name and usage: \
             `dctx pki server --host {host}` — or with openssl: \
             `openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 \
             -extfile <(printf 'subjectAltName={san}\\nextendedKeyUsage=serverAuth') -out server-cert.pem`; \
             then restart dockerd with --tlscert pointing at it",
            host = self.host,
            san = self.san_for_host()
        )
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

fn days_phrase(days: i64) -> String {
    match days {
        1 => "1 day".into(),
        -1 => "1 day".into(),
        d => format!("{} days", d.abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
