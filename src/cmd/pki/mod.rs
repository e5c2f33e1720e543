//! `dctx pki …`: glue between the arguments, the terminal (passphrases) and
//! `pki::issue` / `dockerd`, one file per subcommand; this file holds
//! the dispatch and what several share.

mod client;
mod crl;
mod daemon_config;
mod init;
mod ls;
mod renew;
mod revoke;
mod server;

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::cli::pki::{PkiArgs, PkiCommand};
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::pki::inspect::rfc3339;
use crate::pki::issue::{self, Issued, Kind, Pki};
use crate::store::Store;

pub fn run(args: PkiArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let dir = match args.dir {
        Some(d) => d,
        None => Store::from_env(env)?.root.join("pki"),
    };
    let pki = Pki::new(dir);
    match args.command {
        PkiCommand::Init(a) => init::run(&pki, a, env),
        PkiCommand::Server(a) => server::run(&pki, a, env),
        PkiCommand::Client(a) => client::run(&pki, a, env),
        PkiCommand::DaemonConfig(a) => daemon_config::run(&pki, a, env),
        PkiCommand::Ls(a) => ls::run(&pki, a, env),
        PkiCommand::Renew(a) => renew::run(&pki, a, env),
        PkiCommand::Revoke(a) => revoke::run(&pki, a, env),
        PkiCommand::Crl(a) => crl::run(&pki, a, env),
    }
}

/// Load the CA, asking for its passphrase only when the key is encrypted.
fn load_ca(pki: &Pki, secrets: &mut Secrets) -> anyhow::Result<issue::Ca> {
    pki.load_ca(&mut || secrets.ask("CA key passphrase", false))
}

fn refuse_existing(paths: &[PathBuf], force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        bail!(
            "{} already exists; pass --force to overwrite it",
            p.display()
        );
    }
    Ok(())
}

/// A relative file name gets "./" so its parent is a real directory.
fn file_path(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").join(p),
    }
}

fn refuse_reissue(pki: &Pki, name: &str, force: bool) -> anyhow::Result<()> {
    if !force && pki.record_dir(name).join("meta.json").exists() {
        bail!(
            "a certificate named {name:?} was already issued; renew it with `dctx pki renew {name}`, \
             or pass --force to issue a new one under that name"
        );
    }
    Ok(())
}

fn summary(issued: &Issued, now: i64, verb: &str) -> String {
    let m = &issued.meta;
    let what = match m.kind {
        Kind::Server => format!(
            "server certificate {:?} for {}",
            m.name,
            m.names
                .iter()
                .map(|n| match issue::parse_host(n) {
                    Ok(h) => h.san_label(),
                    Err(_) => n.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Client => format!("client certificate {:?} (CN={})", m.name, m.name),
    };
    format!(
        "{verb} {what}\n  key {}, serial {}, valid until {} ({})\n{}",
        m.key_type,
        m.serial,
        rfc3339(m.not_after),
        crate::text::expiry::Expiry::new(m.not_after, now),
        crate::pki::lint::render(
            "  client compatibility:",
            &crate::pki::lint::issued(
                &issued.cert_pem,
                &issued.ca_pem,
                &m.names,
                m.kind == Kind::Server
            )
        )
    )
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The CA's own copy of its latest CRL.
fn crl_copy(pki: &Pki) -> PathBuf {
    pki.dir.join("crl.pem")
}
