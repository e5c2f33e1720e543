//! A TLS front before dockerd (nginx as `dctx pki daemon-config --format
//! nginx` renders it) refusing this identity: a revoked client certificate
//! (`client-cert-revoked`) or a subject it does not let in
//! (`forbidden-by-front`). Revocation evidence from a CRL is gathered by the
//! caller (I/O) and judged here.

use super::{Ctx, clean_body};
use crate::conn::tls::Material;
use crate::pki::CertInfo;
use crate::probe::finding::Severity;
use crate::probe::finding::{Code, Finding};

use crate::pki::crl::CrlInfo;

/// How the rendered front starts every refusal message.
pub const FRONT_PREFIX: &str = "dctx front: ";

/// The front's own answer: a 403 with dctx's JSON message, or any HTML 403
/// (dockerd never answers HTML, so something in front of it did).
pub fn front_answer(
    status: u16,
    message: &str,
    m: Option<&Material>,
    ctx: &Ctx,
) -> Option<Finding> {
    if status != 403 {
        return None;
    }
    let info = m.and_then(|m| m.client_info.as_ref());
    let Some(text) = message.strip_prefix(FRONT_PREFIX) else {
        if message.to_ascii_lowercase().contains("<html") {
            return Some(forbidden(info, &clean_body(message), None, ctx));
        }
        return None;
    };
    let (reason, ask) = match text.rsplit_once(" (ask ") {
        Some((r, a)) => (r, a.strip_suffix(')')),
        None => (text, None),
    };
    if reason.contains("certificate revoked") {
        return Some(revoked(
            info,
            &format!("the front at {}:{} says \"{reason}\"", ctx.host, ctx.port),
            ask,
            ctx,
        ));
    }
    if let Some(why) = reason.strip_prefix("client certificate refused: ") {
        return Some(cert_refused(info, why, ask, ctx));
    }
    Some(forbidden(info, reason, ask, ctx))
}

pub(super) fn who(info: Option<&CertInfo>) -> String {
    match info {
        Some(i) => format!("{} (serial {})", i.subject, serial(i)),
        None => "this client (no certificate)".into(),
    }
}

fn serial(i: &CertInfo) -> String {
    i.serial.replace(':', "").to_ascii_uppercase()
}

fn ask_whom(ask: Option<&str>) -> String {
    match ask {
        Some(a) => a.to_string(),
        None => "the daemon's administrator".into(),
    }
}

/// The front let the TLS handshake through but refuses this subject.
pub fn forbidden(info: Option<&CertInfo>, reason: &str, ask: Option<&str>, ctx: &Ctx) -> Finding {
    let subject = info.map(|i| i.subject.as_str()).unwrap_or("(none)");
    Finding::error(
        Code::ForbiddenByFront,
        format!(
            "the front at {}:{} answers 403 to {}: {reason}",
            ctx.host,
            ctx.port,
            who(info)
        ),
        format!(
            "ask {} to let subject \"{subject}\" in (`dctx pki daemon-config --format nginx --allow` \
             or `--read-only`), or use a profile whose certificate it allows",
            ask_whom(ask)
        ),
    )
}

/// The front's certificate check failed for another reason than revocation
/// (`$ssl_client_verify`, e.g. `FAILED:CRL has expired`).
fn cert_refused(info: Option<&CertInfo>, why: &str, ask: Option<&str>, ctx: &Ctx) -> Finding {
    let fix = if why.contains("CRL has expired") {
        format!(
            "the front's CRL is past its next update, so it refuses every client: ask {} to install a fresh one \
             (`dctx pki crl -o FILE --reload 'nginx -s reload'`; `dctx pki crl --check FILE` warns before it lapses)",
            ask_whom(ask)
        )
    } else if why.contains("unable to get certificate CRL") {
        format!(
            "the front has no CRL from the CA that issued this certificate: ask {} to add it to its ssl_crl file",
            ask_whom(ask)
        )
    } else {
        format!(
            "ask {} why the front refuses this certificate; its access log names the subject and serial",
            ask_whom(ask)
        )
    };
    Finding::error(
        Code::ClientCertRejected,
        format!(
            "the front at {}:{} refused our client certificate {}: {why}",
            ctx.host,
            ctx.port,
            who(info)
        ),
        fix,
    )
}

