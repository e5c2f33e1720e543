//! Backups that never overwrite anything: `FILE.bak-<time>`, then
//! `FILE.bak-<time>-1`, `-2`… each created with `create_new`, so two
//! backups in the same second (or a racing process) cannot clobber one
//! another, and an old CA key is never lost.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Attempts before giving up (a directory full of backups from one second).
const MAX_TRIES: u32 = 1000;

/// Copy `path` to a fresh `path.bak-<now>[-N]` with the same permission
/// bits and return the backup's path. The original is left in place.
pub fn backup(path: &Path, now: i64) -> io::Result<PathBuf> {
    // Read first: the content may be a private key (zeroized on drop).
    let data = Zeroizing::new(fs::read(path)?);
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    for n in 0..MAX_TRIES {
        let mut name = path.as_os_str().to_owned();
        if n == 0 {
            name.push(format!(".bak-{now}"));
        } else {
            name.push(format!(".bak-{now}-{n}"));
        }
        let bak = PathBuf::from(name);
        let mut f = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&bak)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        // `mode` went through the umask: set it exactly (never wider).
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(&data)?;
        f.sync_all()?;
        return Ok(bak);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} already has {MAX_TRIES} backups for this second; refusing to overwrite one",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_second_backups_are_distinct() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ca-key.pem");
        fs::write(&p, "one").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let a = backup(&p, 7).unwrap();
        fs::write(&p, "two").unwrap();
        let b = backup(&p, 7).unwrap();
        assert_ne!(a, b);
        assert_eq!(fs::read_to_string(&a).unwrap(), "one");
        assert_eq!(fs::read_to_string(&b).unwrap(), "two");
        assert_eq!(b.file_name().unwrap(), "ca-key.pem.bak-7-1");
        let mode = fs::metadata(&b).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
