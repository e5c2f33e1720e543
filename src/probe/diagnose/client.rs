//! The client certificate: what the profile's own certificate shows, and
//! what the server did with it.

use super::{Ctx, days_phrase, expired_phrase};
use crate::conn::tls::Material;
use crate::conn::tls::Observed;
use crate::conn::tls::name_to_string;
use crate::pki::CertInfo;
use crate::probe::finding::Code;
use crate::probe::finding::Finding;
use crate::probe::finding::Severity;
use crate::probe::report::Step;
use crate::probe::report::StepKind;
use crate::probe::report::StepState;

/// The profile's CA certificates: expired, or expiring within `warn_days`.
pub fn ca_local(cas: &[CertInfo], ctx: &Ctx) -> Vec<Finding> {
    let fix = format!(
        "renew the CA with its own key, so everything it signed stays valid: `dctx pki --dir DIR renew ca` \
         (DIR: the directory holding ca.pem and ca-key.pem), then re-import it: `dctx add {} --ca DIR/ca.pem --replace`",
        ctx.name
    );
    let mut out = Vec::new();
    for ca in cas {
        let days = ca.days_left(ctx.now);
        if ctx.now >= ca.not_after {
            out.push(Finding::error(
                Code::CaCertExpired,
                format!(
                    "the CA certificate {} {} (on {})",
                    ca.display_name(),
                    expired_phrase(ca.not_after, ctx.now),
                    ca.not_after_rfc3339()
                ),
                fix.clone(),
            ));
        } else if days < ctx.warn_days {
            out.push(Finding::warning(
                Code::CaCertExpiring,
                format!(
                    "the CA certificate {} expires in {} ({})",
                    ca.display_name(),
                    days_phrase(days),
                    ca.not_after_rfc3339()
                ),
                fix.clone(),
            ));
        }
    }
    out
}

/// Problems visible in the profile's own client certificate, before any I/O.
pub fn client_local(
    info: &CertInfo,
    cas: &[CertInfo],
    key_mismatch: bool,
    ctx: &Ctx,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if key_mismatch {
        out.push(Finding::error(
            Code::KeyMismatch,
            format!(
                "the profile's private key does not belong to its client certificate ({})",
                info.display_name()
            ),
            format!(
                "re-import the key that was generated with this certificate (`dctx add {} --cert cert.pem --key key.pem --ca ca.pem --replace`); \
                 compare `openssl x509 -in cert.pem -noout -pubkey` with `openssl pkey -in key.pem -pubout`",
                ctx.name
            ),
        ));
    }
    // Expiry and usage share one cause and one fix: a reissue.
    let (reasons, not_yet) = client_reasons(info, ctx);
    out.extend(not_yet);
    let worst = reasons.iter().map(|r| r.1).max();
    if let Some(sev) = worst {
        let (code, _, _) = reasons.iter().find(|r| r.1 == sev).unwrap();
        let message = reasons
            .iter()
            .map(|r| r.2.as_str())
            .collect::<Vec<_>>()
            .join("; and ");
        if key_mismatch {
            // The key is not this certificate's: reissuing for it is no fix.
            out.push(Finding::new(*code, sev, message, "fix key-mismatch first"));
        } else {
            out.push(Finding::with_fix(
                *code,
                sev,
                message,
                ctx.reissue_client(info, cas),
            ));
        }
    }
    out
}

/// Why the client certificate needs reissuing (expired, expiring, no
/// clientAuth), and a not-yet-valid finding (a clock, not a reissue).
fn client_reasons(info: &CertInfo, ctx: &Ctx) -> (Vec<(Code, Severity, String)>, Option<Finding>) {
    let days = info.days_left(ctx.now);
    let mut not_yet = None;
    let mut reasons: Vec<(Code, Severity, String)> = Vec::new();
    if ctx.now >= info.not_after {
        reasons.push((
            Code::ClientCertExpired,
            Severity::Error,
            format!(
                "the client certificate {} (on {})",
                expired_phrase(info.not_after, ctx.now),
                info.not_after_rfc3339()
            ),
        ));
    } else if ctx.now < info.not_before {
        not_yet = Some(Finding::error(
            Code::ClientCertNotYetValid,
            format!(
                "the client certificate is not valid before {} — check this machine's clock (clock skew?)",
                info.not_before_rfc3339()
            ),
            "check the clock on both machines (`timedatectl`), or reissue the client certificate",
        ));
    } else if days < ctx.warn_days {
        reasons.push((
            Code::ClientCertExpiring,
            Severity::Warning,
            format!(
                "the client certificate expires in {} ({})",
                days_phrase(days),
                info.not_after_rfc3339()
            ),
        ));
    }
    if !info.allows_client_auth() {
        reasons.push((
            Code::ClientCertBadUsage,
            Severity::Error,
            format!(
                "the client certificate's extendedKeyUsage is {} — without clientAuth the daemon rejects it",
                info.eku.join(", ")
            ),
        ));
    }
    (reasons, not_yet)
}

