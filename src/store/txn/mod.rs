//! All-or-nothing changes across dctx's store, Docker's context store and
//! the OS keyring, surviving kill -9 at any point.
//!
//! The protocol is an intent journal plus a redo log, in `$DCTX_HOME/journal.json`:
//!
//! 1. the journal is written in state `prepared`, listing every step and
//!    every staging path *before* anything is staged;
//! 2. new content is staged beside its destination (in `<area>/.dctx-txn/`,
//!    which neither dctx nor docker ever lists), keys in staging keyring
//!    accounts;
//! 3. the journal is rewritten in state `committed`: the commit point;
//! 4. every step is applied (renames only: a key is moved, never copied),
//!    old content is kept aside until all steps are done, then dropped;
//! 5. the journal is deleted.
//!
//! The next command that finds a journal rolls a `prepared` one back (drops
//! what was staged) and a `committed` one forward (every step is
//! idempotent). An error while applying rolls back in-process.
//!
//! `journal` is the file and the check of one found on disk, `apply` rolls
//! forward and back, `disk` holds the file-system steps they share.

mod apply;
mod disk;
mod journal;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::store::atomic;
use crate::store::keyring::Keyring;

use apply::{Undo, apply, discard, finish};
use disk::{ensure_parent, exists, remove_any, same_fs, writable, write_content};
use journal::{Journal, KeyStep, State, Step, load, remove_journal, write_journal};

/// Name of the staging dir inside an area (dctx's root, Docker's config dir).
pub const STAGING: &str = ".dctx-txn";
const JOURNAL: &str = "journal.json";

/// New content for a path.
pub enum Content {
    /// A directory with these files (name, bytes, mode), itself `dir_mode`.
    Dir {
        mode: u32,
        files: Vec<(String, Zeroizing<Vec<u8>>, u32)>,
    },
    /// One file; `owner` keeps a (uid, gid) when replacing a user's file as root.
    File {
        data: Vec<u8>,
        mode: u32,
        owner: Option<(u32, u32)>,
    },
}

/// One transaction being built. Nothing touches the disk before `commit`.
pub struct Txn {
    root: PathBuf,
    id: String,
    steps: Vec<Step>,
    contents: Vec<Option<Content>>,
    keys: Vec<KeyStep>,
    key_data: Vec<Option<Zeroizing<Vec<u8>>>>,
    staging: Vec<PathBuf>,
}

