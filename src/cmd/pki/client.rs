//! `dctx pki client`: a user's certificate, as a bundle, a directory or PKCS#12.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{absolute, file_path, load_ca, refuse_existing, refuse_reissue, summary};
use crate::cli::pki::ClientArgs;
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::issue::{self, Issued, Kind, LeafRequest, Pki};
use crate::store::atomic;

pub(super) fn run(pki: &Pki, a: ClientArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    issue::validate_name(&a.name)?;
    let _lock = pki.lock()?;
    refuse_reissue(pki, &a.name, a.issue.force)?;
    refuse_existing(
        &client_targets(a.out.as_deref(), a.p12.as_deref()),
        a.issue.force,
    )?;
    let mut secrets = Secrets::new(a.issue.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let p12_password = match a.p12 {
        Some(_) => Some(secrets.ask(&format!("export password for {}.p12", a.name), true)?),
        None => None,
    };
    let req = LeafRequest {
        name: a.name,
        kind: Kind::Client,
        hosts: vec![],
        key_type: a.issue.key_type.into(),
        days: a.issue.days,
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = a.out.as_deref().or(a.p12.as_deref()).map(absolute);
    let p12 = a
        .p12
        .as_deref()
        .zip(p12_password.as_ref().map(|p| p.as_str()));
    let files = write_client(a.out.as_deref(), p12, &issued, env.now)?;
    pki.record(&issued)?;
    let mut msg = summary(&issued, env.now, "Issued") + &files;
    if let Some(out) = &a.out {
        msg.push_str(&format!(
            "Import it: dctx add <profile> --bundle {} -H tcp://<daemon>:2376\n",
            out.display()
        ));
    }
    print(&msg)?;
    Ok(exit::Exit::Ok)
}

/// Archive flavour of a client `--out`: Some(gzip?) for a tar, None for a directory.
fn archive_kind(p: &Path) -> Option<bool> {
    let s = p.to_string_lossy().to_ascii_lowercase();
    if s.ends_with(".tar.gz") || s.ends_with(".tgz") {
        Some(true)
    } else if s.ends_with(".tar") {
        Some(false)
    } else {
        None
    }
}

fn client_targets(out: Option<&Path>, p12: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(out) = out {
        match archive_kind(out) {
            Some(_) => v.push(out.to_path_buf()),
            None => v.extend(["ca.pem", "cert.pem", "key.pem"].map(|f| out.join(f))),
        }
    }
    if let Some(p) = p12 {
        v.push(p.to_path_buf());
    }
    v
}

pub(super) fn write_client(
    out: Option<&Path>,
    p12: Option<(&Path, &str)>,
    issued: &Issued,
    now: i64,
) -> anyhow::Result<String> {
    let mut lines = String::new();
    if let Some(out) = out {
        match archive_kind(out) {
            Some(gz) => {
                let tar = issue::client_tar(issued, now, gz)?;
                let path = file_path(out);
                atomic::write(&path, &tar, atomic::PRIVATE_FILE)
                    .with_context(|| format!("writing {}", out.display()))?;
                lines.push_str(&format!(
                    "  {} (0600: ca.pem, cert.pem, key.pem)\n",
                    out.display()
                ));
            }
            None => {
                atomic::create_dir(out, atomic::PRIVATE_DIR)
                    .with_context(|| format!("creating {}", out.display()))?;
                for (f, data, mode) in [
                    ("ca.pem", issued.ca_pem.as_bytes(), atomic::PUBLIC_FILE),
                    ("cert.pem", issued.cert_pem.as_bytes(), atomic::PUBLIC_FILE),
                    ("key.pem", issued.key_pem.as_bytes(), atomic::PRIVATE_FILE),
                ] {
                    let path = out.join(f);
                    atomic::write(&path, data, mode)
                        .with_context(|| format!("writing {}", path.display()))?;
                    lines.push_str(&format!("  {} ({mode:04o})\n", path.display()));
                }
            }
        }
    }
    if let Some((path, password)) = p12 {
        let data = issue::client_p12(issued, password)?;
        atomic::write(&file_path(path), &data, atomic::PRIVATE_FILE)
            .with_context(|| format!("writing {}", path.display()))?;
        lines.push_str(&format!(
            "  {} (0600, PKCS#12: key, certificate, CA)\n",
            path.display()
        ));
    }
    Ok(lines)
}
