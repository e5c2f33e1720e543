//! A real OpenSSH sshd (Debian openssh-server) on 127.0.0.1 with its own host
//! key, config and authorized_keys, in front of the test dockerd's unix
//! socket (`environment="DOCKER_HOST=…"` in authorized_keys). No system sshd
//! or system ssh config is touched.
//!
//! The client side lives in a sandbox: a key, a config, a known_hosts, and an
//! `ssh` wrapper first on the sandbox's PATH that adds `-F CONFIG` (OpenSSH
//! takes ~/.ssh from the passwd entry, not $HOME). dctx and the docker CLI
//! both run that `ssh`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;

use super::Sandbox;
use super::procs::{free_port, quiet, scratch_dir, spawn_owned, wait_tcp};

pub const SSHD: &str = "/usr/sbin/sshd";
/// The second local user for the "no access to the docker socket" case.
pub const OTHER_USER: &str = "dctxssh2";

fn need(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package {package} (see .ci/test)"
    );
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (is openssh-client installed?)"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new ed25519 key pair at `path` / `path.pub`; returns the public line.
pub fn keygen(path: &Path) -> String {
    need("/usr/bin/ssh-keygen", "openssh-client");
    run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "dctx-test", "-f"])
            .arg(path),
        "ssh-keygen",
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// `SHA256:…` of a public key line, as ssh prints it.
pub fn fingerprint(pub_line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.pub");
    std::fs::write(&p, format!("{pub_line}\n")).unwrap();
    let out = run(
        Command::new("ssh-keygen").arg("-lf").arg(&p),
        "ssh-keygen -lf",
    );
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// One authorized_keys line: `pub_line` with `environment="K=V"` options.
pub fn authorized(pub_line: &str, env: &[(&str, &str)]) -> String {
    let opts: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("environment=\"{k}={v}\""))
        .collect();
    if opts.is_empty() {
        format!("{pub_line}\n")
    } else {
        format!("{} {pub_line}\n", opts.join(","))
    }
}

/// The second local user (created once, without a home), unlocked for
/// public-key logins (sshd without PAM refuses locked accounts).
pub fn other_user() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let known = Command::new("getent")
            .args(["passwd", OTHER_USER])
            .output()
            .unwrap();
        if !known.status.success() {
            run(
                Command::new("useradd").args(["-M", "-s", "/bin/sh", OTHER_USER]),
                "useradd",
            );
            // The suite leaves no users behind: gone when the test binary
            // exits (libtest ends through exit(3), passing or not).
            extern "C" fn remove_user() {
                let _ = Command::new("userdel").args(["-f", OTHER_USER]).output();
            }
            unsafe { libc::atexit(remove_user) };
        }
        run(
            Command::new("usermod").args(["-p", "*", OTHER_USER]),
            "usermod -p '*'",
        );
    });
    OTHER_USER
}

pub struct Sshd {
    pub port: u16,
    pub dir: PathBuf,
    /// The host's public key, `ssh-ed25519 AAAA…`.
    pub host_key: String,
    child: Child,
}

impl Sshd {
    /// Start sshd on 127.0.0.1:FREEPORT; `authorized_keys` is the file's
    /// text (for every user: AuthorizedKeysFile is absolute).
    pub fn start(authorized_keys: &str) -> Sshd {
        need(SSHD, "openssh-server");
        // sshd refuses to start without its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let dir = scratch_dir(&format!("sshd-{port}"));
        // Readable by the second user: sshd reads authorized_keys as the user.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let host_key = keygen(&dir.join("host_key"));
        let keys = dir.join("authorized_keys");
        std::fs::write(&keys, authorized_keys).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {hk}\n\
                 PidFile none\n\
                 AuthorizedKeysFile {keys}\n\
                 PermitRootLogin yes\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitUserEnvironment yes\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 LogLevel VERBOSE\n",
                hk = dir.join("host_key").display(),
                keys = keys.display(),
            ),
        )
        .unwrap();
        let log = dir.join("sshd.log");
        let mut cmd = Command::new(SSHD);
        cmd.arg("-D").arg("-e").arg("-f").arg(&config);
        let mut child = spawn_owned(quiet(cmd, &log));
        wait_tcp(&format!("127.0.0.1:{port}"), &mut child, "sshd", &log);
        Sshd {
            port,
            dir,
            host_key,
            child,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client: key, config, known_hosts and the `ssh` wrapper on PATH.
pub struct SshClient {
    pub dir: PathBuf,
    /// Our public key line.
    pub key: String,
    pub known_hosts: PathBuf,
}

impl SshClient {
    /// Set up the client in `sb` and put its `ssh` first on the sandbox's PATH.
    pub fn new(sb: &mut Sandbox) -> SshClient {
        need("/usr/bin/ssh", "openssh-client");
        let dir = sb.path("ssh-client");
        let bin = sb.path("bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let key = keygen(&dir.join("id_ed25519"));
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, "").unwrap();
        let config = dir.join("config");
        std::fs::write(
            &config,
            format!(
                "Host *\n  \
                 UserKnownHostsFile {kh}\n  \
                 GlobalKnownHostsFile /dev/null\n  \
                 IdentityFile {id}\n  \
                 IdentitiesOnly yes\n  \
                 IdentityAgent none\n  \
                 BatchMode yes\n",
                kh = known_hosts.display(),
                id = dir.join("id_ed25519").display(),
            ),
        )
        .unwrap();
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F '{}' \"$@\"\n",
                config.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        sb.env
            .push(("PATH".into(), format!("{}:{path}", bin.display())));
        SshClient {
            dir,
            key,
            known_hosts,
        }
    }

    /// Record `host_key` for 127.0.0.1:`port` in known_hosts.
    pub fn trust(&self, port: u16, host_key: &str) {
        let mut kh = std::fs::read_to_string(&self.known_hosts).unwrap();
        let mut parts = host_key.split_whitespace();
        let (t, k) = (parts.next().unwrap(), parts.next().unwrap());
        kh.push_str(&format!("[127.0.0.1]:{port} {t} {k}\n"));
        std::fs::write(&self.known_hosts, kh).unwrap();
    }
}
