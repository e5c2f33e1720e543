//! The file-system steps: renames, removal, and the checks that a rename
//! cannot fail after the commit point.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::Context as _;

use super::Content;
use crate::store::atomic;

pub(super) fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

pub(super) fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
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
pub(super) fn ensure_parent(dir: &Path) -> anyhow::Result<()> {
    atomic::create_dir(dir, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Fail before the commit point when a rename into `dir` would be refused
/// (e.g. `~/.docker/contexts` left root-owned by `sudo docker …`).
pub(super) fn writable(dir: &Path) -> anyhow::Result<()> {
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
pub(super) fn same_fs(a: &Path, b: &Path) -> anyhow::Result<()> {
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

pub(super) fn write_content(staged: &Path, content: Content) -> anyhow::Result<()> {
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
