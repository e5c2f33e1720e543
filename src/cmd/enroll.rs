//! `dctx enroll NAME --host URL --vault ADDR --role ROLE`: a client
//! certificate from an OpenBao / Vault PKI engine, as a profile and its
//! Docker context. Reads the variables the vault CLI reads (BAO_*, VAULT_*).

use std::io::BufRead as _;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::cli::{EnrollArgs, VaultConnArgs};
use crate::environment::Env;
use crate::source::VaultSource;
use crate::source::renew::EnrollRequest;
use crate::source::vault::VaultEnv;
use crate::store::{KeyStore, Profile};

/// The token: --token-stdin, else BAO_TOKEN / VAULT_TOKEN, else ~/.vault-token.
pub fn token(conn: &VaultConnArgs, venv: &VaultEnv) -> anyhow::Result<Option<Zeroizing<String>>> {
    if conn.token_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the token from stdin")?;
        let t = line.trim();
        if t.is_empty() {
            anyhow::bail!("--token-stdin: stdin held no token");
        }
        return Ok(Some(Zeroizing::new(t.to_string())));
    }
    Ok(venv.token())
}

/// The server CA (PEM): --vault-ca, else BAO_CACERT / VAULT_CACERT.
pub fn server_ca(conn: &VaultConnArgs, venv: &VaultEnv) -> anyhow::Result<Option<String>> {
    let Some(path) = conn.vault_ca.as_ref().or(venv.cacert.as_ref()) else {
        return Ok(None);
    };
    std::fs::read_to_string(path)
        .map(Some)
        .with_context(|| format!("reading the server CA {}", path.display()))
}

pub fn run(args: EnrollArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // The new key is in this process's memory: never in a core file.
    crate::harden::no_core_dumps().map_err(anyhow::Error::new)?;
    crate::store::validate_name(&args.name)?;
    let venv = VaultEnv::from_process(env.home.as_deref());
    let (source, token) = vault_source(&args, &venv)?;
    let key_store = KeyStore::from(args.key_store);
    let t = super::targets(env)?;
    if !args.replace && (t.store.exists(&args.name) || t.entry(&args.name).is_ok()) {
        // Before asking the CA for anything.
        anyhow::bail!(
            "{:?} already exists: pass --replace to overwrite it, or `dctx rm {}` first",
            args.name,
            args.name
        );
    }
    let rt = crate::probe::runtime()?;
    let fresh = rt
        .block_on(crate::source::renew::issue(&source, &token, env.now))
        .with_context(|| format!("cannot enroll {}; nothing was written", args.name))?;
    for w in &fresh.warnings {
        eprintln!("dctx: warning: the server says: {w}");
    }
    let added = t.enroll(
        EnrollRequest {
            name: args.name.clone(),
            host: args.host.clone(),
            source: source.clone(),
            key_store,
            replace: args.replace,
        },
        fresh,
    )?;
    for w in &added.warnings {
        eprintln!("dctx: warning: {w}");
    }
    super::print(&summary(&added.profile, &source, env.now))?;
    Ok(crate::exit::Exit::Ok)
}

/// Where and how to enroll, and the token, from the flags and the vault
/// CLI's variables; every file is read before anything is asked of the CA.
fn vault_source(
    args: &EnrollArgs,
    venv: &VaultEnv,
) -> anyhow::Result<(VaultSource, Zeroizing<String>)> {
    let address = args.vault.clone().or(venv.addr.clone()).context(
        "no server address: pass --vault https://HOST:8200 or set BAO_ADDR / VAULT_ADDR",
    )?;
    let token = token(&args.conn, venv)?.context(
        "no token: pass --token-stdin, set BAO_TOKEN / VAULT_TOKEN, or `bao login` (it writes ~/.vault-token)",
    )?;
    let daemon_ca = match &args.ca {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let source = VaultSource {
        address,
        mount: args.mount.trim_matches('/').to_string(),
        role: args.role.clone(),
        cn: args.cn.clone().unwrap_or_else(|| args.name.clone()),
        ttl: args.ttl.clone(),
        server_ca: server_ca(&args.conn, venv)?,
        namespace: venv.namespace.clone(),
        cert_role: args.cert_role.clone(),
        daemon_ca,
    };
    Ok((source, token))
}

/// What was enrolled and the commands that use and renew it.
fn summary(p: &Profile, source: &VaultSource, now: i64) -> String {
    let mut out = format!(
        "Enrolled {} → {} ({}) from {}\n",
        p.name,
        crate::output::sanitize(&p.host),
        p.tls.label(),
        crate::output::sanitize(&crate::source::renew::describe(source)),
    );
    if let Some(c) = &p.cert {
        out += &format!(
            "  client cert: {} ({})\n",
            crate::output::sanitize(&c.subject),
            crate::text::expiry::Expiry::new(c.not_after, now)
        );
    }
    if p.context {
        out += &format!(
            "Docker context {:?} written: docker --context {} ps\n",
            p.name, p.name
        );
    } else {
        out += &format!("Run: dctx exec {} -- docker ps\n", p.name);
    }
    out += &format!("Renew: dctx renew {} (or `dctx renew --watch`)\n", p.name);
    out
}
