//! `dctx rm`.

use crate::store::KeyStore;
use crate::targets::{DEFAULT, Detail, Kind, Targets};

/// One line per name `rm` handled.
pub struct RmOutcome {
    pub lines: Vec<String>,
}
impl Targets {
    /// `dctx rm`: all named entries or none.
    pub fn rm(
        &self,
        names: &[String],
        force: bool,
        keep_context: bool,
    ) -> anyhow::Result<RmOutcome> {
        for n in names {
            Self::check_name(n)?;
            if n == DEFAULT {
                anyhow::bail!("\"default\" is docker's built-in context; it cannot be removed");
            }
        }
        self.locked(|t| {
            let mut tx = t.txn();
            let mut lines = Vec::new();
            let current = t.docker.current_context();
            let mut reset_current = false;
            let mut keyring = false;
            for n in names {
                let e = t.lookup(n, Detail::Fast).ok_or_else(|| t.not_found(n))?;
                let record = t.store.exists(n);
                let remove_context = e.context
                    && !keep_context
                    && (e.kind == Kind::Profile || force);
                if e.context && !keep_context && !remove_context && !record {
                    anyhow::bail!(
                        "{n:?} is a Docker context that dctx did not create; pass --force to remove it (as `docker context rm {n}` would)"
                    );
                }
                if record {
                    tx.remove(&t.store.root, t.store.profile_dir(n));
                    if e.profile.as_ref().is_some_and(|p| p.key_store == KeyStore::Keyring) {
                        tx.key_remove(n);
                        keyring = true;
                    }
                }
                if remove_context {
                    t.context_remove(&mut tx, n);
                    if current.as_deref() == Some(n.as_str()) {
                        reset_current = true;
                    }
                }
                lines.push(match (record, remove_context, e.context) {
                    (true, false, true) if e.kind == Kind::Foreign => format!(
                        "Removed dctx's env-only profile {n}; the Docker context {n} stays (dctx rm --force {n} removes it)"
                    ),
                    (true, false, true) => format!("Removed {n}; kept its Docker context"),
                    (false, true, _) => format!("Removed Docker context {n}"),
                    _ => format!("Removed {n}"),
                });
            }
            if keyring {
                // Before anything is removed: all names or none.
                t.keyring.ensure_available()?;
            }
            if reset_current {
                t.config_put(&mut tx, None)?;
                lines.push(format!(
                    "Current context was {:?}; it is now \"default\"",
                    current.unwrap_or_default()
                ));
            }
            tx.commit(&t.keyring)?;
            Ok(RmOutcome { lines })
        })
    }
}
