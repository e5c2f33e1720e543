//! `dctx pki ls`: the CA, what it issued, what was revoked, the CRL.

use super::crl_copy;
use crate::cli::pki::PkiLsArgs;
use crate::cmd::print;
use crate::environment::Env;
use crate::exit;
use crate::pki::crl::{self, CrlInfo};
use crate::pki::inspect::rfc3339;
use crate::pki::issue::{IssuedMeta, Pki};
use crate::pki::revoke as revocation;

#[derive(serde::Serialize)]
struct LsRow {
    name: String,
    kind: &'static str,
    names: Vec<String>,
    key_type: String,
    serial: String,
    /// RFC 3339, like every time in dctx's JSON.
    not_before: String,
    not_after: String,
    days_left: i64,
    /// Set when `pki revoke` recorded this serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<LsRevoked>,
}

#[derive(serde::Serialize)]
struct LsRevoked {
    at: String,
    reason: &'static str,
}

fn key_label(cert_key_type: &str) -> String {
    match cert_key_type {
        "EC-256" => "ecdsa-p256".into(),
        "EC-384" => "ecdsa-p384".into(),
        k => k
            .strip_prefix("RSA-")
            .map(|b| format!("rsa-{b}"))
            .unwrap_or_else(|| k.to_string()),
    }
}

pub(super) fn run(pki: &Pki, a: PkiLsArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let (rows, revoked) = rows(pki, env.now)?;
    if a.json {
        print(&(serde_json::to_string_pretty(&rows)? + "\n"))?;
        return Ok(exit::Exit::Ok);
    }
    if rows.is_empty() {
        print(&format!(
            "No CA in {} (create one with `dctx pki init`).\n",
            pki.dir.display()
        ))?;
        return Ok(exit::Exit::Ok);
    }
    let mut out = table(&rows, env);
    revocation_notes(pki, &revoked, env.now, &mut out);
    print(&out)?;
    Ok(exit::Exit::Ok)
}

/// The CA's row first, then every issued certificate marked with its
/// revocation (if any); the revocation list is returned too for the notes.
fn rows(pki: &Pki, now: i64) -> anyhow::Result<(Vec<LsRow>, Vec<revocation::Revoked>)> {
    let mut rows = Vec::new();
    if pki.ca_cert_path().exists() {
        let (_, ca) = pki.ca_cert()?;
        rows.push(LsRow {
            name: "ca".into(),
            kind: "ca",
            names: vec![ca.display_name().to_string()],
            key_type: key_label(&ca.key_type),
            serial: ca.serial.replace(':', "").to_ascii_uppercase(),
            not_before: rfc3339(ca.not_before),
            not_after: ca.not_after_rfc3339(),
            days_left: ca.days_left(now),
            revoked: None,
        });
    }
    let revoked = revocation::load(&pki.dir)?;
    for m in pki.records()? {
        let mut r = row(&m, now);
        r.revoked = revoked
            .iter()
            .find(|x| revocation::normalize_serial(&m.serial).is_ok_and(|s| s == x.serial))
            .map(|x| LsRevoked {
                at: rfc3339(x.revoked),
                reason: x.reason.label(),
            });
        rows.push(r);
    }
    Ok((rows, revoked))
}

/// The rows as a table; a revoked certificate shows "revoked" instead of
/// its days left.
fn table(rows: &[LsRow], env: &Env) -> String {
    use crate::output::table::{Cell, Column, Table};
    use crate::text::expiry::Expiry;
    let mut t = Table::new(vec![
        Column::always("NAME"),
        Column::optional("KIND", 3),
        Column::optional("NAMES", 1).truncate(12),
        Column::optional("KEY", 4),
        Column::optional("SERIAL", 5).truncate(10),
        Column::optional("EXPIRES", 2),
        Column::always("DAYS LEFT"),
    ]);
    for r in rows {
        let e = Expiry::from_days_left(r.days_left);
        let left = match &r.revoked {
            Some(_) => Cell::styled("revoked", Expiry::from_days_left(-1).style()),
            None => Cell::styled(e.short(), e.style()),
        };
        t.add_row(vec![
            r.name.as_str().into(),
            r.kind.into(),
            r.names.join(", ").into(),
            r.key_type.as_str().into(),
            r.serial.as_str().into(),
            r.not_after.as_str().into(),
            left,
        ]);
    }
    t.render(crate::output::width(env, false), crate::output::styled(env))
}

/// One line per revocation, then the CRL's state: a revocation only takes
/// effect at a front once a CRL carrying it is signed.
fn revocation_notes(pki: &Pki, revoked: &[revocation::Revoked], now: i64, out: &mut String) {
    for x in revoked {
        out.push_str(&format!(
            "revoked: {}serial {} since {} ({})\n",
            x.name.as_ref().map(|n| format!("{n} ")).unwrap_or_default(),
            x.serial,
            rfc3339(x.revoked),
            x.reason.label()
        ));
    }
    match ca_crl(pki) {
        Some(c) => {
            let stale = c
                .next_update
                .is_some_and(|n| n <= now + i64::from(crl::DEFAULT_WARN_DAYS) * 86_400);
            out.push_str(&format!(
                "{}{}\n",
                c.summary(now),
                if stale {
                    " - write a new one: dctx pki crl -o FILE"
                } else {
                    ""
                }
            ));
        }
        None if !revoked.is_empty() => out.push_str(
            "CRL: none signed yet; a front refuses revoked certificates once it has one: dctx pki crl -o FILE\n",
        ),
        None => {}
    }
}

fn row(m: &IssuedMeta, now: i64) -> LsRow {
    LsRow {
        name: m.name.clone(),
        kind: m.kind.label(),
        names: m.names.clone(),
        key_type: m.key_type.label().into(),
        serial: m.serial.clone(),
        not_before: rfc3339(m.not_before),
        not_after: rfc3339(m.not_after),
        days_left: crate::text::expiry::Expiry::new(m.not_after, now).days_left(),
        revoked: None,
    }
}

/// The CA's latest CRL, if it ever signed one (for `pki ls`).
fn ca_crl(pki: &Pki) -> Option<CrlInfo> {
    crl::read(&crl_copy(pki)).ok().flatten()
}