impl Txn {
    /// A transaction journaled in dctx's store `root`.
    pub fn new(root: &Path) -> Self {
        Txn {
            root: root.to_path_buf(),
            id: format!("{}-{:x}", std::process::id(), nonce()),
            steps: Vec::new(),
            contents: Vec::new(),
            keys: Vec::new(),
            key_data: Vec::new(),
            staging: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.keys.is_empty()
    }

    /// The staging dir of this transaction inside `area`.
    fn stage_dir(&mut self, area: &Path) -> PathBuf {
        let d = area.join(STAGING).join(&self.id);
        if !self.staging.contains(&d) {
            self.staging.push(d.clone());
        }
        d
    }

    /// Replace (or create) `target` with `content`. `area` is the root it
    /// lives under (dctx's root or Docker's config dir): staging happens
    /// there so the final rename never crosses a file system.
    pub fn put(&mut self, area: &Path, target: PathBuf, content: Content) {
        let n = self.steps.len();
        let dir = self.stage_dir(area);
        self.steps.push(Step::Put {
            target,
            staged: dir.join(format!("{n}.new")),
            backup: dir.join(format!("{n}.old")),
        });
        self.contents.push(Some(content));
    }

    /// Replace a file that may live outside any area (config.json through a
    /// symlink): stage it in the same directory as the real file.
    pub fn put_beside(
        &mut self,
        target: PathBuf,
        data: Vec<u8>,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) {
        let n = self.steps.len();
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = target
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.steps.push(Step::Put {
            staged: dir.join(format!(".{name}.{STAGING}-{}-{n}.new", self.id)),
            backup: dir.join(format!(".{name}.{STAGING}-{}-{n}.old", self.id)),
            target,
        });
        self.contents
            .push(Some(Content::File { data, mode, owner }));
    }

    /// Delete `target` (file or dir) if it exists.
    pub fn remove(&mut self, area: &Path, target: PathBuf) {
        let n = self.steps.len();
        let dir = self.stage_dir(area);
        self.steps.push(Step::Remove {
            target,
            backup: dir.join(format!("{n}.old")),
        });
        self.contents.push(None);
    }

    /// Rename `from` to `to` (same file system; `to` must not exist).
    pub fn rename(&mut self, from: PathBuf, to: PathBuf) {
        self.steps.push(Step::Move { from, to });
        self.contents.push(None);
    }

    /// Store `secret` as the keyring entry `account` (replacing any).
    pub fn key_put(&mut self, account: &str, secret: Zeroizing<Vec<u8>>) {
        self.keys.push(KeyStep::Put {
            account: account.to_string(),
            staged: format!("{account}#txn-{}", self.id),
        });
        self.key_data.push(Some(secret));
    }

    pub fn key_remove(&mut self, account: &str) {
        self.keys.push(KeyStep::Remove {
            account: account.to_string(),
        });
        self.key_data.push(None);
    }

    pub fn key_move(&mut self, from: &str, to: &str) {
        self.keys.push(KeyStep::Move {
            from: from.to_string(),
            to: to.to_string(),
        });
        self.key_data.push(None);
    }

    /// Stage, commit and apply. On error nothing has changed (or, if the
    /// process dies, the next `recover` finishes or undoes it).
    pub fn commit(mut self, keyring: &Keyring) -> anyhow::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let mut journal = Journal {
            id: self.id.clone(),
            state: State::Prepared,
            keyring: keyring.service().to_string(),
            steps: self.steps.clone(),
            keys: self.keys.clone(),
            staging: self.staging.clone(),
        };
        write_journal(&self.root, &journal)?;
        if let Err(e) = self.stage(keyring) {
            discard(&journal, keyring);
            remove_journal(&self.root);
            return Err(e);
        }
        journal.state = State::Committed;
        if let Err(e) = write_journal(&self.root, &journal) {
            discard(&journal, keyring);
            remove_journal(&self.root);
            return Err(e);
        }
        let mut undo = Undo::default();
        if let Err(e) = apply(&journal, keyring, Some(&mut undo)) {
            undo.run(keyring);
            discard(&journal, keyring);
            remove_journal(&self.root);
            return Err(e);
        }
        finish(&journal, &self.root);
        Ok(())
    }

