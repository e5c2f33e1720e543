//! A minimal real OpenBao dev server (`bao server -dev -dev-tls`, in memory,
//! loopback) with the PKI engine at `pki/`, for the revocation tests. The
//! vault helper's tests/it/support/openbao.rs is the fuller version; this one
//! only exists until the two are folded.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::procs::{free_port, quiet, scratch_dir, spawn_owned, wait_tcp};

pub struct OpenBao {
    /// `https://127.0.0.1:PORT`
    pub addr: String,
    pub token: String,
    /// CA of the server's own listener certificate (BAO_CACERT).
    pub server_ca: PathBuf,
    /// The PKI engine's root CA.
    pub pki_ca: PathBuf,
    pub dir: PathBuf,
}

impl OpenBao {
    /// A dev server with a PKI root CA and a `client` role.
    pub fn start(tag: &str) -> OpenBao {
        let dir = scratch_dir(&format!("openbao-{tag}"));
        let port = free_port();
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
        let b = OpenBao {
            addr: format!("https://127.0.0.1:{port}"),
            token,
            server_ca: dir.join("vault-ca.pem"),
            pki_ca: dir.join("pki-ca.pem"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !b.bao().arg("status").output().unwrap().status.success() {
            assert!(Instant::now() < deadline, "bao status never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        b.run(&["secrets", "enable", "pki"]);
        b.run(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"]);
        let ca = b.run(&[
            "write",
            "-field=certificate",
            "pki/root/generate/internal",
            "common_name=dctx test OpenBao CA",
            "ttl=87600h",
            "key_type=ec",
            "key_bits=256",
        ]);
        std::fs::write(&b.pki_ca, ca).unwrap();
        b.run(&[
            "write",
            "pki/roles/client",
            "allow_any_name=true",
            "enforce_hostnames=false",
            "client_flag=true",
            "server_flag=false",
            "key_type=ec",
            "key_bits=256",
            "ttl=1h",
        ]);
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

    /// `bao ARGS`, asserting success; stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.bao().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "bao {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}
