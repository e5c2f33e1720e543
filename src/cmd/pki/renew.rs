//! `dctx pki renew`: a leaf again from its record, or the CA in place.

use anyhow::bail;

use super::client::write_client;
use super::server::write_server;
use super::{absolute, load_ca, summary};
use crate::cli::pki::RenewArgs;
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::inspect::rfc3339;
use crate::pki::issue::{self, Kind, LeafRequest, Pki};

pub(super) fn run(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.name == "ca" {
        return renew_ca(pki, a, env);
    }
    let meta = pki.load_record(&a.name)?;
    match meta.kind {
        Kind::Server => {
            if a.out.is_none() {
                bail!(
                    "renewing server {:?} needs --out DIR for the new ca.pem, server-cert.pem, server-key.pem{}",
                    meta.name,
                    meta.out
                        .as_ref()
                        .map(|o| format!(" (last written to {})", o.display()))
                        .unwrap_or_default()
                );
            }
            if a.p12.is_some() {
                bail!("--p12 is for client certificates");
            }
        }
        Kind::Client => {
            if a.out.is_none() && a.p12.is_none() {
                bail!(
                    "renewing client {:?} needs --out (tar or dir) and/or --p12{}",
                    meta.name,
                    meta.out
                        .as_ref()
                        .map(|o| format!(" (last written to {})", o.display()))
                        .unwrap_or_default()
                );
            }
        }
    }
    let hosts = meta
        .names
        .iter()
        .filter(|_| meta.kind == Kind::Server)
        .map(|n| issue::parse_host(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let p12_password = match a.p12 {
        Some(_) => Some(secrets.ask(&format!("export password for {}.p12", meta.name), true)?),
        None => None,
    };
    let req = LeafRequest {
        name: meta.name.clone(),
        kind: meta.kind,
        hosts,
        key_type: meta.key_type,
        days: a.days.unwrap_or(meta.days),
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = a.out.as_deref().or(a.p12.as_deref()).map(absolute);
    let files = match meta.kind {
        Kind::Server => write_server(a.out.as_deref().expect("checked"), &issued)?,
        Kind::Client => {
            let p12 = a
                .p12
                .as_deref()
                .zip(p12_password.as_ref().map(|p| p.as_str()));
            write_client(a.out.as_deref(), p12, &issued, env.now)?
        }
    };
    pki.record(&issued)?;
    print(&format!(
        "{}  replaces serial {} (expiring {})\n{files}",
        summary(&issued, env.now, "Renewed"),
        meta.serial,
        rfc3339(meta.not_after)
    ))?;
    Ok(exit::Exit::Ok)
}

fn renew_ca(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.out.is_some() || a.p12.is_some() {
        bail!(
            "`renew ca` rewrites {} in place; --out / --p12 do not apply",
            pki.ca_cert_path().display()
        );
    }
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let old = ca.info.clone();
    let info = pki.renew_ca(&ca, a.days.unwrap_or(issue::DEFAULT_CA_DAYS), env.now)?;
    print(&format!(
        "Renewed CA \"{}\" (same key and subject: certificates it issued stay valid)\n  serial {}, valid until {} ({})\n  replaces serial {} (expiring {})\n\
         Distribute the new {} to clients and daemons (ca.pem in bundles and --cert-dir).\n",
        info.display_name(),
        info.serial.replace(':', "").to_ascii_uppercase(),
        info.not_after_rfc3339(),
        crate::text::expiry::Expiry::new(info.not_after, env.now),
        old.serial.replace(':', "").to_ascii_uppercase(),
        old.not_after_rfc3339(),
        pki.ca_cert_path().display(),
    ))?;
    Ok(exit::Exit::Ok)
}
