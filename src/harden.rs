//! Process hardening for commands that hold private keys in memory.

use std::io;

/// The core-file limit dctx started with, so a child can get it back.
#[derive(Debug, Clone, Copy)]
pub struct CoreLimit(libc::rlimit);

impl CoreLimit {
    /// Put the limit back. Async-signal-safe: fit for `pre_exec`.
    pub fn restore(&self) -> io::Result<()> {
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &self.0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// No core file from this process: a crash or SIGQUIT would otherwise write
/// the key PEM (and everything else in memory) to disk. Sets the soft
/// RLIMIT_CORE to 0 and, on Linux, clears the dumpable flag (which also
/// stops other processes of the same user from ptrace-reading the key).
/// Both reset for programs dctx runs: the flag at execve, the limit via
/// the returned [`CoreLimit`].
///
/// Idempotent: every call hands back the limit from before the first one.
pub fn no_core_dumps() -> io::Result<CoreLimit> {
    static ORIGINAL: std::sync::OnceLock<CoreLimit> = std::sync::OnceLock::new();
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: old.rlim_max,
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[cfg(target_os = "linux")]
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(*ORIGINAL.get_or_init(|| CoreLimit(old)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowers_the_soft_limit_and_hands_back_the_old_one() {
        let old = super::no_core_dumps().unwrap();
        let mut now = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut now) }, 0);
        assert_eq!(now.rlim_cur, 0);
        assert_eq!(now.rlim_max, old.0.rlim_max);
        #[cfg(target_os = "linux")]
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
        old.restore().unwrap();
        // Leave the test process as it was.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0)
        };
    }
}
