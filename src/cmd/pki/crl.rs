//! `dctx pki crl`: sign, fetch (OpenBao/Vault), install or check a CRL.

use std::path::Path;

use anyhow::{Context, bail};

use super::{crl_copy, file_path, load_ca};
use crate::cli::pki::CrlArgs;
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::crl;
use crate::pki::inspect::rfc3339;
use crate::pki::issue::Pki;
use crate::pki::revoke as revocation;

pub(super) fn run(pki: &Pki, a: CrlArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if let Some(file) = &a.check {
        return crl_check(pki, file, &a, env);
    }
    let (installed, target) = match (&a.vault, &a.from) {
        (Some(addr), _) => {
            let out = a.output.as_deref().expect("clap: --vault requires -o");
            (crl_vault(addr, out, &a, env)?, out.to_path_buf())
        }
        (None, Some(from)) => {
            let out = a.output.as_deref().expect("clap: --from requires -o");
            let ca = match &a.ca {
                Some(f) => read_ca_file(f)?,
                None => pki.ca_cert()?.1,
            };
            let pem = std::fs::read_to_string(from)
                .with_context(|| format!("reading {}", from.display()))?;
            (
                crl::install(&file_path(out), &pem, &ca, env.now, a.force)?,
                out.to_path_buf(),
            )
        }
        (None, None) => match crl_local(pki, &a, env)? {
            (pem, None) => {
                print(&pem)?;
                return Ok(exit::Exit::Ok);
            }
            (_, Some(i)) => (i, file_path(a.output.as_deref().expect("written"))),
        },
    };
    let was = match &installed.replaced {
        Some(n) => format!(
            " (replacing number {})",
            n.as_ref()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "none".into())
        ),
        None => String::new(),
    };
    print(&format!(
        "Wrote {}: {}{was}\n",
        target.display(),
        crate::output::sanitize(&installed.info.summary(env.now))
    ))?;
    if let Some(cmd) = &a.reload {
        reload(cmd, &target)?;
    }
    Ok(exit::Exit::Ok)
}

/// Run the reload command; the new CRL is already in place.
fn reload(cmd: &str, target: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!(
            "the new CRL is in place at {}, but the reload command {cmd:?} failed ({status}): the front still uses the old one",
            target.display()
        );
    }
    eprintln!("ran {cmd:?}");
    Ok(())
}

/// Sign a CRL with the local CA; also kept as `<pki>/crl.pem` (what `pki ls`
/// and `doctor` read). Returns the PEM and, with -o, what was installed.
fn crl_local(
    pki: &Pki,
    a: &CrlArgs,
    env: &Env,
) -> anyhow::Result<(String, Option<crl::Installed>)> {
    if a.ca.is_some() {
        bail!("--ca applies to --vault, --from and --check; the local CA signs this CRL");
    }
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let ca_info = ca.info.clone();
    let revoked = revocation::load(&pki.dir)?;
    // The next number is above both the CA's last CRL and the one at -o, so
    // a lost crl.pem never makes the front refuse the new CRL as older.
    let mut last = crl::read(&crl_copy(pki))
        .ok()
        .flatten()
        .and_then(|c| c.number);
    if let Some(out) = &a.output
        && let Ok(Some(c)) = crl::read(&file_path(out))
        && c.verify(&ca.info).is_ok()
        && c.number > last
    {
        last = c.number;
    }
    let number = last.unwrap_or_default() + 1u32;
    let pem = crl::sign(&ca, &revoked, &number, env.now, a.days)?;
    crl::install(&crl_copy(pki), &pem, &ca_info, env.now, true)?;
    let installed = match &a.output {
        Some(out) => Some(crl::install(
            &file_path(out),
            &pem,
            &ca_info,
            env.now,
            a.force,
        )?),
        None => None,
    };
    Ok((pem, installed))
}

fn read_ca_file(f: &Path) -> anyhow::Result<crate::pki::CertInfo> {
    let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
    let Some(ca) = crate::pki::inspect::certs_from_pem(&data)
        .into_iter()
        .find(|c| c.is_ca)
    else {
        bail!("{} holds no CA certificate", f.display());
    };
    Ok(ca)
}

fn crl_vault(addr: &str, out: &Path, a: &CrlArgs, env: &Env) -> anyhow::Result<crl::Installed> {
    let base = addr.trim_end_matches('/');
    let mount = a.mount.trim_matches('/');
    let get = |what: &str| {
        let url = format!("{base}/v1/{mount}/{what}");
        crl::http_get(
            &url,
            a.vault_ca.as_deref(),
            std::time::Duration::from_secs(15),
        )
        .with_context(|| format!("fetching {url}"))
    };
    let ca = match &a.ca {
        Some(f) => read_ca_file(f)?,
        None => {
            let data = get("ca/pem")?;
            crate::pki::inspect::certs_from_pem(&data)
                .into_iter()
                .next()
                .with_context(|| format!("{base}/v1/{mount}/ca/pem holds no certificate"))?
        }
    };
    let body = get("crl/pem")?;
    let pem = String::from_utf8(body).context("the engine's CRL is not PEM text")?;
    crl::install(&file_path(out), &pem, &ca, env.now, a.force)
}

fn crl_check(pki: &Pki, file: &Path, a: &CrlArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let info = crl::read(file)?.with_context(|| format!("{} does not exist", file.display()))?;
    let mut msg = format!(
        "{}: CRL of {}\n  {}\n",
        file.display(),
        crate::output::sanitize(&info.issuer),
        crate::output::sanitize(&info.summary(env.now))
    );
    let ca = match &a.ca {
        Some(f) => Some(read_ca_file(f)?),
        None => pki.ca_cert().ok().map(|(_, c)| c),
    };
    if let Some(ca) = ca {
        match info.verify(&ca) {
            Ok(()) => msg.push_str(&format!(
                "  signed by the CA \"{}\"\n",
                crate::output::sanitize(ca.display_name())
            )),
            Err(e) if a.ca.is_some() => return Err(e),
            // The local CA is only a guess at which CA this is.
            Err(_) => {}
        }
    }
    print(&msg)?;
    let next = || rfc3339(info.next_update.unwrap_or_default());
    match crl::freshness(&info, env.now, a.warn_days) {
        crl::Freshness::Fresh => Ok(exit::Exit::Ok),
        crl::Freshness::Open => {
            eprintln!("warning: the CRL has no next update");
            Ok(exit::Exit::Ok)
        }
        crl::Freshness::Lapsing => {
            eprintln!(
                "warning: the CRL lapses at {} ({}): a front checking it then refuses every client; \
                 write a new one before (dctx pki crl -o {})",
                next(),
                crl::when(info.left(env.now).unwrap_or_default()),
                file.display()
            );
            Ok(exit::Exit::Ok)
        }
        crl::Freshness::Lapsed => {
            eprintln!(
                "error: the CRL lapsed at {}: a front checking it refuses every client; \
                 write a new one now (dctx pki crl -o {})",
                next(),
                file.display()
            );
            Ok(exit::Exit::Unhealthy)
        }
    }
}
