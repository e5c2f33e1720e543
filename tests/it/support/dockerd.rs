//! A real dockerd (Debian docker.io) with --tlsverify on 127.0.0.1, shared by
//! every test in this binary and killed with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::certs::{Issued, TestCa};
use super::procs::{free_port, quiet, scratch_dir, spawn_owned, unix_get, wait_tcp};

pub struct Dockerd {
    /// The CA that signed the daemon's server cert and that it trusts for clients.
    pub ca: TestCa,
    pub port: u16,
    /// `tcp://127.0.0.1:PORT`
    pub host: String,
    /// Plain unix socket (no TLS) of the same daemon.
    pub socket: PathBuf,
    /// A valid client cert/key signed by `ca`.
    pub client: Issued,
    /// Server version as reported by GET /version.
    pub version: String,
    pub dir: PathBuf,
}

/// Paths to the binaries the suite needs (the test command installs them).
pub fn dockerd_bin() -> &'static str {
    "dockerd"
}

/// Start dockerd with the flags every test instance needs plus `extra`
/// (TLS flags or `--config-file`). `dir` receives data/exec roots and the log.
pub fn spawn_dockerd(dir: &Path, extra: &[String]) -> Child {
    let mut cmd = Command::new(dockerd_bin());
    cmd.args([
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--storage-driver=vfs",
    ])
    .arg(format!("--data-root={}", dir.join("root").display()))
    .arg(format!("--exec-root={}", dir.join("exec").display()))
    .arg(format!("--pidfile={}", dir.join("dockerd.pid").display()))
    .args(extra);
    spawn_owned(quiet(cmd, &dir.join("dockerd.log")))
}

/// Ask a unix-socket dockerd for its version string.
pub fn socket_version(socket: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(resp) = unix_get(socket, "/version")
            && let Some(body) = resp.split("\r\n\r\n").nth(1)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        {
            return v["Version"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "dockerd socket {socket:?} never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The shared daemon, started on first use.
pub fn dockerd() -> &'static Dockerd {
    static D: OnceLock<Dockerd> = OnceLock::new();
    D.get_or_init(|| {
        let dir = scratch_dir("dockerd");
        let ca = TestCa::new("dctx test CA");
        let server = ca.server(&["localhost", "127.0.0.1"]);
        for (f, data) in [
            ("ca.pem", &ca.cert_pem),
            ("server.pem", &server.cert_pem),
            ("server-key.pem", &server.key_pem),
        ] {
            std::fs::write(dir.join(f), data).unwrap();
        }
        let port = free_port();
        let socket = dir.join("docker.sock");
        let mut child = spawn_dockerd(
            &dir,
            &[
                "--tlsverify".into(),
                format!("--tlscacert={}", dir.join("ca.pem").display()),
                format!("--tlscert={}", dir.join("server.pem").display()),
                format!("--tlskey={}", dir.join("server-key.pem").display()),
                format!("-H=tcp://127.0.0.1:{port}"),
                format!("-H=unix://{}", socket.display()),
            ],
        );
        wait_tcp(
            &format!("127.0.0.1:{port}"),
            &mut child,
            "dockerd",
            &dir.join("dockerd.log"),
        );
        let version = socket_version(&socket);
        let client = ca.client("dctx-test-client");
        stop_at_exit(child, dir.clone());
        Dockerd {
            ca,
            port,
            host: format!("tcp://127.0.0.1:{port}"),
            socket,
            client,
            version,
            dir,
        }
    })
}

/// Stop a test's own dockerd the way its unit would (SIGTERM, then wait):
/// SIGKILL leaves its data-root mount behind. Whatever is still mounted
/// under `dir` afterwards is unmounted, so the suite leaves no mounts, also
/// after a failing test.
pub fn stop_dockerd(child: &mut Child, dir: &Path) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    for m in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
        if m.starts_with(&prefix) {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
    let left = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if left.lines().any(|l| l.contains(&prefix)) {
        let msg = format!("mounts of {prefix} left behind:\n{left}");
        // Dropped by a failing test: a second panic would abort the binary.
        if std::thread::panicking() {
            eprintln!("{msg}");
        } else {
            panic!("{msg}");
        }
    }
}

/// A dockerd shared by many tests lives until the test binary exits; then
/// it is stopped like a unit would stop it and its mounts are checked gone
/// (PDEATHSIG alone let it die mid-shutdown and leave its data-root mount).
pub fn stop_at_exit(child: Child, dir: PathBuf) {
    static LIVE: std::sync::Mutex<Vec<(Child, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    static HOOK: OnceLock<()> = OnceLock::new();
    LIVE.lock().unwrap().push((child, dir));
    HOOK.get_or_init(|| {
        // libtest ends through exit(3), passing or not.
        extern "C" fn stop_all() {
            let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
            for (mut child, dir) in live {
                // A panic here would abort the exiting test binary: report instead.
                if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    stop_dockerd(&mut child, &dir)
                })) {
                    eprintln!("stopping the test dockerd in {}: {e:?}", dir.display());
                }
            }
        }
        unsafe { libc::atexit(stop_all) };
    });
}
