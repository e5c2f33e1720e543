//! Shared test support: real daemons on loopback, a test PKI, and a sandbox
//! HOME in which to run the dctx binary and the docker CLI.
#![allow(dead_code)]

pub mod certs;
pub mod dockerd;
pub mod image;
pub mod keyring;
pub mod nginx;
pub mod openbao;
pub mod peers;
pub mod procs;
pub mod prometheus;
pub mod snap;
pub mod sshd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)]
pub use certs::{Issued, Leaf, TestCa};
pub use dockerd::dockerd;
#[allow(unused_imports)]
pub use procs::free_port;

/// An isolated HOME (with a space in its path, on purpose) holding dctx's
/// store (~/.config/dctx) and the Docker CLI config (~/.docker).
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    /// Extra variables for every command (e.g. the test Secret Service bus).
    pub env: Vec<(String, String)>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("dctx-sbx")
            .tempdir()
            .unwrap();
        let home = tmp.path().join("home dir");
        std::fs::create_dir_all(&home).unwrap();
        Sandbox {
            tmp,
            home,
            env: Vec::new(),
        }
    }

    /// Commands see the shared test Secret Service.
    pub fn with_keyring(mut self) -> Self {
        self.env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            keyring::secret_service().to_string(),
        ));
        self
    }

    /// docker's `default` context reaches the shared test daemon (through
    /// DOCKER_HOST at its plain unix socket), so probing "everything" is
    /// healthy instead of failing on a missing /var/run/docker.sock.
    pub fn with_local_daemon(mut self) -> Self {
        self.env.push((
            "DOCKER_HOST".into(),
            format!("unix://{}", dockerd().socket.display()),
        ));
        self
    }

    /// The secret dctx keeps for profile `name` in the test Secret Service
    /// (entries are namespaced by the store's absolute path).
    pub fn keyring_lookup(&self, name: &str) -> Option<String> {
        let service = format!("dctx:{}", self.store().display());
        let out = self
            .cmd("secret-tool")
            .args(["lookup", "service", &service, "username", name])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn docker_config(&self) -> PathBuf {
        self.home.join(".docker")
    }

    pub fn store(&self) -> PathBuf {
        self.home.join(".config/dctx")
    }

    /// A scratch path inside the sandbox (outside HOME).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn base(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .current_dir(self.tmp.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The dctx binary under test, with only the sandbox's environment.
    pub fn dctx(&self) -> Command {
        self.base(env!("CARGO_BIN_EXE_dctx"))
    }

    /// The dctx binary with `args` (for snapshots of its whole output).
    pub fn dctx_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.dctx();
        c.args(args);
        c
    }

    /// The real docker CLI, same environment.
    pub fn docker(&self) -> Command {
        self.base("docker")
    }

    /// Any program with the sandbox environment (shells…).
    pub fn cmd(&self, program: &str) -> Command {
        self.base(program)
    }

    /// Run dctx with `args` and `stdin` on its standard input.
    pub fn with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .dctx()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run dctx with `args`, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.dctx().args(args).output().unwrap();
        assert_success(&out, &format!("dctx {}", args.join(" ")));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run dctx with `args`, expecting failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.dctx().args(args).output().unwrap();
        assert!(
            !out.status.success(),
            "dctx {} unexpectedly succeeded:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A bundle dir (`ca.pem`, `cert.pem`, `key.pem`) for the shared dockerd's
    /// valid client, at `rel` inside the sandbox; file names as given.
    pub fn client_bundle_named(&self, rel: &str, names: [&str; 3]) -> PathBuf {
        let d = dockerd();
        let dir = self.path(rel);
        write_tree(
            &dir,
            &[
                (names[0], &d.ca.cert_pem),
                (names[1], &d.client.cert_pem),
                (names[2], &d.client.key_pem),
            ],
        );
        dir
    }

    /// `client_bundle_named` with the usual names, in `bundle/`.
    pub fn client_bundle(&self) -> PathBuf {
        self.client_bundle_named("bundle", ["ca.pem", "cert.pem", "key.pem"])
    }

    /// `dctx add NAME` of the shared dockerd's valid client bundle, pointed
    /// at its TLS port, plus `extra` flags; returns stdout.
    pub fn add_client_profile(&self, name: &str, extra: &[&str]) -> String {
        let dir = self.client_bundle();
        let host = &dockerd().host;
        let mut args = vec![
            "add",
            name,
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            host,
        ];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// `docker --context NAME version`'s server version, asserting success.
    pub fn context_server_version(&self, name: &str) -> String {
        let out = self
            .docker()
            .args([
                "--context",
                name,
                "version",
                "--format",
                "{{.Server.Version}}",
            ])
            .output()
            .unwrap();
        assert_success(&out, &format!("docker --context {name} version"));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Hash of every file (path, mode, bytes) under HOME: proves "nothing written".
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        snapshot(&self.home)
    }
}

pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// path → "mode:sha256" for every file and dir below `root`.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut map = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                map.insert(rel, format!("{mode:o}:dir"));
                stack.push(p);
            } else {
                let digest = aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    &std::fs::read(&p).unwrap_or_default(),
                );
                map.insert(rel, format!("{mode:o}:{}", hex::encode(digest.as_ref())));
            }
        }
    }
    map
}

/// A bundle directory as people keep one: ca.pem, cert.pem, key.pem.
pub fn write_bundle(dir: &Path, ca: &str, leaf: &Issued) {
    write_tree(
        dir,
        &[
            ("ca.pem", ca),
            ("cert.pem", &leaf.cert_pem),
            ("key.pem", &leaf.key_pem),
        ],
    );
}

/// Write `files` (relative path → contents) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (rel, data) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}
