//! `dctx key move NAME --to keyring|file`.

use anyhow::Context as _;

use crate::cli::{KeyArgs, KeyCommand, KeyStoreArg};
use crate::docker::{ContextMeta, DockerConfig};
use crate::environment::Env;
use crate::store::{KeyStore, Store, atomic, keyring};

pub fn run(args: KeyArgs, env: &Env) -> anyhow::Result<u8> {
    let KeyCommand::Move { name, to } = args.command;
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env)?;
    let _lock = store.lock()?;
    let mut profile = store.load(&name)?;
    if !profile.has_key {
        anyhow::bail!("profile {name:?} has no private key");
    }
    let key_file = store.profile_dir(&name).join("key.pem");
    let msg = match (profile.key_store, to) {
        (KeyStore::File, KeyStoreArg::Keyring) => {
            let key = zeroize::Zeroizing::new(std::fs::read(&key_file).context("reading key.pem")?);
            keyring::put(&name, &key)?;
            // Read back before deleting anything: never lose the only copy.
            if keyring::get(&name)?.as_slice() != key.as_slice() {
                anyhow::bail!("the keyring returned a different key; nothing was removed");
            }
            profile.key_store = KeyStore::Keyring;
            let had_context = profile.context;
            profile.context = false;
            store.update(&profile)?;
            std::fs::remove_file(&key_file).context("removing key.pem")?;
            atomic::sync_dir(&store.profile_dir(&name))?;
            if had_context {
                // A context without key.pem cannot work; one with it would leak.
                let _l = docker.lock()?;
                if docker.current_context().as_deref() == Some(name.as_str()) {
                    docker.set_current_context(None)?;
                }
                docker.remove_context(&name)?;
            }
            format!(
                "Moved the key of {name} into the OS keyring; removed key.pem{}.\nRun: dctx exec {name} -- docker ps\n",
                if had_context {
                    " and the Docker context"
                } else {
                    ""
                }
            )
        }
        (KeyStore::Keyring, KeyStoreArg::File) => {
            let key = keyring::get(&name)?;
            atomic::write(&key_file, &key, atomic::PRIVATE_FILE)?;
            profile.key_store = KeyStore::File;
            profile.context = true;
            let files = store.read_tls(&name)?;
            let _l = docker.lock()?;
            docker.write_context(
                &ContextMeta {
                    name: name.clone(),
                    host: profile.host.clone(),
                    skip_verify: profile.tls == crate::store::TlsMode::SkipVerify,
                    metadata: super::add::context_metadata(&profile),
                },
                &files,
            )?;
            store.update(&profile)?;
            keyring::delete(&name)?;
            format!(
                "Moved the key of {name} to {} (0600) and wrote Docker context {name:?}.\n",
                key_file.display()
            )
        }
        _ => format!("The key of {name} is already there.\n"),
    };
    super::print(&msg)?;
    Ok(crate::exit::OK)
}
