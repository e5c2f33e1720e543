//! The Prometheus text exposition format (version 0.0.4) for `check
//! --format prometheus`, `dctx metrics` and its textfile. Certificate
//! metrics use enix/x509-certificate-exporter's names and labels so its
//! dashboards and alerts apply unchanged. Written by hand rather than with
//! a metrics crate: every family is a gauge computed once per scrape, and
//! the exporter's exact names and labels are the contract.

use std::fmt::Write;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::conn::Target;
use crate::probe::{Report, Status};

/// The `Content-Type` of a scrape answer in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which end of the connection a certificate belongs to (the `role` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
    Ca,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
            Role::Ca => "ca",
        }
    }
}

/// One certificate's labels and dates, as the x509 metrics need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub role: Role,
    pub subject_cn: String,
    pub issuer_cn: String,
    /// Decimal, like the x509 exporter (Go's `big.Int.String()`).
    pub serial_number: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl CertFacts {
    /// Parse DER; None when it is not a certificate.
    pub fn from_der(role: Role, der: &[u8]) -> Option<Self> {
        let (_, c) = X509Certificate::from_der(der).ok()?;
        let cn = |n: &x509_parser::x509::X509Name<'_>| {
            n.iter_common_name()
                .next()
                .and_then(|a| a.as_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Some(CertFacts {
            role,
            subject_cn: cn(c.subject()),
            issuer_cn: cn(c.issuer()),
            serial_number: decimal(c.raw_serial()),
            not_before: c.validity().not_before.timestamp(),
            not_after: c.validity().not_after.timestamp(),
        })
    }
}

/// Big-endian unsigned bytes → decimal digits (by hand: one long division
/// per serial does not earn a bignum crate).
fn decimal(bytes: &[u8]) -> String {
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut digits = Vec::new();
    while !n.is_empty() {
        let mut rem = 0u32;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
        let zeros = n.iter().take_while(|b| **b == 0).count();
        n.drain(..zeros);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii digits")
}

/// What one probed target contributes: its report and its certificates.
pub struct Entry<'a> {
    pub report: &'a Report,
    pub certs: Vec<CertFacts>,
}

use crate::text::prometheus_label as escape;

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// One metric family: HELP, TYPE, then its samples (name omitted in `samples`).
fn family(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (l, v) in samples {
        let _ = writeln!(out, "{name}{l} {v}");
    }
}

/// The whole exposition for `entries`, judged at `now` (unix seconds).
pub fn render(entries: &[Entry<'_>], now: i64) -> String {
    let mut f = Families::default();
    for e in entries {
        f.add_report(e.report);
        f.add_certs(e.report.name.as_str(), &e.certs, now);
    }
    f.write()
}

/// Samples of one family: (labels, value).
type Samples = Vec<(String, String)>;

/// Every family's samples, gathered entry by entry: the format wants each
/// family's samples together, after its HELP and TYPE.
#[derive(Default)]
struct Families {
    up: Samples,
    duration: Samples,
    findings: Samples,
    info: Samples,
    not_before: Samples,
    not_after: Samples,
    expired: Samples,
}

impl Families {
    /// The probe's families: up, duration, findings, Docker's info.
    fn add_report(&mut self, r: &Report) {
        let ctx = r.name.as_str();
        let v = if r.status == Status::Fail { "0" } else { "1" };
        self.up.push((
            labels(&[("context", ctx), ("endpoint", &r.endpoint)]),
            v.to_string(),
        ));
        self.duration.push((
            labels(&[("context", ctx)]),
            format!("{:.6}", r.duration_secs),
        ));
        for f in &r.findings {
            self.findings.push((
                labels(&[
                    ("context", ctx),
                    ("code", f.code.as_str()),
                    ("severity", f.severity.as_str()),
                ]),
                "1".to_string(),
            ));
        }
        if let Some(d) = &r.docker {
            self.info.push((
                labels(&[
                    ("context", ctx),
                    ("version", &d.version),
                    ("api_version", &d.api_version),
                    ("os", &d.os),
                    ("arch", &d.arch),
                ]),
                "1".to_string(),
            ));
        }
    }

    /// The x509 exporter's families for one context's certificates.
    fn add_certs(&mut self, ctx: &str, certs: &[CertFacts], now: i64) {
        for c in certs {
            let l = labels(&[
                ("context", ctx),
                ("role", c.role.as_str()),
                ("subject_CN", &c.subject_cn),
                ("issuer_CN", &c.issuer_cn),
                ("serial_number", &c.serial_number),
            ]);
            self.not_before.push((l.clone(), c.not_before.to_string()));
            self.not_after.push((l.clone(), c.not_after.to_string()));
            let expired = if now >= c.not_after { "1" } else { "0" };
            self.expired.push((l, expired.to_string()));
        }
    }

    /// Every family in the exposition's order, with its HELP text.
    fn write(&self) -> String {
        let mut out = String::new();
        for (name, help, samples) in [
            (
                "dctx_up",
                "1 when the daemon answered like Docker over a verified connection, 0 when the probe failed.",
                &self.up,
            ),
            (
                "dctx_probe_duration_seconds",
                "Wall time of the last probe of the daemon.",
                &self.duration,
            ),
            (
                "dctx_finding",
                "1 for each finding of the last probe (code as in `dctx doctor`).",
                &self.findings,
            ),
            (
                "dctx_docker_info",
                "The daemon's Docker version, API version, OS and architecture (value always 1).",
                &self.info,
            ),
            (
                "x509_cert_not_before",
                "The certificate's notBefore, unix seconds.",
                &self.not_before,
            ),
            (
                "x509_cert_not_after",
                "The certificate's notAfter, unix seconds.",
                &self.not_after,
            ),
            (
                "x509_cert_expired",
                "1 when the certificate has expired.",
                &self.expired,
            ),
        ] {
            family(&mut out, name, help, samples);
        }
        out
    }
}

/// The certificates of one target: its client cert and CAs (from the
/// profile) and the chain the server presented (leaf = server, rest = CA).
pub fn certs_of(target: &Target, report: &Report) -> Vec<CertFacts> {
    let mut out: Vec<CertFacts> = Vec::new();
    let pem_ders = |pem: &Option<Vec<u8>>| -> Vec<Vec<u8>> {
        pem.as_deref()
            .map(|p| {
                pem::parse_many(p)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|b| b.tag() == "CERTIFICATE")
                    .map(|b| b.into_contents())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut push = |role: Role, der: &[u8]| {
        if let Some(f) = CertFacts::from_der(role, der)
            && !out.iter().any(|o| {
                o.serial_number == f.serial_number
                    && o.issuer_cn == f.issuer_cn
                    && o.subject_cn == f.subject_cn
            })
        {
            out.push(f);
        }
    };
    if let Some(leaf) = pem_ders(&target.cert_pem).first() {
        push(Role::Client, leaf);
    }
    for (i, der) in report.server_chain_der.iter().enumerate() {
        push(if i == 0 { Role::Server } else { Role::Ca }, der);
    }
    for der in pem_ders(&target.ca_pem) {
        push(Role::Ca, &der);
    }
    out
}

/// The exposition for targets and their reports (same order).
pub fn exposition(targets: &[Target], reports: &[Report], now: i64) -> String {
    let entries: Vec<Entry<'_>> = targets
        .iter()
        .zip(reports)
        .map(|(t, r)| Entry {
            report: r,
            certs: certs_of(t, r),
        })
        .collect();
    render(&entries, now)
}

/// Renewal state of enrolled profiles: (context, last success, failures).
pub fn renewal(rows: &[(String, Option<i64>, u64)]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let last: Vec<(String, String)> = rows
        .iter()
        .filter_map(|(n, t, _)| t.map(|t| (labels(&[("context", n)]), t.to_string())))
        .collect();
    family(
        &mut out,
        "dctx_renewal_last_success_timestamp_seconds",
        "When the client certificate was last issued or renewed (dctx enroll / renew).",
        &last,
    );
    let _ = writeln!(
        out,
        "# HELP dctx_renewal_failures_total Failed renewals since the profile was enrolled."
    );
    let _ = writeln!(out, "# TYPE dctx_renewal_failures_total counter");
    for (n, _, f) in rows {
        let _ = writeln!(
            out,
            "dctx_renewal_failures_total{} {f}",
            labels(&[("context", n)])
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_decimal_like_go_big_int() {
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(
            decimal(&[0xff; 9]),
            "4722366482869645213695" // 2^72 - 1
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(
            labels(&[("context", "x\"y")]),
            "{context=\"x\\\"y\"}".to_string()
        );
    }
}
