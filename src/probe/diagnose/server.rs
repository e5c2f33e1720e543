//! The server certificate: chain vs the profile's CA, host name vs SANs,
//! validity dates, EKU, unsupported (v1) certificates.

use super::{Ctx, days_phrase, expired_phrase};
use crate::conn::tls::Material;
use crate::pki::CertInfo;
use crate::pki::inspect::rfc3339;
use crate::probe::finding::Severity;
use crate::probe::finding::{Code, Finding};
use crate::probe::report::{Step, StepKind, StepState};
use rustls::CertificateError;
use std::net::IpAddr;

pub(crate) fn name_matches(leaf: &CertInfo, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return leaf.ip_addrs.contains(&ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    leaf.dns_names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => n == host,
        }
    })
}

pub(crate) fn signed_or_same(c: &CertInfo, ca: &CertInfo) -> bool {
    c.sha256 == ca.sha256 || c.is_signed_by(ca)
}

pub(crate) fn chain_reaches_ca(chain: &[CertInfo], ca: &[CertInfo]) -> bool {
    let Some(leaf) = chain.first() else {
        return false;
    };
    if ca.iter().any(|a| signed_or_same(leaf, a)) {
        return true;
    }
    chain[1..]
        .iter()
        .any(|i| leaf.is_signed_by(i) && ca.iter().any(|a| signed_or_same(i, a)))
}

pub(crate) fn is_untrusted(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        )
    )
}

/// Server certificate checks: chain vs the profile's CA, host name vs SANs,
/// validity dates, EKU. Returns findings and the four doctor steps.
pub fn server_cert(
    chain: &[CertInfo],
    verify_error: Option<&rustls::Error>,
    m: &Material,
    ctx: &Ctx,
) -> (Vec<Finding>, Vec<Step>) {
    let Some(leaf) = chain.first() else {
        return Default::default();
    };
    let mut v = Verdicts {
        out: Vec::new(),
        steps: Vec::new(),
        reasons: Vec::new(),
        expiring: None,
        sev: ctx.server_sev(),
        bad: if ctx.skip_verify {
            StepState::Warn
        } else {
            StepState::Fail
        },
    };
    let v1 = is_v1_der(&leaf.der);
    check_chain(&mut v, chain, verify_error, m, ctx);
    // Everything below is fixed by one reissue from the same CA: the checks
    // collect reasons, `conclude` reports them as one finding with one fix.
    check_name(&mut v, leaf, v1, ctx);
    check_dates(&mut v, leaf, ctx);
    check_eku(&mut v, leaf, v1);
    conclude(&mut v, leaf, m, ctx);
    unexplained(&mut v, verify_error, v1);
    (v.out, v.steps)
}

/// What the server checks collect.
struct Verdicts {
    out: Vec<Finding>,
    steps: Vec<Step>,
    /// Problems one reissue from the same CA fixes.
    reasons: Vec<(Code, String)>,
    /// The certificate expires within the warning window.
    expiring: Option<String>,
    sev: Severity,
    /// A failed check's step state (a warning when verification is skipped).
    bad: StepState,
}

/// Does the chain reach the profile's CA (or the system roots)?
fn check_chain(
    v: &mut Verdicts,
    chain: &[CertInfo],
    verify_error: Option<&rustls::Error>,
    m: &Material,
    ctx: &Ctx,
) {
    let leaf = &chain[0];
    let trusted = match verify_error {
        Some(e) if is_untrusted(e) => false,
        _ if m.ca.is_empty() => true,
        None => true,
        Some(_) => chain_reaches_ca(chain, &m.ca),
    };
    if trusted {
        let by = if m.system_roots {
            "a CA in the system trust store".to_string()
        } else {
            m.ca.iter()
                .find(|a| chain.iter().any(|c| signed_or_same(c, a)))
                .map(|a| a.subject.clone())
                .unwrap_or_else(|| "the profile's CA".into())
        };
        v.steps.push(Step::new(
            StepKind::ServerChain,
            StepState::Ok,
            format!("issued by {}, trusted via {by}", leaf.issuer),
        ));
    } else {
        let (message, fix) = untrusted(leaf, m, ctx);
        v.out
            .push(Finding::new(Code::UnknownCa, v.sev, message.clone(), fix));
        v.steps
            .push(Step::new(StepKind::ServerChain, v.bad, message));
    }
}

