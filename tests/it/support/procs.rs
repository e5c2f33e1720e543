//! Child processes owned by the test binary: started from one long-lived
//! thread with PR_SET_PDEATHSIG, so dockerd / nginx die with the test run
//! even though statics are never dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

type Job = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The spawner thread never exits: PDEATHSIG fires when the *thread* that
/// forked the child ends, which must only happen when the process ends.
fn spawner() -> &'static Mutex<mpsc::Sender<Job>> {
    static TX: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                unsafe {
                    cmd.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                        Ok(())
                    });
                }
                let _ = reply.send(cmd.spawn());
            }
            loop {
                std::thread::park();
            }
        });
        Mutex::new(tx)
    })
}

/// Spawn `cmd` tied to the lifetime of the test process.
pub fn spawn_owned(cmd: Command) -> Child {
    let (tx, rx) = mpsc::channel();
    spawner().lock().unwrap().send((cmd, tx)).unwrap();
    rx.recv().unwrap().expect("spawning test daemon")
}

/// A TCP port nothing listens on (127.0.0.1 and ::1), for a daemon to bind
/// or a client to find closed. Bind-:0-and-release would hand out a port
/// from the kernel's ephemeral range, which the kernel may give to any
/// bind(:0) or outgoing connection before it is used; these come from below
/// that range (only an explicit bind takes them) and are never handed out
/// twice by this process.
pub fn free_port() -> u16 {
    static NEXT: Mutex<Option<u32>> = Mutex::new(None);
    let low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (first, span) = (10_000, low.saturating_sub(10_000).max(1000));
    let mut next = NEXT.lock().unwrap();
    // Test binaries running side by side start at different places.
    let n = next.get_or_insert(std::process::id().wrapping_mul(7919) % span);
    for _ in 0..span {
        let port = (first + *n % span) as u16;
        *n += 1;
        // Without IPv6 only 127.0.0.1 can be taken.
        let v6_free = match TcpListener::bind(("::1", port)) {
            Err(e) => e.kind() != std::io::ErrorKind::AddrInUse,
            Ok(_) => true,
        };
        if v6_free && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {first}..{}", first + span);
}

/// Wait until something accepts TCP on `addr`.
pub fn wait_tcp(addr: &str, child: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {addr} within 60 s");
}

/// Plain HTTP GET over a unix socket (readiness probes without the client under test).
pub fn unix_get(socket: &Path, path: &str) -> Option<String> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A temp dir under /tmp that is left for the OS (statics are never dropped);
/// stale ones from killed runs are swept at start.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static SWEPT: OnceLock<()> = OnceLock::new();
    let base = std::env::temp_dir();
    SWEPT.get_or_init(|| {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("dctx-it-")
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
                && unsafe { libc::kill(pid, 0) } != 0
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let dir = base.join(format!("dctx-it-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn quiet(mut cmd: Command, log: &Path) -> Command {
    let f = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    cmd
}
