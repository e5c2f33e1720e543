//! `dctx mv`.

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::store::atomic::{PUBLIC_DIR, PUBLIC_FILE};
use crate::store::txn::Content;
use crate::store::{KeyStore, read_pems, validate_name};
use crate::targets::{DEFAULT, Detail, Targets};

impl Targets {
    /// `dctx mv OLD NEW`: both hash dirs, currentContext, the history and
    /// the keyring entry, atomically.
    pub fn rename(&self, old: &str, new: &str) -> anyhow::Result<()> {
        Self::check_name(old)?;
        validate_name(new)?;
        if old == DEFAULT {
            anyhow::bail!("\"default\" is docker's built-in context; it cannot be renamed");
        }
        self.locked(|t| {
            let e = t.lookup(old, Detail::Fast).ok_or_else(|| t.not_found(old))?;
            if t.lookup(new, Detail::Fast).is_some() {
                anyhow::bail!("{new:?} already exists (see `dctx ls`); choose another name or `dctx rm {new}` first");
            }
            let mut tx = t.txn();
            if t.store.exists(old) {
                let mut p = t.store.load(old).with_context(|| {
                    format!("cannot rename {old:?}: its record is unreadable; `dctx rm {old}` removes it")
                })?;
                p.name = new.to_string();
                let pems = read_pems(&t.store.profile_dir(old))?;
                t.profile_put(&mut tx, &p, &pems);
                tx.remove(&t.store.root, t.store.profile_dir(old));
                if p.key_store == KeyStore::Keyring && p.has_key {
                    t.keyring.ensure_available()?;
                    tx.key_move(old, new);
                }
            }
            if e.context {
                let d = &t.docker;
                let meta = d.edited_meta(old, Some(new), None)?;
                tx.put(
                    &d.dir,
                    d.meta_dir(new),
                    Content::Dir {
                        mode: PUBLIC_DIR,
                        files: vec![("meta.json".into(), Zeroizing::new(meta), PUBLIC_FILE)],
                    },
                );
                tx.remove(&d.dir, d.meta_dir(old));
                if d.tls_root(old).exists() {
                    // Moved, not copied: the key never exists twice.
                    tx.rename(d.tls_root(old), d.tls_root(new));
                }
                if d.current_context().as_deref() == Some(old) {
                    t.config_put(&mut tx, Some(new))?;
                }
            }
            if t.previous().as_deref() == Some(old) {
                t.state_put(&mut tx, new);
            }
            tx.commit(&t.keyring)
        })
    }
}
