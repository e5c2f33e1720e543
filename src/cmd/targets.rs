//! Resolve names to probe targets: dctx profiles plus Docker contexts that
//! dctx did not create.

use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::probe::Target;
use crate::store::{KeyStore, Store, TlsFiles, TlsMode};

/// All targets (when `names` is empty) or the named ones, in a stable order.
/// Only the selected targets' files are read (and only their keyring
/// entries unlocked): `dctx exec prod` touches nothing of `staging`.
pub fn resolve(env: &Env, names: &[String]) -> anyhow::Result<Vec<Target>> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env).ok();
    let profiles = store.names();
    let contexts: Vec<_> = docker
        .as_ref()
        .map(|d| d.list())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !profiles.contains(&c.name))
        .collect();
    let wanted = |n: &str| names.is_empty() || names.iter().any(|w| w == n);
    if let Some(missing) = names
        .iter()
        .find(|n| !profiles.contains(n) && !contexts.iter().any(|c| &c.name == *n))
    {
        anyhow::bail!("no profile or Docker context named {missing:?} (see `dctx ls`)");
    }
    let mut all: Vec<Target> = Vec::new();
    for name in profiles.into_iter().filter(|n| wanted(n)) {
        let p = store.load(&name)?;
        let mut files = store.read_tls(&name)?;
        if p.key_store == KeyStore::Keyring && p.has_key {
            // Straight from the keyring into memory; never onto disk.
            files.key = Some(crate::store::keyring::get(&name)?);
        }
        if p.tls == TlsMode::SystemRoots {
            // ca.pem is only a snapshot for the docker CLI; probe with the live roots.
            files.ca = None;
        }
        all.push(target(
            name,
            p.host,
            p.tls.uses_tls(),
            p.tls == TlsMode::SkipVerify,
            files,
        ));
    }
    if let Some(docker) = &docker {
        for ctx in contexts.into_iter().filter(|c| wanted(&c.name)) {
            let files = docker.read_tls(&ctx.name)?;
            // docker enables TLS for a context whenever it has TLS data.
            let tls =
                files.ca.is_some() || files.cert.is_some() || ctx.host.starts_with("https://");
            all.push(target(ctx.name, ctx.host, tls, ctx.skip_verify, files));
        }
    }
    // Names in the order asked for, else alphabetical.
    if names.is_empty() {
        all.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        all.sort_by_key(|t| names.iter().position(|n| n == &t.name));
    }
    Ok(all)
}

fn target(name: String, host: String, tls: bool, skip_verify: bool, f: TlsFiles) -> Target {
    Target {
        name,
        host,
        tls,
        skip_verify,
        ca_pem: f.ca,
        cert_pem: f.cert,
        key_pem: f.key,
    }
}
