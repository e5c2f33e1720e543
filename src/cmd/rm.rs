//! `dctx rm`: remove profiles and the Docker contexts dctx wrote for them.

use crate::cli::RmArgs;
use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::store::Store;

pub fn run(args: RmArgs, env: &Env) -> anyhow::Result<u8> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env)?;
    let _lock = store.lock()?;
    // Validate every name before removing anything.
    for name in &args.names {
        if !store.exists(name) {
            if docker.read_context(name)?.is_some() {
                anyhow::bail!(
                    "{name:?} is a Docker context that dctx did not create; remove it with `docker context rm {name}`"
                );
            }
            anyhow::bail!("no profile named {name:?} (see `dctx ls`)");
        }
    }
    let mut out = String::new();
    for name in &args.names {
        let profile = store.load(name)?;
        if profile.context && !args.keep_context {
            let _docker_lock = docker.lock()?;
            if docker.read_context(name)?.is_some_and(|c| c.managed()) {
                if docker.current_context().as_deref() == Some(name) {
                    docker.set_current_context(None)?;
                    out += &format!("Current context was {name:?}; it is now \"default\"\n");
                }
                docker.remove_context(name)?;
            }
        }
        if profile.key_store == crate::store::KeyStore::Keyring {
            crate::store::keyring::delete(name)?;
        }
        store.remove(name)?;
        out += &format!("Removed {name}\n");
    }
    super::print(&out)?;
    Ok(crate::exit::OK)
}
