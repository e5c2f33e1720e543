//! `dctx use`.

use anyhow::Context as _;

use crate::store::KeyStore;
use crate::targets::{DEFAULT, Detail, Targets};

impl Targets {
    /// `dctx use NAME|-|default`: returns (now, was); equal when nothing changed.
    pub fn use_context(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.locked_docker(true, |t| {
            let target = if name == "-" {
                t.previous().context("no previous context to go back to")?
            } else {
                name.to_string()
            };
            Self::check_name(&target)?;
            // The context alone decides; dctx's record is read only to explain.
            if target != DEFAULT && t.docker.read_context(&target)?.is_none() {
                let e = t.lookup(&target, Detail::Fast).ok_or_else(|| t.not_found(&target))?;
                {
                    let keyring = e
                        .profile
                        .as_ref()
                        .is_some_and(|p| p.key_store == KeyStore::Keyring);
                    if keyring {
                        anyhow::bail!(
                            "profile {target:?} keeps its key in the OS keyring and has no Docker context (docker can only read key.pem from disk): use `dctx shell {target}` or `dctx exec {target} -- docker …`"
                        );
                    }
                    anyhow::bail!(
                        "profile {target:?} has no Docker context (added with --no-context): use `eval \"$(dctx env {target})\"` or `dctx shell {target}`"
                    );
                }
            }
            let was = t
                .docker
                .config()?
                .current_context()
                .unwrap_or_else(|| DEFAULT.to_string());
            if was == target {
                // kubectx: switching to the current one keeps the history.
                return Ok((target, was));
            }
            let mut tx = t.txn();
            t.config_put(&mut tx, (target != DEFAULT).then_some(target.as_str()))?;
            t.state_put(&mut tx, &was);
            tx.commit(&t.keyring)?;
            Ok((target, was))
        })
    }
}
