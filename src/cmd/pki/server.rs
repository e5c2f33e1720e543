//! `dctx pki server`: a daemon's certificate.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{absolute, load_ca, refuse_existing, refuse_reissue, summary};
use crate::cli::pki::ServerArgs;
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::issue::{self, Host, Issued, Kind, LeafRequest, Pki};
use crate::store::atomic;

pub(super) fn run(pki: &Pki, a: ServerArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    issue::validate_name(&a.name)?;
    let mut hosts: Vec<Host> = Vec::new();
    for h in &a.hosts {
        let h = issue::parse_host(h)?;
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let _lock = pki.lock()?;
    refuse_reissue(pki, &a.name, a.issue.force)?;
    refuse_existing(&server_files(&a.out), a.issue.force)?;
    let mut secrets = Secrets::new(a.issue.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let req = LeafRequest {
        name: a.name,
        kind: Kind::Server,
        hosts,
        key_type: a.issue.key_type.into(),
        days: a.issue.days,
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = Some(absolute(&a.out));
    let files = write_server(&a.out, &issued)?;
    pki.record(&issued)?;
    print(&format!(
        "{}{files}Next: dctx pki daemon-config --listen tcp://0.0.0.0:2376 --format daemon.json|systemd|flags|nginx\n",
        summary(&issued, env.now, "Issued")
    ))?;
    Ok(exit::Exit::Ok)
}

fn server_files(dir: &Path) -> [PathBuf; 3] {
    [
        dir.join("ca.pem"),
        dir.join("server-cert.pem"),
        dir.join("server-key.pem"),
    ]
}

pub(super) fn write_server(dir: &Path, issued: &Issued) -> anyhow::Result<String> {
    atomic::create_dir(dir, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", dir.display()))?;
    let [ca, cert, key] = server_files(dir);
    let mut lines = String::new();
    for (path, data, mode) in [
        (&ca, issued.ca_pem.as_bytes(), atomic::PUBLIC_FILE),
        (&cert, issued.cert_pem.as_bytes(), atomic::PUBLIC_FILE),
        (&key, issued.key_pem.as_bytes(), atomic::PRIVATE_FILE),
    ] {
        atomic::write(path, data, mode).with_context(|| format!("writing {}", path.display()))?;
        lines.push_str(&format!("  {} ({mode:04o})\n", path.display()));
    }
    Ok(lines)
}