    fn stage(&mut self, keyring: &Keyring) -> anyhow::Result<()> {
        for d in &self.staging {
            if let Some(parent) = d.parent() {
                atomic::create_dir(parent, atomic::PRIVATE_DIR)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            atomic::create_dir(d, atomic::PRIVATE_DIR)
                .with_context(|| format!("creating {}", d.display()))?;
        }
        for (step, content) in self.steps.iter().zip(self.contents.iter_mut()) {
            let Step::Put { target, staged, .. } = step else {
                continue;
            };
            let content = content.take().expect("each put has content");
            // The destination's directory must exist and be writable now, so
            // that applying (renames only) cannot fail half-way for that.
            if let Some(parent) = target.parent() {
                ensure_parent(parent)?;
                writable(parent)?;
            }
            write_content(staged, content)
                .with_context(|| format!("staging {}", target.display()))?;
            same_fs(staged, target)?;
        }
        for step in &self.steps {
            let dir = match step {
                Step::Remove { target, backup } => {
                    same_fs(backup, target)?;
                    target.parent()
                }
                Step::Move { from, to } => {
                    if let Some(p) = to.parent() {
                        ensure_parent(p)?;
                        writable(p)?;
                    }
                    same_fs(from, to)?;
                    from.parent()
                }
                Step::Put { .. } => None,
            };
            if let Some(d) = dir.filter(|d| d.exists()) {
                writable(d)?;
            }
        }
        for (step, data) in self.keys.iter().zip(self.key_data.iter_mut()) {
            if let (KeyStep::Put { staged, .. }, Some(secret)) = (step, data.take()) {
                keyring.put(staged, &secret)?;
            }
        }
        Ok(())
    }
}

/// Finish or undo whatever a killed run left. Caller holds the locks.
/// `areas` are the dirs this process works in (the store root first, then
/// Docker's config dir and config.json's real dir): the journal is data
/// that anyone who could write it may have crafted, so it is acted on only
/// when it is ours and names nothing outside them.
pub fn recover(root: &Path, keyring: &Keyring, areas: &[&Path]) -> anyhow::Result<()> {
    let Some(journal) = load(root, keyring, areas)? else {
        return Ok(());
    };
    let path = root.join(JOURNAL);
    match journal.state {
        State::Prepared => {
            discard(&journal, keyring);
            remove_journal(root);
        }
        State::Committed => {
            apply(&journal, keyring, None).with_context(|| {
                format!(
                    "cannot finish the interrupted change recorded in {}; fix the cause and run dctx again, or undo what it did so far with `dctx recover --abort`",
                    path.display()
                )
            })?;
            finish(&journal, root);
        }
    }
    Ok(())
}

/// `dctx recover --abort`: undo a journal instead of finishing it (a
/// committed change that cannot be applied, e.g. EXDEV). File steps are
/// undone from what is on disk; keys are applied last, so when a file step
/// failed no key step ran. Returns whether there was a journal.
pub fn abort(root: &Path, keyring: &Keyring, areas: &[&Path]) -> anyhow::Result<bool> {
    let Some(journal) = load(root, keyring, areas)? else {
        return Ok(false);
    };
    if journal.state == State::Committed {
        // Steps apply in order and stop at the first failure: undo the
        // done ones and the one that may be half done, nothing after it
        // (a later no-op step must not be "undone").
        let done = journal
            .steps
            .iter()
            .take_while(|s| match s {
                Step::Put { staged, .. } => !exists(staged),
                Step::Remove { target, .. } => !exists(target),
                Step::Move { from, .. } => !exists(from),
            })
            .count();
        Undo {
            files: journal.steps[..(done + 1).min(journal.steps.len())].to_vec(),
            keys: Vec::new(),
        }
        .run(keyring);
    }
    // Old content not back in place stays, with the journal naming it.
    for step in &journal.steps {
        if let Step::Put { backup, .. } | Step::Remove { backup, .. } = step
            && exists(backup)
        {
            anyhow::bail!(
                "could not put {} back; {} still records the change",
                backup.display(),
                root.join(JOURNAL).display()
            );
        }
    }
    discard(&journal, keyring);
    remove_journal(root);
    Ok(true)
}

/// Is there anything for `recover` to do? (one stat: cheap enough for reads)
pub fn pending(root: &Path) -> bool {
    root.join(JOURNAL).exists()
}

/// Drop what killed runs left outside any journal: `<area>/.dctx-txn`
/// (only when no journal references it) and the temp files of atomic writes
/// (`.NAME.tmp-PID-N`, `.NAME.dctx-txn-…`) whose process is gone, in each
/// of `dirs` (the store root, Docker's config dir, config.json's real dir).
pub fn sweep(root: &Path, dirs: &[&Path]) {
    if pending(root) {
        return;
    }
    for d in dirs {
        let _ = remove_any(&d.join(STAGING));
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                continue;
            }
            let stale = if name.contains(&format!(".{STAGING}-")) {
                true
            } else if let Some(rest) = name.split(".tmp-").nth(1) {
                rest.split('-')
                    .next()
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|pid| pid != std::process::id() as i32 && !atomic::alive(pid))
            } else {
                false
            };
            if stale {
                let _ = remove_any(&e.path());
            }
        }
    }
}

/// Anything for `sweep` to drop in `dirs`? (a readdir each: cheap enough
/// for reads, never done on the `env`/`current` hot path)
pub fn leftovers(dirs: &[&Path]) -> bool {
    dirs.iter().any(|d| {
        fs::read_dir(d).into_iter().flatten().flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n == STAGING
                || (n.starts_with('.')
                    && (n.contains(".tmp-") || n.contains(&format!(".{STAGING}-"))))
        })
    })
}

fn nonce() -> u64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    }
    u64::from_le_bytes(b)
}
