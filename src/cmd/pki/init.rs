//! `dctx pki init`: a new CA.

use anyhow::bail;

use crate::cli::pki::InitArgs;
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::issue::{self, Pki};

pub(super) fn run(pki: &Pki, a: InitArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.password_stdin && !a.encrypt_ca_key {
        bail!("--password-stdin only applies with --encrypt-ca-key");
    }
    let _lock = pki.lock()?;
    if pki.has_ca() && !a.force {
        bail!(
            "a CA already exists in {} (refusing to overwrite it: everything it signed would stop verifying); \
             pass --force to replace it (the old files are kept as .bak-<time>)",
            pki.dir.display()
        );
    }
    let passphrase = if a.encrypt_ca_key {
        Some(Secrets::new(a.password_stdin).ask("new CA key passphrase", true)?)
    } else {
        None
    };
    let opts = issue::InitOptions {
        common_name: a.cn,
        key_type: a.key_type.into(),
        days: a.days,
        force: a.force,
    };
    let info = pki.init(&opts, passphrase.as_deref().map(|s| s.as_str()), env.now)?;
    print(&format!(
        "Created CA \"{}\" ({}), valid until {} ({})\n  certificate: {} (0644)\n  private key: {} (0600{})\n\
         Next: dctx pki server --host <dns-name-or-ip> --out <dir>\n",
        info.display_name(),
        crate::pki::issue::KeyType::from(a.key_type).label(),
        info.not_after_rfc3339(),
        crate::text::expiry::Expiry::new(info.not_after, env.now),
        pki.ca_cert_path().display(),
        pki.ca_key_path().display(),
        if a.encrypt_ca_key {
            ", passphrase-encrypted"
        } else {
            ""
        },
    ))?;
    Ok(exit::Exit::Ok)
}
