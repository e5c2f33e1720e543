//! `dctx recover`.

use crate::store::txn;
use crate::targets::Targets;

impl Targets {
    /// `dctx recover [--abort]`: finish (or undo) an interrupted change.
    /// Whether there was one.
    pub fn recover(&self, abort: bool) -> anyhow::Result<bool> {
        let pending = txn::pending(&self.store.root);
        if !abort {
            self.locked(|_| Ok(()))?;
            return Ok(pending);
        }
        let _store = self.store.lock()?;
        let _docker = if self.docker.dir.exists() {
            Some(self.docker.lock()?)
        } else {
            None
        };
        let config_dir = self.config_dir();
        let areas = [&*self.store.root, &*self.docker.dir, &*config_dir];
        txn::abort(&self.store.root, &self.keyring, &areas)
    }
}
