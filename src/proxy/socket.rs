//! The listening socket: its default place, a 0600 bind, the pid file
//! beside it, stale-socket takeover and live-proxy refusal.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ProxyError;
use crate::store::atomic::alive;

/// `$XDG_RUNTIME_DIR/dctx/NAME.sock`, else `<tmp>/dctx-UID/NAME.sock`; the
/// directory is created 0700 (an existing tmp one must be ours and private).
pub fn default_path(
    xdg_runtime_dir: Option<&Path>,
    tmp: &Path,
    name: &str,
) -> Result<PathBuf, ProxyError> {
    let uid = unsafe { libc::geteuid() };
    let (dir, shared_parent) = match xdg_runtime_dir {
        Some(x) => (x.join("dctx"), false),
        None => (tmp.join(format!("dctx-{uid}")), true),
    };
    let io = |e: std::io::Error| ProxyError::Io(format!("creating {}", dir.display()), e);
    match std::fs::DirBuilder::new()
        .recursive(!shared_parent)
        .mode(0o700)
        .create(&dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // In a world-writable temp dir somebody else may have made it.
            let m = std::fs::symlink_metadata(&dir).map_err(io)?;
            if shared_parent && (!m.is_dir() || m.uid() != uid || m.mode() & 0o077 != 0) {
                return Err(ProxyError::UnsafeDir(dir));
            }
        }
        Err(e) => return Err(io(e)),
    }
    Ok(dir.join(format!("{name}.sock")))
}

/// The pid file that goes with `socket`.
pub fn pid_path(socket: &Path) -> PathBuf {
    let mut s = socket.as_os_str().to_owned();
    s.push(".pid");
    PathBuf::from(s)
}

/// The bound socket; removes the socket and pid file when dropped.
pub struct Bound {
    pub listener: tokio::net::UnixListener,
    pub path: PathBuf,
    pid_file: PathBuf,
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Bind `path` for profile `name`: replace a stale socket (nobody accepts
/// on it, or its pid file names a dead process), refuse a live one.
/// Needs a tokio runtime.
pub fn bind(path: &Path, name: &str) -> Result<Bound, ProxyError> {
    let pid_file = pid_path(path);
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(ProxyError::NotASocket(path.to_path_buf()));
        }
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let listening = std::os::unix::net::UnixStream::connect(path).is_ok();
        match pid {
            Some(pid) if listening && alive(pid) => {
                return Err(ProxyError::AlreadyRunning {
                    name: name.to_string(),
                    pid,
                });
            }
            _ if listening => return Err(ProxyError::SocketInUse(path.to_path_buf())),
            // Stale: nobody accepts on it (a killed proxy left it behind).
            _ => {
                let _ = std::fs::remove_file(path);
                let _ = std::fs::remove_file(&pid_file);
            }
        }
    }
    let io = |what: &str, e| ProxyError::Io(format!("{what} {}", path.display()), e);
    // The socket is born 0600: no window in which another user can connect.
    let old = unsafe { libc::umask(0o177) };
    let listener = tokio::net::UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.map_err(|e| io("listening on", e))?;
    let bound = Bound {
        listener,
        path: path.to_path_buf(),
        pid_file: pid_file.clone(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io("chmod", e))?;
    use std::io::Write;
    // We own the socket now, so whatever sits at the pid file's place is
    // stale: replace it, never writing through a symlink planted there.
    let _ = std::fs::remove_file(&pid_file);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&pid_file)
        .and_then(|mut f| writeln!(f, "{}", std::process::id()))
        .map_err(|e| ProxyError::Io(format!("writing {}", pid_file.display()), e))?;
    Ok(bound)
}
