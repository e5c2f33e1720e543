//! A real Secret Service for keyring tests: a private session dbus-daemon
//! plus an unlocked gnome-keyring, both dying with the test process (the
//! keyring daemon exits when its bus goes away).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::procs::{scratch_dir, spawn_owned};

/// `DBUS_SESSION_BUS_ADDRESS` of the shared test session.
pub fn secret_service() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        let dir = scratch_dir("keyring");
        let mut cmd = Command::new("dbus-daemon");
        cmd.args([
            "--config-file=/usr/share/dbus-1/session.conf",
            "--print-address=1",
            "--nofork",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = spawn_owned(cmd);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().to_string();
        assert!(addr.starts_with("unix:"), "dbus-daemon printed {addr:?}");
        std::mem::forget(child);
        let mut gk = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", dir.join("share"))
            .env("DBUS_SESSION_BUS_ADDRESS", &addr)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (the test command installs gnome-keyring)");
        gk.stdin
            .take()
            .unwrap()
            .write_all(b"test-login-pass")
            .unwrap();
        assert!(
            gk.wait().unwrap().success(),
            "gnome-keyring-daemon --unlock failed"
        );
        addr
    })
}
