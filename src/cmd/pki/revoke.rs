//! `dctx pki revoke`: record a serial for the next CRL.

use anyhow::{Context, bail};

use crate::cli::pki::RevokeArgs;
use crate::cmd::print;
use crate::environment::Env;
use crate::exit;
use crate::pki::issue::Pki;
use crate::pki::revoke::{self as revocation, Revoked};

pub(super) fn run(pki: &Pki, a: RevokeArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let _lock = pki.lock()?;
    let (_, ca) = pki.ca_cert()?;
    let records = pki.records()?;
    let (serial, name) = match (&a.name, &a.serial, &a.cert) {
        (Some(name), _, _) => {
            let m = pki.load_record(name)?;
            (revocation::normalize_serial(&m.serial)?, Some(m.name))
        }
        (_, Some(raw), _) => (revocation::normalize_serial(raw)?, None),
        (_, _, Some(file)) => {
            let data =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let der = match pem::parse(&data) {
                Ok(p) if p.tag() == "CERTIFICATE" => p.into_contents(),
                _ => data,
            };
            let info =
                crate::pki::CertInfo::from_der(&der).with_context(|| file.display().to_string())?;
            if !info.is_signed_by(&ca) {
                bail!(
                    "{} was not issued by this CA (\"{}\" in {}): a CRL of this CA cannot revoke it",
                    file.display(),
                    crate::output::sanitize(ca.display_name()),
                    pki.dir.display()
                );
            }
            (revocation::normalize_serial(&info.serial)?, None)
        }
        (None, None, None) => unreachable!("clap requires one"),
    };
    let name = name.or_else(|| {
        records
            .iter()
            .find(|m| revocation::normalize_serial(&m.serial).is_ok_and(|s| s == serial))
            .map(|m| m.name.clone())
    });
    if name.is_none() {
        eprintln!(
            "warning: no certificate with serial {serial} was issued from {} (recording it anyway)",
            pki.dir.display()
        );
    }
    let reason: revocation::Reason = a.reason.into();
    revocation::add(
        &pki.dir,
        Revoked {
            serial: serial.clone(),
            name: name.clone(),
            reason,
            revoked: env.now,
        },
    )?;
    print(&format!(
        "Revoked {}serial {serial} ({})\n\
         A front refuses it once its CRL lists it: dctx pki crl -o <the front's ssl_crl file> --reload 'nginx -s reload'\n",
        name.map(|n| format!("{n:?}, ")).unwrap_or_default(),
        reason.label()
    ))?;
    Ok(exit::Exit::Ok)
}