/// Did the server ask for a client certificate, and from which CAs?
pub fn client_request(obs: &Observed, m: &Material, ctx: &Ctx) -> (Vec<Finding>, Step) {
    let mut out = Vec::new();
    if !obs.client_cert_requested {
        return (
            out,
            Step::new(
                StepKind::ClientCertRequest,
                StepState::Warn,
                "the server did not ask for a client certificate",
            ),
        );
    }
    let cas: Vec<String> = obs
        .acceptable_cas
        .iter()
        .map(|d| name_to_string(d))
        .collect();
    let accepted = if cas.is_empty() {
        "any CA (it listed none)".to_string()
    } else {
        cas.join("; ")
    };
    let mut state = StepState::Ok;
    let mut detail = format!("yes; it accepts certificates issued by: {accepted}");
    match (&m.client_info, &m.client_issuer_der) {
        // Whether that is fatal shows on the first read (or HTTP 400):
        // some servers ask but do not insist.
        (None, _) => {
            state = StepState::Warn;
            detail.push_str("; the profile has none to send");
        }
        (Some(info), Some(issuer)) => {
            if !obs.acceptable_cas.is_empty() && !obs.acceptable_cas.iter().any(|h| h == issuer) {
                state = StepState::Fail;
                out.push(Finding::error(
                    Code::ClientCaNotAccepted,
                    format!(
                        "the server accepts client certificates from {accepted}, but ours ({}) was issued by {}",
                        info.display_name(),
                        info.issuer
                    ),
                    format!(
                        "get a client certificate issued by the daemon's CA ({accepted}) and re-import it \
                         (`dctx add {} --cert cert.pem --key key.pem --replace`), or add the CA {} to the daemon's --tlscacert bundle",
                        ctx.name, info.issuer
                    ),
                ));
            } else {
                detail.push_str(&format!("; ours is issued by {}", info.issuer));
            }
        }
        _ => {}
    }
    (out, Step::new(StepKind::ClientCertRequest, state, detail))
}

pub(crate) fn missing_client_cert(ctx: &Ctx, accepted: &str) -> Finding {
    Finding::with_fix(
        Code::ClientCertMissing,
        Severity::Error,
        format!(
            "the daemon requires a client certificate (from {accepted}) and the profile has none"
        ),
        ctx.reimport("import a client certificate and key issued by the daemon's CA"),
    )
}

/// The server refused our client certificate (or its absence); `how` says
/// how it said so.
pub fn client_rejected(how: &str, obs: &Observed, m: &Material, ctx: &Ctx) -> Finding {
    let Some(info) = &m.client_info else {
        let accepted = if obs.acceptable_cas.is_empty() {
            "its CA".to_string()
        } else {
            obs.acceptable_cas
                .iter()
                .map(|d| name_to_string(d))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut f = missing_client_cert(ctx, &accepted);
        f.message = format!("{} ({how})", f.message);
        return f;
    };
    let fix = if m.key_mismatch {
        "use the private key that belongs to the client certificate (see key-mismatch)".to_string()
    } else if ctx.now >= info.not_after {
        "renew the expired client certificate from the daemon's CA (`dctx pki --dir DIR client NAME --out NAME.tar`, \
         DIR holding its ca.pem and ca-key.pem) and re-import it"
            .to_string()
    } else if !info.allows_client_auth() {
        "reissue the client certificate with extendedKeyUsage=clientAuth".to_string()
    } else {
        format!(
            "the daemon's --tlscacert must contain the CA that issued our client certificate ({}); \
             either get a client certificate from the daemon's CA, or add that CA to the daemon's --tlscacert and restart it",
            info.issuer
        )
    };
    Finding::error(
        Code::ClientCertRejected,
        format!(
            "the daemon rejected our client certificate {} ({how})",
            info.display_name()
        ),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Ca, ctx};
    use super::*;
    use rcgen::ExtendedKeyUsagePurpose as Eku;

    /// (case, validity from/to in days from now, EKU, key mismatch, codes).
    #[test]
    #[allow(clippy::type_complexity)]
    fn client_local_table() {
        let ca = Ca::new("client-table-ca");
        let cases: &[(&str, i64, i64, &[Eku], bool, &[Code])] = &[
            ("healthy", -1, 400, &[Eku::ClientAuth], false, &[]),
            (
                "expired",
                -30,
                -2,
                &[Eku::ClientAuth],
                false,
                &[Code::ClientCertExpired],
            ),
            (
                "not yet valid",
                2,
                400,
                &[Eku::ClientAuth],
                false,
                &[Code::ClientCertNotYetValid],
            ),
            (
                "expiring",
                -1,
                10,
                &[Eku::ClientAuth],
                false,
                &[Code::ClientCertExpiring],
            ),
            (
                "server EKU",
                -1,
                400,
                &[Eku::ServerAuth],
                false,
                &[Code::ClientCertBadUsage],
            ),
            (
                "key mismatch",
                -1,
                400,
                &[Eku::ClientAuth],
                true,
                &[Code::KeyMismatch],
            ),
        ];
        for (case, from, to, eku, mismatch, want) in cases {
            let leaf = ca.leaf("alice", &[], eku, *from, *to);
            let got: Vec<Code> = client_local(&leaf.info, &[], *mismatch, &ctx("h"))
                .iter()
                .map(|f| f.code)
                .collect();
            assert_eq!(&got, want, "{case}");
        }
    }

    #[test]
    fn not_yet_valid_names_clock_skew() {
        let ca = Ca::new("skew-ca");
        let leaf = ca.leaf("bob", &[], &[Eku::ClientAuth], 3, 400);
        let f = &client_local(&leaf.info, &[], false, &ctx("h"))[0];
        assert!(f.message.contains("clock skew"), "{f:?}");
        assert!(f.fix.contains("clock"), "{f:?}");
    }
}
