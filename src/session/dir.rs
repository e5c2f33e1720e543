//! The private directory that holds a target's material while a command
//! runs, and the sweep of directories whose dctx was killed (SIGKILL, a
//! crash, power loss) before it could remove them.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::store::atomic::{self, alive};

/// Name prefixes of dctx's private dirs: `<prefix><pid>-<nonce>`.
pub const PREFIXES: [&str; 2] = ["dctx-exec-", "dctx-shell-"];

/// A 0700 directory removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct PrivateDir(PathBuf);

impl PrivateDir {
    /// Create `<base>/<prefix><pid>-<nonce>`; the pid in the name lets a
    /// later run tell a dead owner's dir from a live one's.
    pub fn create(base: &Path, prefix: &str) -> anyhow::Result<PrivateDir> {
        let pid = std::process::id();
        for attempt in 0..16u32 {
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
                ^ attempt.wrapping_mul(0x9E37_79B9);
            let dir = base.join(format!("{prefix}{pid}-{nonce:08x}"));
            // create (not create_all): fails if it exists, so nobody can
            // pre-create it for us with their own owner or mode.
            match std::fs::DirBuilder::new()
                .mode(atomic::PRIVATE_DIR)
                .create(&dir)
            {
                Ok(()) => return Ok(PrivateDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("creating a private dir in {}", base.display())));
                }
            }
        }
        anyhow::bail!("could not create a private dir in {}", base.display())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The owner pid encoded in a private dir's name.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let (pid, nonce) = rest.split_once('-')?;
    if nonce.len() != 8 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// Remove the private dirs in `base` whose owning dctx is gone. Only real
/// directories (not symlinks) owned by this user are touched; dirs of live
/// processes are left alone. Best effort: errors are ignored. Returns how
/// many were removed.
pub fn sweep(base: &Path) -> usize {
    let me = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if alive(pid) {
            continue;
        }
        let path = entry.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_reads_only_dctx_names() {
        assert_eq!(owner_pid("dctx-exec-123-0badf00d"), Some(123));
        assert_eq!(owner_pid("dctx-shell-9-00000000"), Some(9));
        assert_eq!(owner_pid("dctx-exec-123-xyz"), None);
        assert_eq!(owner_pid("dctx-exec-0-00000000"), None);
        assert_eq!(owner_pid("dctx-exec--5-00000000"), None);
        assert_eq!(owner_pid("other-123-0badf00d"), None);
    }

    #[test]
    fn sweep_removes_dead_owners_dirs_only() {
        let base = tempfile::tempdir().unwrap();
        // pid_max is below 2^22 on Linux: this pid cannot exist.
        let dead = base.path().join("dctx-exec-2147483000-0badf00d");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("key.pem"), "k").unwrap();
        let live = base
            .path()
            .join(format!("dctx-shell-{}-0badf00d", std::process::id()));
        std::fs::create_dir(&live).unwrap();
        let unrelated = base.path().join("dctx-exec-notapid");
        std::fs::create_dir(&unrelated).unwrap();
        // A symlink with a dead owner's name is not followed nor removed.
        let target = base.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "x").unwrap();
        let link = base.path().join("dctx-exec-2147483001-0badf00d");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(sweep(base.path()), 1);
        assert!(!dead.exists());
        assert!(live.exists() && unrelated.exists() && target.join("keep").exists());
    }

    #[test]
    fn private_dir_is_0700_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let d = PrivateDir::create(base.path(), "dctx-exec-").unwrap();
        let p = d.path().to_path_buf();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(
            owner_pid(p.file_name().unwrap().to_str().unwrap()),
            Some(std::process::id() as i32)
        );
        drop(d);
        assert!(!p.exists());
    }
}
