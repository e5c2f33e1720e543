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

use super::atomic;
use super::keyring::Keyring;

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

/// A journaled keyring operation (not where a key lives: that is `store::KeyStore`).
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

/// The journal, if there is one and it passes [`check`].
fn load(root: &Path, keyring: &Keyring, areas: &[&Path]) -> anyhow::Result<Option<Journal>> {
    use std::os::unix::fs::MetadataExt;
    let path = root.join(JOURNAL);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let refuse = |why: String| {
        let p = path.display().to_string();
        anyhow::anyhow!(
            "refusing to act on {p}: {why}. If you did not expect it, move it aside (`mv {:?} {:?}`): the stores then stay as they are",
            p,
            format!("{p}.refused")
        )
    };
    let euid = unsafe { libc::geteuid() };
    // Root on a user's store would act with root's rights on what that
    // user wrote: only the store's owner recovers it.
    let root_uid = fs::metadata(root)
        .with_context(|| format!("reading {}", root.display()))?
        .uid();
    if root_uid != euid {
        anyhow::bail!(
            "{} holds an interrupted change, but the store {} belongs to uid {root_uid}: run dctx as that user to finish it",
            path.display(),
            root.display()
        );
    }
    if !meta.file_type().is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if meta.uid() != euid {
        return Err(refuse(format!("it belongs to uid {}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "its mode is {:o}, not 600",
            meta.mode() & 0o7777
        )));
    }
    let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    // The write is atomic, so a torn journal is not one of ours.
    let journal: Journal = serde_json::from_slice(&data)
        .map_err(|e| refuse(format!("it is not a dctx journal ({e})")))?;
    check(&journal, keyring, areas).map_err(refuse)?;
    Ok(Some(journal))
}