/// This certificate is revoked; `evidence` says who says so.
pub fn revoked(info: Option<&CertInfo>, evidence: &str, ask: Option<&str>, ctx: &Ctx) -> Finding {
    Finding::error(
        Code::ClientCertRevoked,
        format!(
            "our client certificate {} is revoked: {evidence}",
            who(info)
        ),
        format!(
            "a revoked certificate never works again: ask {} for a new one \
             (`dctx pki client NAME` with dctx's CA, or your PKI's issue command) and re-import it \
             (`dctx add {} --bundle … --replace`)",
            ask_whom(ask),
            ctx.name
        ),
    )
}

/// The finding when `crl` lists `info`'s serial. `verified`: its signature
/// checked out against a CA we hold.
pub fn crl_says_revoked(
    info: &CertInfo,
    crl: &CrlInfo,
    source: &str,
    verified: bool,
    ctx: &Ctx,
) -> Option<Finding> {
    if !crl.is_revoked(&info.serial) {
        return None;
    }
    Some(revoked(
        Some(info),
        &format!(
            "listed in the CRL {source} (number {}{})",
            crl.number_label(),
            if verified {
                ", signed by its CA"
            } else {
                ", signature not checked: no CA of this profile signed it"
            }
        ),
        None,
        ctx,
    ))
}

/// Fold CRL evidence into a report: it confirms a front's "revoked", explains
/// a rejection or a front's 403, and is a warning when the daemon still
/// accepts the certificate (its front checks no CRL, or an older one).
pub fn merge_revocation(report: &mut crate::probe::Report, mut f: Finding) {
    use crate::probe::Status;
    let explains = |c: Code| {
        matches!(
            c,
            Code::ClientCertRejected | Code::ApiError | Code::TlsError | Code::ForbiddenByFront
        )
    };
    if let Some(own) = report
        .findings
        .iter_mut()
        .find(|x| x.code == Code::ClientCertRevoked)
    {
        if let Some((_, evidence)) = f.message.split_once(" is revoked: ") {
            own.message.push_str(&format!("; {evidence}"));
        }
    } else if let Some(i) = report.findings.iter().position(|x| explains(x.code)) {
        report.findings[i] = f;
    } else {
        f.severity = Severity::Warning;
        f.message
            .push_str(", yet the daemon still accepts it: its front checks no CRL or an older one");
        f.fix = "install the current CRL at the front: `dctx pki crl -o FILE --reload 'nginx -s reload'` \
                 (`pki daemon-config --format nginx --crl FILE`)"
            .into();
        report.findings.push(f);
    }
    report.status = Status::from_findings(&report.findings);
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Ca, ctx, material};
    use super::*;

    #[test]
    fn front_answers() {
        let m = material(&Ca::new("front-table-ca"));
        let cases: &[(u16, &str, Option<Code>)] = &[
            (
                403,
                "dctx front: client certificate refused: FAILED:certificate revoked (ask ops@x)",
                Some(Code::ClientCertRevoked),
            ),
            (
                403,
                "dctx front: this client certificate is not allowed here (ask ops@x)",
                Some(Code::ForbiddenByFront),
            ),
            (
                403,
                "<html><head><title>403 Forbidden</title></head></html>",
                Some(Code::ForbiddenByFront),
            ),
            (
                403,
                "dctx front: client certificate refused: FAILED:CRL has expired (ask ops@x)",
                Some(Code::ClientCertRejected),
            ),
            (403, "authorization denied by plugin x", None),
            (
                400,
                "dctx front: this client certificate is not allowed here",
                None,
            ),
        ];
        for (status, body, want) in cases {
            let got = front_answer(*status, body, Some(&m), &ctx("127.0.0.1")).map(|f| f.code);
            assert_eq!(got, *want, "{status} {body}");
        }
        let f = front_answer(
            403,
            "dctx front: this client certificate is not allowed here (ask ops@x)",
            Some(&m),
            &ctx("127.0.0.1"),
        )
        .unwrap();
        assert!(f.fix.starts_with("ask ops@x "), "{}", f.fix);
    }
}
