//! Every change to the stores, one file per operation: each is one `Txn`
//! under both locks, after recovering whatever a killed run left. This
//! file holds what they share: the locks and the staging of profile
//! records, contexts, config.json and the `use` history.

mod add;
mod adopt;
mod key_move;
mod mv;
mod recover;
mod rm;
mod set_host;
mod use_;

use std::path::Path;

use zeroize::Zeroizing;

use super::Targets;
use crate::docker::DCTX_KEY;
use crate::pki::CertInfo;
use crate::store::atomic::{self, PRIVATE_DIR, PRIVATE_FILE, PUBLIC_DIR, PUBLIC_FILE};
use crate::store::txn::{self, Content, Txn};
use crate::store::{CertRecord, Profile, TlsFiles, sha256_hex};

pub use add::{AddRequest, Added};
pub use rm::RmOutcome;

const STATE: &str = "state.json";

/// Changes staged into another operation's transaction.
pub type Also = Box<dyn FnOnce(&mut Txn)>;
impl Targets {
    /// Run `f` under the store lock (and Docker's, when its dir exists or
    /// `docker` is set), after finishing whatever a killed run left.
    pub(crate) fn locked<R>(
        &self,
        f: impl FnOnce(&Self) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        self.locked_docker(false, f)
    }

    fn locked_docker<R>(
        &self,
        docker: bool,
        f: impl FnOnce(&Self) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let _store = self.store.lock()?;
        let _docker = if docker || self.docker.dir.exists() {
            Some(self.docker.lock()?)
        } else {
            None
        };
        let config_dir = self.config_dir();
        let areas = [&*self.store.root, &*self.docker.dir, &*config_dir];
        txn::recover(&self.store.root, &self.keyring, &areas)?;
        txn::sweep(&self.store.root, &areas);
        f(self)
    }

    /// config.json's real dir (through a dotfiles symlink).
    fn config_dir(&self) -> std::path::PathBuf {
        self.docker
            .config_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.docker.dir.clone())
    }

    fn txn(&self) -> Txn {
        Txn::new(&self.store.root)
    }

    fn profile_put(&self, tx: &mut Txn, p: &Profile, pems: &TlsFiles) {
        let mut files = vec![(
            "profile.json".to_string(),
            Zeroizing::new(p.to_json()),
            PRIVATE_FILE,
        )];
        for (f, data) in pem_list(pems) {
            files.push((f.to_string(), Zeroizing::new(data.to_vec()), PRIVATE_FILE));
        }
        tx.put(
            &self.store.root,
            self.store.profile_dir(&p.name),
            Content::Dir {
                mode: PRIVATE_DIR,
                files,
            },
        );
    }

    /// Stage a whole context (meta + TLS files), replacing any of that name.
    fn context_put(
        &self,
        tx: &mut Txn,
        name: &str,
        meta: Vec<u8>,
        tls: &TlsFiles,
    ) -> anyhow::Result<()> {
        let d = &self.docker;
        // Docker's own layout and modes for the shared parents.
        atomic::create_dir(&d.dir.join("contexts"), PUBLIC_DIR)?;
        atomic::create_dir(&d.dir.join("contexts/meta"), PUBLIC_DIR)?;
        atomic::create_dir(&d.dir.join("contexts/tls"), PRIVATE_DIR)?;
        tx.put(
            &d.dir,
            d.meta_dir(name),
            Content::Dir {
                mode: PUBLIC_DIR,
                files: vec![("meta.json".into(), Zeroizing::new(meta), PUBLIC_FILE)],
            },
        );
        let pems = pem_list(tls);
        if pems.is_empty() {
            tx.remove(&d.dir, d.tls_root(name));
        } else {
            tx.put(
                &d.dir,
                d.tls_root(name),
                Content::Dir {
                    mode: PRIVATE_DIR,
                    files: pems
                        .into_iter()
                        .map(|(f, data)| {
                            (
                                format!("docker/{f}"),
                                Zeroizing::new(data.to_vec()),
                                PRIVATE_FILE,
                            )
                        })
                        .collect(),
                },
            );
        }
        Ok(())
    }

    fn context_remove(&self, tx: &mut Txn, name: &str) {
        tx.remove(&self.docker.dir, self.docker.meta_dir(name));
        tx.remove(&self.docker.dir, self.docker.tls_root(name));
    }

    /// Stage config.json with a new currentContext (through a symlink,
    /// keeping owner, mode and every other value).
    fn config_put(&self, tx: &mut Txn, current: Option<&str>) -> anyhow::Result<()> {
        let cfg = self.docker.config()?;
        // Root on a user's config: the file stays (or becomes) the user's.
        let owner = if unsafe { libc::geteuid() } == 0 {
            cfg.owner.or_else(|| cfg.path.parent().and_then(dir_owner))
        } else {
            None
        };
        if let Some(parent) = cfg.path.parent() {
            atomic::create_dir(parent, PRIVATE_DIR)?;
        }
        tx.put_beside(cfg.path.clone(), cfg.with_current(current), cfg.mode, owner);
        Ok(())
    }

    fn previous(&self) -> Option<String> {
        let data = std::fs::read(self.store.root.join(STATE)).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
        v["previousContext"].as_str().map(str::to_owned)
    }

    fn state_put(&self, tx: &mut Txn, previous: &str) {
        let json = serde_json::json!({ "previousContext": previous });
        tx.put(
            &self.store.root,
            self.store.root.join(STATE),
            Content::File {
                data: serde_json::to_vec_pretty(&json).expect("json"),
                mode: PRIVATE_FILE,
                owner: if unsafe { libc::geteuid() } == 0 {
                    dir_owner(&self.store.root)
                } else {
                    None
                },
            },
        );
    }
}

fn summary(c: &CertInfo) -> CertRecord {
    CertRecord {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        not_after: c.not_after,
        sha256: c.sha256.clone(),
    }
}

fn pem_list(f: &TlsFiles) -> Vec<(&'static str, &[u8])> {
    let mut v = Vec::new();
    if let Some(d) = &f.ca {
        v.push(("ca.pem", d.as_slice()));
    }
    if let Some(d) = &f.cert {
        v.push(("cert.pem", d.as_slice()));
    }
    if let Some(d) = &f.key {
        v.push(("key.pem", d.as_slice()));
    }
    v
}

/// Drift fingerprints of the files a record vouches for.
fn fingerprints(f: &TlsFiles) -> std::collections::BTreeMap<String, String> {
    pem_list(f)
        .into_iter()
        .map(|(n, d)| (n.to_string(), sha256_hex(d)))
        .collect()
}

/// dctx's fields inside the context's Metadata (docker preserves unknown keys).
pub fn context_metadata(p: &Profile) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "Description".into(),
        format!("dctx profile ({})", p.tls.label()).into(),
    );
    m.insert(
        DCTX_KEY.into(),
        serde_json::json!({"managed": true, "tls": p.tls, "keyStore": p.key_store}),
    );
    m
}

/// The system's trusted roots as one PEM file.
fn system_roots_pem() -> anyhow::Result<Vec<u8>> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        anyhow::bail!("--system-roots: no trusted root certificates found on this system");
    }
    Ok(found
        .certs
        .iter()
        .map(|c| crate::pki::keys::pem_encode("CERTIFICATE", c.as_ref()))
        .collect::<String>()
        .into_bytes())
}

/// (uid, gid) of a dir another user owns, for files root creates in it.
fn dir_owner(dir: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .map(|m| (m.uid(), m.gid()))
        .filter(|&(uid, _)| uid != 0)
}
