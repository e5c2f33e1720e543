//! Rolling a committed journal forward, and back what a failed or
//! prepared one did.

use std::fs;
use std::path::Path;

use zeroize::Zeroizing;

use super::disk::{exists, remove_any, rename};
use super::journal::{Journal, KeyStep, Step, remove_journal};
use crate::store::keyring::Keyring;

/// What to undo if applying fails half-way (in-process only).
#[derive(Default)]
pub(super) struct Undo {
    pub(super) files: Vec<Step>,
    pub(super) keys: Vec<(String, Option<Zeroizing<Vec<u8>>>)>,
}

impl Undo {
    pub(super) fn run(self, keyring: &Keyring) {
        for (account, old) in self.keys.into_iter().rev() {
            let _ = match old {
                Some(secret) => keyring.put(&account, &secret),
                None => keyring.delete(&account),
            };
        }
        for step in self.files.into_iter().rev() {
            match step {
                Step::Put {
                    target,
                    staged,
                    backup,
                } => {
                    if exists(&target) && !exists(&staged) {
                        let _ = fs::rename(&target, &staged);
                    }
                    if exists(&backup) && !exists(&target) {
                        let _ = fs::rename(&backup, &target);
                    }
                }
                Step::Remove { target, backup } => {
                    if exists(&backup) && !exists(&target) {
                        let _ = fs::rename(&backup, &target);
                    }
                }
                Step::Move { from, to } => {
                    if exists(&to) && !exists(&from) {
                        let _ = fs::rename(&to, &from);
                    }
                }
            }
        }
    }
}

/// Apply every step; each is idempotent so a roll-forward may repeat one.
pub(super) fn apply(
    j: &Journal,
    keyring: &Keyring,
    mut undo: Option<&mut Undo>,
) -> anyhow::Result<()> {
    for step in &j.steps {
        // Recorded first: undo inspects the disk, so a half-done step is
        // undone as well as a whole one.
        if let Some(u) = undo.as_deref_mut() {
            u.files.push(step.clone());
        }
        match step {
            Step::Put {
                target,
                staged,
                backup,
            } => {
                if exists(staged) {
                    if exists(target) && !exists(backup) {
                        rename(target, backup)?;
                    }
                    rename(staged, target)?;
                }
            }
            Step::Remove { target, backup } => {
                if exists(target) && !exists(backup) {
                    rename(target, backup)?;
                }
            }
            Step::Move { from, to } => {
                if exists(from) {
                    if exists(to) {
                        anyhow::bail!(
                            "cannot rename {} to {}: the destination exists",
                            from.display(),
                            to.display()
                        );
                    }
                    rename(from, to)?;
                }
            }
        }
    }
    for step in &j.keys {
        match step {
            KeyStep::Put { account, staged } => {
                if let Some(secret) = keyring.get_opt(staged)? {
                    if let Some(u) = undo.as_deref_mut() {
                        u.keys.push((account.clone(), keyring.get_opt(account)?));
                    }
                    keyring.put(account, &secret)?;
                    keyring.delete(staged)?;
                }
            }
            KeyStep::Remove { account } => {
                if let Some(u) = undo.as_deref_mut() {
                    u.keys.push((account.clone(), keyring.get_opt(account)?));
                }
                keyring.delete(account)?;
            }
            KeyStep::Move { from, to } => {
                if let Some(secret) = keyring.get_opt(from)? {
                    if let Some(u) = undo.as_deref_mut() {
                        u.keys.push((to.clone(), keyring.get_opt(to)?));
                        u.keys.push((from.clone(), Some(secret.clone())));
                    }
                    keyring.put(to, &secret)?;
                    keyring.delete(from)?;
                }
            }
        }
    }
    Ok(())
}

/// Drop what a `prepared` (or failed) transaction staged.
pub(super) fn discard(j: &Journal, keyring: &Keyring) {
    for step in &j.steps {
        if let Step::Put { staged, .. } = step {
            let _ = remove_any(staged);
        }
    }
    for step in &j.keys {
        if let KeyStep::Put { staged, .. } = step {
            let _ = keyring.delete(staged);
        }
    }
    for d in &j.staging {
        let _ = remove_any(d);
        remove_empty_parent(d);
    }
}

/// After a successful apply: drop the old content, then the journal.
pub(super) fn finish(j: &Journal, root: &Path) {
    for step in &j.steps {
        match step {
            Step::Put { backup, .. } | Step::Remove { backup, .. } => {
                let _ = remove_any(backup);
            }
            Step::Move { .. } => {}
        }
    }
    for d in &j.staging {
        let _ = remove_any(d);
        remove_empty_parent(d);
    }
    remove_journal(root);
}

fn remove_empty_parent(d: &Path) {
    if let Some(p) = d.parent() {
        let _ = fs::remove_dir(p); // only succeeds when empty
    }
}