/// The unknown-CA message and fix: the leaf's issuer (and AKI) against
/// the CAs the profile trusts (and their SKIs).
fn untrusted(leaf: &CertInfo, m: &Material, ctx: &Ctx) -> (String, String) {
    let leaf_id = format!(
        "issuer {}{}",
        leaf.issuer,
        leaf.aki
            .as_deref()
            .map(|a| format!(", AKI {a}"))
            .unwrap_or_default()
    );
    if m.system_roots {
        (
            format!(
                "the server certificate ({leaf_id}) is not signed by any CA in the system trust store, and the profile has no CA of its own"
            ),
            format!(
                "add the daemon's CA to the profile: `dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace`",
                ctx.name
            ),
        )
    } else {
        let cas =
            m.ca.iter()
                .map(|a| {
                    format!(
                        "{}{}",
                        a.subject,
                        a.ski
                            .as_deref()
                            .map(|s| format!(", SKI {s}"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
        let self_signed = if leaf.is_self_signed() {
            " (the server certificate is self-signed)"
        } else {
            ""
        };
        (
            format!(
                "the server certificate ({leaf_id}) is not signed by the profile's CA ({cas}){self_signed}"
            ),
            format!(
                "the profile's CA file is the wrong one, or the daemon uses a certificate from another CA. \
                 Import the CA whose subject is {} and whose SKI equals the AKI above \
                 (`dctx add {} --ca right-ca.pem --replace`; check with `openssl x509 -in ca.pem -noout -subject -ext subjectKeyIdentifier`), \
                 or have the daemon's certificate reissued from the profile's CA",
                leaf.issuer, ctx.name,
            ),
        )
    }
}

/// Host name: the name dialled among the certificate's SANs.
fn check_name(v: &mut Verdicts, leaf: &CertInfo, v1: bool, ctx: &Ctx) {
    let names = if leaf.sans.is_empty() {
        "no names".to_string()
    } else {
        leaf.sans.join(", ")
    };
    if v1 {
        let msg = "the server certificate is an X.509 v1 certificate (signed without `-extfile`: no subjectAltName, \
                   no extendedKeyUsage); TLS clients such as dctx and the docker CLI refuse v1 certificates"
            .to_string();
        v.reasons.push((Code::CnOnly, msg.clone()));
        v.steps.push(Step::new(StepKind::HostName, v.bad, msg));
    } else if !leaf.has_san_ext {
        let cn = leaf.common_name.clone().unwrap_or_default();
        let msg = format!(
            "the server certificate has no subjectAltName extension, only CN={cn}; \
             Go (dockerd, docker CLI) and rustls ignore the CN, so no host name can match"
        );
        v.reasons.push((Code::CnOnly, msg.clone()));
        v.steps.push(Step::new(StepKind::HostName, v.bad, msg));
    } else if name_matches(leaf, ctx.host) {
        v.steps.push(Step::new(
            StepKind::HostName,
            StepState::Ok,
            format!("{} is among the certificate's names ({names})", ctx.host),
        ));
    } else {
        let mut msg = format!(
            "the server certificate is not valid for {}; it holds {names}",
            ctx.host
        );
        if ctx.host_is_ip() && leaf.ip_addrs.is_empty() {
            msg.push_str(&format!(
                " — you dialled the IP address {} and the certificate has no IP SAN at all",
                ctx.host
            ));
        }
        v.reasons.push((Code::NameMismatch, msg.clone()));
        v.steps.push(Step::new(StepKind::HostName, v.bad, msg));
    }
}

fn check_dates(v: &mut Verdicts, leaf: &CertInfo, ctx: &Ctx) {
    let days = leaf.days_left(ctx.now);
    if ctx.now >= leaf.not_after {
        let msg = format!(
            "the server certificate {} (on {})",
            expired_phrase(leaf.not_after, ctx.now),
            leaf.not_after_rfc3339()
        );
        v.reasons.push((Code::ServerCertExpired, msg.clone()));
        v.steps.push(Step::new(StepKind::Validity, v.bad, msg));
    } else if ctx.now < leaf.not_before {
        let msg = format!(
            "the server certificate is valid only from {}, but this machine's clock says {} — clock skew on this machine or on the CA host?",
            leaf.not_before_rfc3339(),
            rfc3339(ctx.now)
        );
        v.out.push(Finding::new(
            Code::ServerCertNotYetValid,
            v.sev,
            msg.clone(),
            "check the clocks (`timedatectl`, NTP) on this machine and on the machine that issued the certificate; \
             or reissue it with a notBefore in the past",
        ));
        v.steps.push(Step::new(StepKind::Validity, v.bad, msg));
    } else if days < ctx.warn_days {
        let msg = format!(
            "the server certificate expires in {} ({})",
            days_phrase(days),
            leaf.not_after_rfc3339()
        );
        v.expiring = Some(msg.clone());
        v.steps
            .push(Step::new(StepKind::Validity, StepState::Warn, msg));
    } else {
        v.steps.push(Step::new(
            StepKind::Validity,
            StepState::Ok,
            format!(
                "valid {} → {} ({} left)",
                leaf.not_before_rfc3339(),
                leaf.not_after_rfc3339(),
                days_phrase(days)
            ),
        ));
    }
}

/// EKU (a v1 certificate has none to check: its finding says so).
fn check_eku(v: &mut Verdicts, leaf: &CertInfo, v1: bool) {
    if leaf.allows_server_auth() {
        let eku = if v1 {
            "no EKU extension (a v1 certificate has no extensions)".into()
        } else if leaf.has_eku_ext {
            leaf.eku.join(", ")
        } else {
            "no EKU extension (any use)".into()
        };
        v.steps
            .push(Step::new(StepKind::ServerEku, StepState::Ok, eku));
    } else {
        let msg = format!(
            "the server certificate's extendedKeyUsage is {} — serverAuth is missing",
            leaf.eku.join(", ")
        );
        v.reasons.push((Code::ServerCertBadUsage, msg.clone()));
        v.steps.push(Step::new(StepKind::ServerEku, v.bad, msg));
    }
}

/// The reissue reasons as one finding with one fix (or the expiry warning).
fn conclude(v: &mut Verdicts, leaf: &CertInfo, m: &Material, ctx: &Ctx) {
    if let Some(&(code, _)) = v.reasons.first() {
        let message = v
            .reasons
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("; and ");
        let mut fix = ctx.reissue_server(leaf, &m.ca);
        if let Some(alt) = name_alternative(leaf, ctx)
            && v.reasons.iter().all(|(c, _)| *c == Code::NameMismatch)
        {
            fix.text = format!("{alt}; or {}", fix.text);
        }
        v.out.push(Finding::with_fix(code, v.sev, message, fix));
    } else if let Some(msg) = v.expiring.take() {
        let mut fix = ctx.reissue_server(leaf, &m.ca);
        fix.text = format!("renew it before then: {}", fix.text);
        v.out.push(Finding::with_fix(
            Code::ServerCertExpiring,
            Severity::Warning,
            msg,
            fix,
        ));
    }
}

/// A verifier complaint none of the checks explains.
fn unexplained(v: &mut Verdicts, verify_error: Option<&rustls::Error>, v1: bool) {
    if let Some(e) = verify_error
        && !v1
        && v.out.iter().all(|f| f.severity == Severity::Warning)
    {
        v.out.push(Finding::new(
            Code::TlsError,
            v.sev,
            format!("the server certificate failed verification: {e}"),
            "look at the certificate (`openssl x509 -in server-cert.pem -noout -text`) for what the verifier refuses",
        ));
    }
}

/// Point the profile at a name the certificate holds instead (advice: it
/// must resolve to this daemon).
fn name_alternative(leaf: &CertInfo, ctx: &Ctx) -> Option<String> {
    let alt = leaf
        .dns_names
        .iter()
        .find(|n| !n.starts_with('*'))
        .map(|n| n.to_string())
        .or_else(|| leaf.ip_addrs.first().map(|i| i.to_string()))?;
    let alt = if alt.contains(':') {
        format!("[{alt}]")
    } else {
        alt
    };
    Some(format!(
        "use a host name the certificate holds: point the profile at tcp://{alt}:{} if it resolves to this daemon (e.g. via /etc/hosts)",
        ctx.port
    ))
}

/// An X.509 v1 certificate (what `openssl x509 -req` makes without `-extfile`).
pub fn is_v1_der(der: &[u8]) -> bool {
    use x509_parser::prelude::FromDer;
    x509_parser::certificate::X509Certificate::from_der(der)
        .is_ok_and(|(_, c)| c.version() == x509_parser::x509::X509Version::V1)
}

/// webpki refuses X.509 v1 certificates (`UnsupportedCertVersion`, only
/// reachable through rustls' `Other` error, hence the Debug match).
pub(crate) fn is_v1_cert(e: &rustls::Error) -> bool {
    format!("{e:?}").contains("UnsupportedCertVersion")
}

/// The handshake failed on a v1 certificate before the chain was seen
/// (the server-certificate step, when it ran, says more and gives the fix).
pub(crate) fn v1_cert(_ctx: &Ctx) -> Finding {
    Finding::error(
        Code::TlsError,
        "the server certificate is an X.509 v1 certificate (no extensions: no subjectAltName, no extendedKeyUsage); \
         TLS clients such as dctx and the docker CLI refuse v1 certificates",
        "reissue it as a v3 certificate: sign it with `-extfile` giving subjectAltName and extendedKeyUsage=serverAuth",
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Ca, ctx, material, verdict};
    use super::*;
    use rcgen::ExtendedKeyUsagePurpose as Eku;

    /// Each server-certificate check, from a real certificate and the real
    /// webpki verdict: (case, host, SANs, EKU, validity days, signed by the
    /// profile's CA, the error codes, the failing step).
    #[test]
    #[allow(clippy::type_complexity)]
    fn server_cert_table() {
        let ca = Ca::new("server-table-ca");
        let other = Ca::new("someone-else-ca");
        let m = material(&ca);
        let cases: &[(
            &str,
            &str,
            &[&str],
            &[Eku],
            (i64, i64),
            bool,
            &[Code],
            Option<StepKind>,
        )] = &[
            (
                "healthy",
                "127.0.0.1",
                &["127.0.0.1"],
                &[Eku::ServerAuth],
                (-1, 400),
                true,
                &[],
                None,
            ),
            (
                "healthy by name",
                "docker.example",
                &["docker.example"],
                &[Eku::ServerAuth],
                (-1, 400),
                true,
                &[],
                None,
            ),
            (
                "wrong name",
                "127.0.0.1",
                &["other.example"],
                &[Eku::ServerAuth],
                (-1, 400),
                true,
                &[Code::NameMismatch],
                Some(StepKind::HostName),
            ),
            (
                "CN only",
                "127.0.0.1",
                &[],
                &[Eku::ServerAuth],
                (-1, 400),
                true,
                &[Code::CnOnly],
                Some(StepKind::HostName),
            ),
            (
                "expired",
                "127.0.0.1",
                &["127.0.0.1"],
                &[Eku::ServerAuth],
                (-30, -1),
                true,
                &[Code::ServerCertExpired],
                Some(StepKind::Validity),
            ),
            (
                "not yet valid",
                "127.0.0.1",
                &["127.0.0.1"],
                &[Eku::ServerAuth],
                (2, 400),
                true,
                &[Code::ServerCertNotYetValid],
                Some(StepKind::Validity),
            ),
            (
                "client EKU only",
                "127.0.0.1",
                &["127.0.0.1"],
                &[Eku::ClientAuth],
                (-1, 400),
                true,
                &[Code::ServerCertBadUsage],
                Some(StepKind::ServerEku),
            ),
            (
                "another CA",
                "127.0.0.1",
                &["127.0.0.1"],
                &[Eku::ServerAuth],
                (-1, 400),
                false,
                &[Code::UnknownCa],
                Some(StepKind::ServerChain),
            ),
        ];
        for (case, host, sans, eku, (from, to), ours, want, failing) in cases {
            let issuer = if *ours { &ca } else { &other };
            let leaf = issuer.leaf("daemon", sans, eku, *from, *to);
            let err = verdict(&m, &leaf, host);
            let (fs, steps) = server_cert(
                std::slice::from_ref(&leaf.info),
                err.as_ref(),
                &m,
                &ctx(host),
            );
            let errors: Vec<Code> = fs
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.code)
                .collect();
            assert_eq!(&errors, want, "{case}: {fs:#?}");
            assert_eq!(steps.len(), 4, "{case}: {steps:?}");
            for s in &steps {
                let fails = Some(s.step) == *failing;
                assert_eq!(s.state == StepState::Fail, fails, "{case}: {s:?}");
            }
        }
    }

    #[test]
    fn expiring_is_a_warning_only() {
        let ca = Ca::new("expiring-ca");
        let m = material(&ca);
        let leaf = ca.leaf("daemon", &["127.0.0.1"], &[Eku::ServerAuth], -1, 10);
        let err = verdict(&m, &leaf, "127.0.0.1");
        let (fs, _) = server_cert(
            std::slice::from_ref(&leaf.info),
            err.as_ref(),
            &m,
            &ctx("127.0.0.1"),
        );
        let codes: Vec<(Code, Severity)> = fs.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(codes, [(Code::ServerCertExpiring, Severity::Warning)]);
    }
}
