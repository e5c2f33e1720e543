//! Signals while dctx runs a command that uses key material on disk.
//!
//! dctx must outlive its command to remove the material, so it catches the
//! signals that would kill it and relays them to the command. The terminal
//! already sends INT/QUIT/HUP to the whole foreground process group (the
//! command included), so a signal the kernel generated is not relayed again.
//! The handlers are in place before any key is written; the signals stay
//! blocked from then until the child's pid is known, so none is lost.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};

/// The signals dctx catches and relays while a command runs: every one
/// whose default action would kill dctx (and leave the key dir behind).
pub fn relayed() -> Vec<libc::c_int> {
    let mut v = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGSYS,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGSEGV,
    ];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        v.extend([libc::SIGIO, libc::SIGPWR, libc::SIGSTKFLT]);
        v.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    }
    v
}

/// The running command's pid (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal to relay that arrived before the pid was known (0: none).
static EARLY: AtomicI32 = AtomicI32::new(0);
/// The first relayed signal dctx received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Sent by the terminal to the whole foreground group (the child has it too).
fn from_terminal(sig: libc::c_int, info: *const libc::siginfo_t) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        matches!(sig, libc::SIGINT | libc::SIGQUIT | libc::SIGHUP)
            && !info.is_null()
            && unsafe { (*info).si_code } == libc::SI_KERNEL
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // No portable mark: relay it (the command may see it twice).
        let _ = (sig, info);
        false
    }
}

/// A fault of dctx itself (not a signal someone sent: those have
/// si_code <= 0): returning from the handler would fault again forever.
fn is_fault(sig: libc::c_int, info: *const libc::siginfo_t) -> bool {
    matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
    ) && !info.is_null()
        && unsafe { (*info).si_code } > 0
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Async-signal-safe only: atomics, kill(2), signal(2).
    if is_fault(sig, info) {
        // Die of it (on return) and take the command along; the next run's
        // sweep removes the dir of a dead dctx.
        let pid = CHILD.load(SeqCst);
        if pid > 0 {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    let _ = RECEIVED.compare_exchange(0, sig, SeqCst, SeqCst);
    if from_terminal(sig, info) {
        return;
    }
    let pid = CHILD.load(SeqCst);
    if pid > 0 {
        unsafe { libc::kill(pid, sig) };
        return;
    }
    EARLY.store(sig, SeqCst);
    // The pid may have been published meanwhile: whoever takes EARLY sends it.
    let pid = CHILD.load(SeqCst);
    if pid > 0 {
        let s = EARLY.swap(0, SeqCst);
        if s != 0 {
            unsafe { libc::kill(pid, s) };
        }
    }
}

fn sigset(sigs: &[libc::c_int]) -> libc::sigset_t {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Handlers installed and signals blocked; dropping it puts back the
/// dispositions and mask dctx started with.
pub struct Guard {
    /// The signals of [`relayed`].
    sigs: Vec<libc::c_int>,
    /// Which of them were ignored when dctx started (`nohup`, `&` in a
    /// script): dctx leaves those ignored, and so does the command.
    ignored: Vec<bool>,
    saved: Vec<(libc::c_int, libc::sigaction)>,
    old_mask: libc::sigset_t,
    blocked: bool,
}

impl Guard {
    /// Block [`relayed`] in this thread, then install the handlers. Call it
    /// before writing any key.
    pub fn install() -> io::Result<Guard> {
        let sigs = relayed();
        let set = sigset(&sigs);
        let mut old_mask = sigset(&[]);
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        CHILD.store(0, SeqCst);
        EARLY.store(0, SeqCst);
        RECEIVED.store(0, SeqCst);
        let mut guard = Guard {
            ignored: vec![false; sigs.len()],
            sigs: sigs.clone(),
            saved: Vec::new(),
            old_mask,
            blocked: true,
        };
        for (i, &sig) in sigs.iter().enumerate() {
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if old.sa_sigaction == libc::SIG_IGN {
                    guard.ignored[i] = true;
                    continue;
                }
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal
                    as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                    as libc::sighandler_t;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigfillset(&mut act.sa_mask);
                if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                guard.saved.push((sig, old));
            }
        }
        Ok(guard)
    }

    /// A relayed signal that is waiting (blocked) or was already handled:
    /// the command must not be started.
    pub fn pending(&self) -> Option<libc::c_int> {
        let mut set = sigset(&[]);
        unsafe { libc::sigpending(&mut set) };
        // One our parent kept blocked would never have reached us: not ours.
        self.sigs
            .iter()
            .copied()
            .find(|&s| unsafe {
                libc::sigismember(&set, s) == 1 && libc::sigismember(&self.old_mask, s) != 1
            })
            .or_else(|| Some(RECEIVED.load(SeqCst)).filter(|&s| s != 0))
    }

    /// The child runs: publish its pid, relay what came early, unblock.
    pub fn child_started(&mut self, pid: u32) {
        CHILD.store(pid as i32, SeqCst);
        let s = EARLY.swap(0, SeqCst);
        if s != 0 {
            unsafe { libc::kill(pid as i32, s) };
        }
        self.unblock();
    }

    fn unblock(&mut self) {
        if self.blocked {
            let set = sigset(&self.sigs);
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
            self.blocked = false;
        }
    }

    /// The first relayed signal dctx received, if any.
    pub fn received(&self) -> Option<libc::c_int> {
        Some(RECEIVED.load(SeqCst)).filter(|&s| s != 0)
    }

    /// What the child runs before exec (async-signal-safe): the dispositions
    /// dctx started with (default, or ignored when they were) and its
    /// original signal mask.
    pub fn child_reset(&self) -> impl Fn() -> io::Result<()> + Send + Sync + 'static {
        let sigs = self.sigs.clone();
        let ignored = self.ignored.clone();
        let old_mask = self.old_mask;
        move || {
            for (i, &sig) in sigs.iter().enumerate() {
                let disp = if ignored[i] {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                };
                unsafe {
                    let mut act: libc::sigaction = std::mem::zeroed();
                    act.sa_sigaction = disp;
                    libc::sigemptyset(&mut act.sa_mask);
                    if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            let rc = unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut())
            };
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(())
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        CHILD.store(0, SeqCst);
        // Deliver what is pending to our handlers (which just record it),
        // then put everything back.
        self.unblock();
        for (sig, old) in &self.saved {
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

/// Die of `sig` the way the command did (fd's pattern): default disposition,
/// unblocked, raised. Returns the shell-style status 128+sig when the signal
/// does not terminate (its default is to ignore).
pub fn reraise(sig: libc::c_int) -> u8 {
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let set = sigset(&[sig]);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    (128 + sig).clamp(0, 255) as u8
}
