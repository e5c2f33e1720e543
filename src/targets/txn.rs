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

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::store::atomic;
use crate::store::keyring::Keyring;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Step {
    /// Install `staged` at `target`; what was there waits at `backup`.
    Put {
        target: PathBuf,
        staged: PathBuf,
        backup: PathBuf,
    },
    /// Take `target` away (to `backup`, dropped at the end).
    Remove { target: PathBuf, backup: PathBuf },
    /// Rename `from` to `to`.
    Move { from: PathBuf, to: PathBuf },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum KeyStep {
    /// `staged` (a keyring account holding the new key) becomes `account`.
    Put {
        account: String,
        staged: String,
    },
    Remove {
        account: String,
    },
    Move {
        from: String,
        to: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    Prepared,
    Committed,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    id: String,
    state: State,
    /// Keyring namespace (service) the key steps belong to.
    keyring: String,
    steps: Vec<Step>,
    keys: Vec<KeyStep>,
    /// Staging dirs to drop at the end.
    staging: Vec<PathBuf>,
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
        }
        for step in &self.steps {
            let dir = match step {
                Step::Remove { target, .. } => target.parent(),
                Step::Move { from, to } => {
                    if let Some(p) = to.parent() {
                        ensure_parent(p)?;
                        writable(p)?;
                    }
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
pub fn recover(root: &Path, keyring: &Keyring) -> anyhow::Result<()> {
    let path = root.join(JOURNAL);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let journal: Journal = match serde_json::from_slice(&data) {
        Ok(j) => j,
        // A torn journal can only be a `prepared` one being written (the
        // write is atomic, so this is a foreign file): nothing to finish.
        Err(e) => anyhow::bail!(
            "{} is not a dctx journal ({e}); move it away to continue",
            path.display()
        ),
    };
    // The keyring namespace is the store's; a journal of another one is odd
    // but harmless to honour.
    let kr = if journal.keyring == keyring.service() {
        keyring.clone()
    } else {
        Keyring::with_service(&journal.keyring)
    };
    match journal.state {
        State::Prepared => {
            discard(&journal, &kr);
            remove_journal(root);
        }
        State::Committed => {
            apply(&journal, &kr, None).with_context(|| {
                format!(
                    "finishing an interrupted change recorded in {}",
                    path.display()
                )
            })?;
            finish(&journal, root);
        }
    }
    Ok(())
}

/// Is there anything for `recover` to do? (one stat: cheap enough for reads)
pub fn pending(root: &Path) -> bool {
    root.join(JOURNAL).exists()
}

fn write_journal(root: &Path, j: &Journal) -> anyhow::Result<()> {
    atomic::create_dir(root, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", root.display()))?;
    atomic::write(
        &root.join(JOURNAL),
        &serde_json::to_vec_pretty(j)?,
        atomic::PRIVATE_FILE,
    )
    .with_context(|| format!("writing {}", root.join(JOURNAL).display()))
}

fn remove_journal(root: &Path) {
    let _ = fs::remove_file(root.join(JOURNAL));
    let _ = atomic::sync_dir(root);
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::rename(from, to)
        .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
    if let Some(p) = to.parent() {
        let _ = atomic::sync_dir(p);
    }
    if let Some(p) = from.parent() {
        let _ = atomic::sync_dir(p);
    }
    Ok(())
}

/// Create missing parents (0755 for Docker's public meta dirs is decided by
/// the caller creating them first; here only what is still missing, 0700).
fn ensure_parent(dir: &Path) -> anyhow::Result<()> {
    atomic::create_dir(dir, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Fail before the commit point when a rename into `dir` would be refused
/// (e.g. `~/.docker/contexts` left root-owned by `sudo docker …`).
fn writable(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        let e = io::Error::last_os_error();
        anyhow::bail!(
            "cannot write to {}: {e}; nothing was changed",
            dir.display()
        );
    }
    Ok(())
}

fn write_content(staged: &Path, content: Content) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match content {
        Content::Dir { mode, files } => {
            fs::create_dir(staged)?;
            fs::set_permissions(staged, fs::Permissions::from_mode(mode))?;
            for (name, data, fmode) in files {
                let path = staged.join(&name);
                // `docker/ca.pem`: Docker's tls/<id>/<endpoint>/ layout.
                if let Some(sub) = path.parent().filter(|p| *p != staged) {
                    atomic::create_dir(sub, atomic::PRIVATE_DIR)?;
                }
                atomic::write(&path, &data, fmode)?;
            }
            atomic::sync_dir(staged)?;
        }
        Content::File { data, mode, owner } => {
            atomic::write(staged, &data, mode)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(staged, Some(uid), Some(gid))?;
                // chown may clear set-id bits; the mode is what we asked for.
                fs::set_permissions(staged, fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(())
}

/// What to undo if applying fails half-way (in-process only).
#[derive(Default)]
struct Undo {
    files: Vec<Step>,
    keys: Vec<(String, Option<Zeroizing<Vec<u8>>>)>,
}

impl Undo {
    fn run(self, keyring: &Keyring) {
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
fn apply(j: &Journal, keyring: &Keyring, mut undo: Option<&mut Undo>) -> anyhow::Result<()> {
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
fn discard(j: &Journal, keyring: &Keyring) {
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
fn finish(j: &Journal, root: &Path) {
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
                    .is_some_and(|pid| pid != std::process::id() as i32 && !alive(pid))
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

fn alive(pid: i32) -> bool {
    // EPERM: it exists but is someone else's.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
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
