//! `dctx key move`.

use anyhow::Context as _;

use super::{context_metadata, fingerprints, system_roots_pem};
use crate::docker::DockerConfig;
use crate::store::txn::Txn;
use crate::store::{KeyStore, Profile, TlsFiles, TlsMode, read_pems, validate_name};
use crate::targets::{Detail, Entry, Targets};

impl Targets {
    /// `dctx key move NAME --to file|keyring`. Returns a summary line.
    pub fn key_move(&self, name: &str, to: KeyStore) -> anyhow::Result<String> {
        validate_name(name)?;
        self.keyring.ensure_available()?;
        self.locked(|t| {
            let e = t.lookup(name, Detail::Fast).ok_or_else(|| t.not_found(name))?;
            let Some(p) = e.profile.clone() else {
                anyhow::bail!("{name:?} is not a dctx profile (see `dctx ls`); `dctx adopt {name}` manages a Docker context");
            };
            if !p.has_key {
                anyhow::bail!("profile {name:?} has no private key");
            }
            let tx = t.txn();
            match (p.key_store, to) {
                (KeyStore::File, KeyStore::Keyring) => t.key_into_keyring(tx, name, &e, p),
                (KeyStore::Keyring, KeyStore::File) => t.key_into_file(tx, name, p),
                _ => Ok(format!("The key of {name} is already there.\n")),
            }
        })
    }

    /// key.pem into the keyring: the profile keeps its certificates itself
    /// and a Docker context it managed goes (it cannot work without key.pem).
    fn key_into_keyring(
        &self,
        mut tx: Txn,
        name: &str,
        e: &Entry,
        mut p: Profile,
    ) -> anyhow::Result<String> {
        // An env-only record keeps its files itself (a Docker
        // context of the same name is someone else's).
        let managed_context = e.context && p.context;
        let dir = if p.context {
            e.cert_path
                .clone()
                .context("the profile's TLS files are missing")?
        } else {
            self.store.profile_dir(name)
        };
        let mut files = read_pems(&dir)?;
        let key = files
            .key
            .take()
            .with_context(|| format!("{} has no key.pem", dir.display()))?;
        if managed_context && p.tls == TlsMode::SystemRoots {
            files.ca = Some(system_roots_pem()?);
        }
        p.key_store = KeyStore::Keyring;
        p.context = false;
        if managed_context {
            p.host = e.endpoint.clone();
        }
        p.files = fingerprints(&files);
        self.profile_put(&mut tx, &p, &files);
        if managed_context {
            // A context without key.pem cannot work; one with it would leak.
            self.context_remove(&mut tx, name);
            if self.docker.current_context().as_deref() == Some(name) {
                self.config_put(&mut tx, None)?;
            }
        }
        tx.key_put(name, key);
        tx.commit(&self.keyring)?;
        Ok(format!(
            "Moved the key of {name} into the OS keyring; removed key.pem{}.\nRun: dctx exec {name} -- docker ps (or dctx shell {name})\n",
            if managed_context {
                " and the Docker context"
            } else {
                ""
            }
        ))
    }

    /// The keyring's key into a Docker context of the profile's name
    /// (refused when someone else's context has that name).
    fn key_into_file(&self, mut tx: Txn, name: &str, mut p: Profile) -> anyhow::Result<String> {
        if let Some(ctx) = self.docker.read_context(name)? {
            anyhow::bail!(
                "a Docker context named {name:?} exists (host {}) and was not made for this profile; not overwriting it: `dctx mv {name} NEW` for one of them first",
                ctx.host
            );
        }
        let key = self.keyring.get(name)?;
        let pems = read_pems(&self.store.profile_dir(name))?;
        let tls = TlsFiles {
            ca: if p.tls == TlsMode::SystemRoots {
                None
            } else {
                pems.ca
            },
            cert: pems.cert,
            key: Some(key),
        };
        p.key_store = KeyStore::File;
        p.context = true;
        p.files = fingerprints(&tls);
        self.profile_put(
            &mut tx,
            &p,
            &TlsFiles {
                ca: None,
                cert: None,
                key: None,
            },
        );
        let meta = DockerConfig::meta_json(
            name,
            &p.host,
            p.tls == TlsMode::SkipVerify,
            &context_metadata(&p),
        );
        self.context_put(&mut tx, name, meta, &tls)?;
        tx.key_remove(name);
        tx.commit(&self.keyring)?;
        Ok(format!(
            "Moved the key of {name} to {} (0600) and wrote Docker context {name:?}.\n",
            self.docker.tls_dir(name).join("key.pem").display()
        ))
    }
}
