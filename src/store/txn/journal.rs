//! The journal: its format, and the check of one found on disk before
//! anything it names is touched.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{JOURNAL, STAGING};
use crate::store::atomic;
use crate::store::keyring::Keyring;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(super) enum Step {
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
pub(super) enum KeyStep {
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
pub(super) enum State {
    Prepared,
    Committed,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Journal {
    pub(super) id: String,
    pub(super) state: State,
    /// Keyring namespace (service) the key steps belong to.
    pub(super) keyring: String,
    pub(super) steps: Vec<Step>,
    pub(super) keys: Vec<KeyStep>,
    /// Staging dirs to drop at the end.
    pub(super) staging: Vec<PathBuf>,
}

/// The journal, if there is one and it passes [`check`].
pub(super) fn load(
    root: &Path,
    keyring: &Keyring,
    areas: &[&Path],
) -> anyhow::Result<Option<Journal>> {
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
    check_origin(j, keyring)?;
    let staging_dirs: Vec<PathBuf> = areas.iter().map(|a| a.join(STAGING).join(&j.id)).collect();
    check_steps(j, areas, &staging_dirs)?;
    for d in &j.staging {
        if !staging_dirs.contains(d) {
            return Err(format!("{} is not its own staging dir", d.display()));
        }
    }
    check_keys(j)
}

/// The id is one dctx makes (every staging name below is built from it)
/// and the key steps belong to this store's keyring namespace.
fn check_origin(j: &Journal, keyring: &Keyring) -> Result<(), String> {
    if !crate::store::is_simple_name(&j.id, "-") {
        return Err(format!("its id {:?} is not one dctx makes", j.id));
    }
    if j.keyring != keyring.service() {
        return Err(format!(
            "it names the keyring service {:?}, not this store's {:?}",
            j.keyring,
            keyring.service()
        ));
    }
    Ok(())
}

/// Every file step's target is inside an area and its staged and old
/// content in this journal's own staging names, checked in step order.
fn check_steps(j: &Journal, areas: &[&Path], staging_dirs: &[PathBuf]) -> Result<(), String> {
    let own = |p: &Path, target: &Path| own_staging(p, target, &j.id, areas, staging_dirs);
    for step in &j.steps {
        match step {
            Step::Put {
                target,
                staged,
                backup,
            } => {
                if !inside(areas, target) {
                    return Err(outside(target));
                }
                for p in [staged, backup] {
                    if !own(p, target) {
                        return Err(format!("{} is not in its own staging area", p.display()));
                    }
                }
            }
            Step::Remove { target, backup } => {
                if !inside(areas, target) {
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
                    if !inside(areas, p) {
                        return Err(outside(p));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `p` is strictly below one of the areas, reached through no symlinked dir.
fn inside(areas: &[&Path], p: &Path) -> bool {
    clean(p)
        && areas
            .iter()
            .any(|a| p.starts_with(a) && p != *a && no_symlinked_dir(a, p))
}

/// Why a target outside every area is refused.
fn outside(p: &Path) -> String {
    format!(
        "{} is outside this store and Docker's config dir (was DCTX_HOME or DOCKER_CONFIG different for the interrupted command?)",
        p.display()
    )
}

/// `p` is `<area>/.dctx-txn/<id>/N.new|old`, or `.NAME.dctx-txn-<id>-N.new|old`
/// beside `target` (config.json through a symlink).
fn own_staging(
    p: &Path,
    target: &Path,
    id: &str,
    areas: &[&Path],
    staging_dirs: &[PathBuf],
) -> bool {
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
            name.strip_prefix(&format!(".{}.{STAGING}-{}-", t.to_string_lossy(), id))
                .is_some_and(numbered)
        });
    staged || beside
}

/// Key steps name profile accounts, and a put stages under this journal's
/// own staging account.
fn check_keys(j: &Journal) -> Result<(), String> {
    let profile = |a: &str| {
        if crate::store::validate_name(a).is_ok() {
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

pub(super) fn write_journal(root: &Path, j: &Journal) -> anyhow::Result<()> {
    atomic::create_dir(root, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", root.display()))?;
    atomic::write(
        &root.join(JOURNAL),
        &serde_json::to_vec_pretty(j)?,
        atomic::PRIVATE_FILE,
    )
    .with_context(|| format!("writing {}", root.join(JOURNAL).display()))
}

pub(super) fn remove_journal(root: &Path) {
    let _ = fs::remove_file(root.join(JOURNAL));
    let _ = atomic::sync_dir(root);
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;
    use crate::store::txn::{Content, Txn};

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