/// Everything a journal names must be what `Txn` itself would have written
/// for this store: targets inside an area (through no symlinked dir),
/// staged and old content in this journal's own staging names, keys in
/// this store's keyring namespace under profile names.
fn check(j: &Journal, keyring: &Keyring, areas: &[&Path]) -> Result<(), String> {
    if !super::is_simple_name(&j.id, "-") {
        return Err(format!("its id {:?} is not one dctx makes", j.id));
    }
    if j.keyring != keyring.service() {
        return Err(format!(
            "it names the keyring service {:?}, not this store's {:?}",
            j.keyring,
            keyring.service()
        ));
    }
    let staging_dirs: Vec<PathBuf> = areas.iter().map(|a| a.join(STAGING).join(&j.id)).collect();
    let inside = |p: &Path| {
        clean(p)
            && areas
                .iter()
                .any(|a| p.starts_with(a) && p != *a && no_symlinked_dir(a, p))
    };
    let outside = |p: &Path| {
        format!(
            "{} is outside this store and Docker's config dir (was DCTX_HOME or DOCKER_CONFIG different for the interrupted command?)",
            p.display()
        )
    };
    // `<area>/.dctx-txn/<id>/N.new|old`, or `.NAME.dctx-txn-<id>-N.new|old`
    // beside `target` (config.json through a symlink).
    let own = |p: &Path, target: &Path| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name.filter(|_| clean(p)) else {
            return false;
        };
        let numbered = |rest: &str| {
            rest.strip_suffix(".new")
                .or_else(|| rest.strip_suffix(".old"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let parent = p.parent().unwrap_or(Path::new(""));
        let staged = staging_dirs
            .iter()
            .zip(areas)
            .any(|(d, a)| parent == d && numbered(&name) && no_symlinked_dir(a, p));
        let beside = target.parent() == Some(parent)
            && target.file_name().is_some_and(|t| {
                name.strip_prefix(&format!(".{}.{STAGING}-{}-", t.to_string_lossy(), j.id))
                    .is_some_and(numbered)
            });
        staged || beside
    };
    for step in &j.steps {
        match step {
            Step::Put {
                target,
                staged,
                backup,
            } => {
                if !inside(target) {
                    return Err(outside(target));
                }
                for p in [staged, backup] {
                    if !own(p, target) {
                        return Err(format!("{} is not in its own staging area", p.display()));
                    }
                }
            }
            Step::Remove { target, backup } => {
                if !inside(target) {
                    return Err(outside(target));
                }
                if !own(backup, target) {
                    return Err(format!(
                        "{} is not in its own staging area",
                        backup.display()
                    ));
                }
            }
            Step::Move { from, to } => {
                for p in [from, to] {
                    if !inside(p) {
                        return Err(outside(p));
                    }
                }
            }
        }
    }
    for d in &j.staging {
        if !staging_dirs.contains(d) {
            return Err(format!("{} is not its own staging dir", d.display()));
        }
    }
    let profile = |a: &str| {
        if super::validate_name(a).is_ok() {
            Ok(())
        } else {
            Err(format!("{a:?} is not a profile's keyring account"))
        }
    };
    for k in &j.keys {
        match k {
            KeyStep::Put { account, staged } => {
                profile(account)?;
                if *staged != format!("{account}#txn-{}", j.id) {
                    return Err(format!("{staged:?} is not its own staging account"));
                }
            }
            KeyStep::Remove { account } => profile(account)?,
            KeyStep::Move { from, to } => {
                profile(from)?;
                profile(to)?;
            }
        }
    }
    Ok(())
}

/// No `..` or `.` to walk out of an area after a prefix check.
fn clean(p: &Path) -> bool {
    use std::path::Component;
    p.components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

/// No dir between `area` and `p` is a symlink (which would lead outside).
fn no_symlinked_dir(area: &Path, p: &Path) -> bool {
    let Ok(rel) = p.strip_prefix(area) else {
        return false;
    };
    let mut cur = area.to_path_buf();
    let mut parts: Vec<_> = rel.components().collect();
    parts.pop();
    for c in parts {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return false,
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    true
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

/// Applying is renames only: refuse before the commit point when `a` and
/// `b` live on different file systems (a mount inside Docker's config dir),
/// where the rename would fail with EXDEV after it.
fn same_fs(a: &Path, b: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| {
        p.parent()
            .and_then(|d| fs::metadata(d).ok())
            .map(|m| m.dev())
    };
    if let (Some(x), Some(y)) = (dev(a), dev(b))
        && x != y
    {
        anyhow::bail!(
            "{} and {} are on different file systems, so dctx cannot replace one with the other in one step; nothing was changed",
            a.display(),
            b.display()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal `commit` would write for `tx`.
    fn journal_of(tx: &Txn, keyring: &Keyring) -> Journal {
        Journal {
            id: tx.id.clone(),
            state: State::Committed,
            keyring: keyring.service().to_string(),
            steps: tx.steps.clone(),
            keys: tx.keys.clone(),
            staging: tx.staging.clone(),
        }
    }

    #[test]
    fn check_accepts_every_step_txn_writes_and_refuses_each_mutation() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let docker = tmp.path().join("docker");
        let cfg_dir = tmp.path().join("dotfiles");
        let areas = [store.as_path(), docker.as_path(), cfg_dir.as_path()];
        let kr = Keyring::for_store(&store);
        let mut tx = Txn::new(&store);
        tx.put(
            &store,
            store.join("profiles/a1"),
            Content::File {
                data: vec![],
                mode: 0o600,
                owner: None,
            },
        );
        tx.remove(&docker, docker.join("contexts/meta/x"));
        tx.rename(store.join("profiles/a1"), store.join("profiles/b1"));
        tx.put_beside(cfg_dir.join("config.json"), vec![], 0o600, None);
        tx.key_put("a1", Zeroizing::new(vec![1]));
        tx.key_move("a1", "b1");
        tx.key_remove("b1");
        let good = journal_of(&tx, &kr);
        assert_eq!(check(&good, &kr, &areas), Ok(()));

        let outside = tmp.path().join("victim");
        type Mutation<'a> = Box<dyn Fn(&mut Journal) + 'a>;
        let mutations: Vec<(&str, Mutation)> = vec![
            (
                "foreign service",
                Box::new(|j| j.keyring = "dctx:/elsewhere".into()),
            ),
            ("odd id", Box::new(|j| j.id = "../x".into())),
            (
                "target outside",
                Box::new(|j| {
                    if let Step::Put { target, .. } = &mut j.steps[0] {
                        *target = outside.clone();
                    }
                }),
            ),
            (
                "dot-dot",
                Box::new(|j| {
                    if let Step::Remove { target, .. } = &mut j.steps[1] {
                        *target = docker.join("../victim");
                    }
                }),
            ),
            (
                "the area itself",
                Box::new(|j| {
                    if let Step::Remove { target, .. } = &mut j.steps[1] {
                        *target = docker.clone();
                    }
                }),
            ),
            (
                "staged elsewhere",
                Box::new(|j| {
                    if let Step::Put { staged, .. } = &mut j.steps[0] {
                        *staged = outside.join("0.new");
                    }
                }),
            ),
            (
                "backup not numbered",
                Box::new(|j| {
                    if let Step::Remove { backup, .. } = &mut j.steps[1] {
                        *backup = backup.with_file_name("passwd");
                    }
                }),
            ),
            (
                "beside another file",
                Box::new(|j| {
                    if let Step::Put { staged, .. } = &mut j.steps[3] {
                        *staged = cfg_dir.join(".other.dctx-txn-1-0.new");
                    }
                }),
            ),
            (
                "move outside",
                Box::new(|j| {
                    if let Step::Move { to, .. } = &mut j.steps[2] {
                        *to = outside.clone();
                    }
                }),
            ),
            (
                "foreign staging",
                Box::new(|j| j.staging.push(outside.clone())),
            ),
            (
                "staged account of another",
                Box::new(|j| {
                    if let KeyStep::Put { staged, .. } = &mut j.keys[0] {
                        *staged = "b1#txn-1-2".into();
                    }
                }),
            ),
            (
                "account no profile could have",
                Box::new(|j| {
                    if let KeyStep::Remove { account } = &mut j.keys[2] {
                        *account = "../b1".into();
                    }
                }),
            ),
        ];
        for (what, mutate) in mutations {
            let mut j = journal_of(&tx, &kr);
            mutate(&mut j);
            assert!(check(&j, &kr, &areas).is_err(), "{what} passed");
        }
    }
}
