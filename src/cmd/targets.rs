//! Resolve names to probe targets: dctx profiles plus Docker contexts that
//! dctx did not create.

use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::probe::Target;
use crate::store::{Store, TlsFiles, TlsMode};

/// All targets (when `names` is empty) or the named ones, in a stable order.
pub fn resolve(env: &Env, names: &[String]) -> anyhow::Result<Vec<Target>> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env).ok();
    let mut all: Vec<Target> = Vec::new();
    for name in store.names() {
        let p = store.load(&name)?;
        let mut files = store.read_tls(&name)?;
        if p.key_store == crate::store::KeyStore::Keyring && p.has_key {
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
        for ctx in docker.list() {
            if all.iter().any(|t| t.name == ctx.name) {
                continue;
            }
            let files = docker.read_tls(&ctx.name)?;
            // docker enables TLS for a context whenever it has TLS data.
            let tls =
                files.ca.is_some() || files.cert.is_some() || ctx.host.starts_with("https://");
            all.push(target(ctx.name, ctx.host, tls, ctx.skip_verify, files));
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|t| &t.name == n).cloned().ok_or_else(|| {
                anyhow::anyhow!("no profile or Docker context named {n:?} (see `dctx ls`)")
            })
        })
        .collect()
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
