//! The client-compatibility lint against the real clients: each flawed
//! certificate set is made with openssl (lint_data/mk.sh), served by
//! `openssl s_server` on loopback, and `dctx doctor`'s prediction of which
//! client families refuse it is checked against the docker CLI (Go), dctx
//! itself (rustls), Python's ssl with VERIFY_X509_STRICT, curl (OpenSSL)
//! and `openssl verify -x509_strict`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::prometheus::require;
use crate::support::{Sandbox, assert_success, free_port};

struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server` serving `cert`+`key` (and `extra` chain certs) on 127.0.0.1.
fn serve(dir: &Path, cert: &str, key: &str, chain: Option<&str>) -> Served {
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", cert, "-key", key])
        // The flawed material itself must load (SHA-1, RSA-1024).
        .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = chain {
        cmd.args(["-cert_chain", c]);
    }
    let child = cmd.spawn().expect("openssl s_server");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "s_server did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Served { child, port }
}

/// The verdicts of the real clients: the families that refused the server.
struct Verdicts {
    refused: BTreeSet<&'static str>,
    strict_verify_refused: bool,
    detail: String,
}

const PY: &str = r#"
import socket, ssl, sys
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
try:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=host):
            print("ACCEPT")
except ssl.SSLCertVerificationError as e:
    print("REJECT", e.verify_message)
"#;

/// Run every real client against `host:port` trusting `dir/ca.pem`.
fn real_clients(sb: &Sandbox, dir: &Path, host: &str, port: u16, profile: &str) -> Verdicts {
    let ca = dir.join("ca.pem");
    let ca_s = ca.to_str().unwrap();
    let mut refused = BTreeSet::new();
    let mut detail = String::new();
    // Go: the docker CLI (no client certificate needed to see the server verified).
    // s_server is no Docker API: once TLS is verified the CLI waits for an
    // answer it never gets, so `timeout` ends it (a refusal comes at once).
    let out = sb
        .cmd("timeout")
        .args(["10", "docker"])
        .args([
            "-H",
            &format!("tcp://{host}:{port}"),
            "--tlsverify",
            "--tlscacert",
            ca_s,
        ])
        .arg("version")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if err.contains("x509: ") || err.contains("tls: failed to verify") {
        refused.insert("go");
    }
    detail += &format!("docker: {}\n", err.lines().last().unwrap_or(""));
    // rustls: dctx itself; the server chain verdicts are these finding codes.
    let out = sb
        .dctx()
        .args(["doctor", profile, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    if codes
        .iter()
        .any(|c| ["unknown-ca", "name-mismatch", "cn-only", "tls-error"].contains(c))
    {
        refused.insert("rustls");
    }
    detail += &format!("dctx: {codes:?}\n");
    // OpenSSL with X509_STRICT: Python's ssl, flag set by hand (3.11 here).
    let py = sb.path("strict.py");
    std::fs::write(&py, PY).unwrap();
    let out = Command::new("python3")
        .arg(&py)
        .args([host, &port.to_string(), ca_s])
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.starts_with("ACCEPT") || said.starts_with("REJECT"),
        "python: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if said.starts_with("REJECT") {
        refused.insert("openssl-strict");
    }
    detail += &format!("python strict: {said}");
    // Plain OpenSSL: curl.
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--cacert", ca_s])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://{host}:{port}/"))
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .unwrap();
    if matches!(out.status.code(), Some(60 | 51)) {
        refused.insert("openssl");
    }
    detail += &format!(
        "curl: {:?} {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The chain rules alone: `openssl verify -x509_strict` (no TLS security level, no names).
    let mut verify = Command::new("openssl");
    verify.args(["verify", "-x509_strict", "-CAfile", ca_s]);
    let out = verify.arg(dir.join("leaf.pem")).output().unwrap();
    detail += &format!(
        "openssl verify -x509_strict: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    Verdicts {
        refused,
        strict_verify_refused: !out.status.success(),
        detail,
    }
}

/// Make the case, serve it, and compare dctx's prediction with the clients.
fn case(name: &str, host: &str, expect_code: Option<&str>) {
    for (bin, pkg) in [
        ("openssl", "openssl"),
        ("curl", "curl"),
        ("python3", "python3"),
        ("docker", "docker.io"),
    ] {
        require(bin, pkg);
    }
    let sb = Sandbox::new();
    let dir = sb.path(name);
    let script = sb.path("mk.sh");
    std::fs::write(&script, include_str!("lint_data/mk.sh")).unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg(name)
        .output()
        .unwrap();
    assert_success(&out, &format!("mk.sh {name}"));
    let served = serve(&dir, "leaf.pem", "leaf.key", None);
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    sb.ok(&[
        "add",
        "lint",
        "--ca",
        &d("ca.pem"),
        "--cert",
        &d("cl.pem"),
        "--key",
        &d("cl.key"),
        "--host",
        &format!("tcp://{host}:{}", served.port),
        "--no-context",
    ]);
    let out = sb
        .dctx()
        .args(["doctor", "lint", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let compat = v["compatibility"].as_array().unwrap().clone();
    let codes: Vec<&str> = compat.iter().map(|f| f["code"].as_str().unwrap()).collect();
    let predicted: BTreeSet<&str> = compat
        .iter()
        .flat_map(|f| f["clients"].as_array().unwrap().iter())
        .map(|c| c.as_str().unwrap())
        .collect();
    match expect_code {
        Some(c) => assert!(codes.contains(&c), "{name}: expected {c} in {compat:#?}"),
        None => assert!(compat.is_empty(), "{name}: {compat:#?}"),
    }
    for f in &compat {
        assert!(!f["fix"].as_str().unwrap().is_empty());
    }
    let real = real_clients(&sb, &dir, host, served.port, "lint");
    assert_eq!(
        predicted, real.refused,
        "{name}: dctx predicted {predicted:?} ({codes:?}), the real clients refused {:?}\n{}",
        real.refused, real.detail
    );
    let chain_strict = codes.iter().any(|c| {
        [
            "ca-no-keycertsign",
            "ca-no-keyusage",
            "ca-basic-constraints-not-critical",
            "ca-no-basic-constraints",
            "missing-aki",
            "missing-ski",
            "missing-intermediate",
        ]
        .contains(c)
    });
    assert_eq!(
        chain_strict, real.strict_verify_refused,
        "{name}: {}",
        real.detail
    );
    // The text form names the families too.
    let text =
        String::from_utf8(sb.dctx().args(["doctor", "lint"]).output().unwrap().stdout).unwrap();
    // Notes no real client acts on, or whose cause the diagnosis already
    // names with its fix (covered_by), stay out of the text; the others
    // are counted in the status line.
    let shown: Vec<&str> = compat
        .iter()
        .filter(|f| f.get("covered_by").is_none() && !f["clients"].as_array().unwrap().is_empty())
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for f in &compat {
        let c = f["code"].as_str().unwrap();
        assert_eq!(
            text.contains(&format!("! {c} (")),
            shown.contains(&c),
            "{name}: {c}\n{text}"
        );
    }
    assert_eq!(
        text.contains("client compatibility of the served chain:"),
        !shown.is_empty(),
        "{text}"
    );
    let status = text.lines().find(|l| l.starts_with("status: ")).unwrap();
    let counted = match shown.len() {
        0 => !status.contains("strict clients"),
        1 => status.contains("; 1 note for strict clients, below)"),
        n => status.contains(&format!("; {n} notes for strict clients, below)")),
    };
    assert!(counted, "{name}: {status}");
}

#[test]
fn clean_material_passes_every_client() {
    case("ok", "localhost", None);
}
#[test]
fn ca_without_keycertsign() {
    case("ca-no-keycertsign", "localhost", Some("ca-no-keycertsign"));
}
#[test]
fn ca_without_keyusage() {
    case("ca-no-keyusage", "localhost", Some("ca-no-keyusage"));
}
#[test]
fn ca_without_basic_constraints() {
    case("ca-no-bc", "localhost", Some("ca-no-basic-constraints"));
}
#[test]
fn ca_basic_constraints_not_critical() {
    case(
        "ca-bc-not-critical",
        "localhost",
        Some("ca-basic-constraints-not-critical"),
    );
}
#[test]
fn cn_only_server_cert_by_name() {
    case("cn-only", "localhost", Some("cn-only"));
}
#[test]
fn cn_only_server_cert_by_ip() {
    case("cn-only", "127.0.0.1", Some("ip-not-in-sans"));
}
#[test]
fn ip_dialled_but_only_a_dns_san() {
    case("dns-only", "127.0.0.1", Some("ip-not-in-sans"));
}
#[test]
fn name_dialled_but_only_an_ip_san() {
    case("ip-only", "localhost", Some("name-not-in-sans"));
}
#[test]
fn sha1_signature() {
    case("sha1", "localhost", Some("weak-signature"));
}
#[test]
fn md5_signature() {
    case("md5", "localhost", Some("weak-signature"));
}
#[test]
fn rsa_1024() {
    case("rsa1024", "localhost", Some("rsa-too-small"));
}
#[test]
fn v1_certificate() {
    case("v1", "localhost", Some("v1-certificate"));
}
#[test]
fn missing_aki() {
    case("no-aki", "localhost", Some("missing-aki"));
}
#[test]
fn ca_missing_ski() {
    case("ca-no-ski", "localhost", Some("missing-ski"));
}
/// Docker's own recipe: strict clients refuse the CA without keyUsage (a
/// note, counted in the status line), and the server certificate ending
/// seconds after its CA is no `outlives-ca`.
#[test]
fn docker_recipe_is_one_counted_note() {
    case("docker-recipe", "localhost", Some("ca-no-keyusage"));
}

/// A server certificate from a second CA with the same subject: the probe's
/// unknown-ca (AKI vs SKI) is the whole story, no "missing intermediate".
#[test]
fn same_subject_other_ca_is_not_a_missing_intermediate() {
    require("openssl", "openssl");
    let sb = Sandbox::new();
    let dir = sb.path("other-ca");
    let script = sb.path("mk.sh");
    std::fs::write(&script, include_str!("lint_data/mk.sh")).unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg("other-ca-same-subject")
        .output()
        .unwrap();
    assert_success(&out, "mk.sh other-ca-same-subject");
    let served = serve(&dir, "leaf.pem", "leaf.key", None);
    let d = |f: &str| dir.join(f).to_str().unwrap().to_string();
    sb.ok(&[
        "add",
        "lint",
        "--ca",
        &d("ca.pem"),
        "--cert",
        &d("cl.pem"),
        "--key",
        &d("cl.key"),
        "--host",
        &format!("tcp://localhost:{}", served.port),
        "--no-context",
    ]);
    let out = sb
        .dctx()
        .args(["doctor", "lint", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"unknown-ca"), "{v:#}");
    let compat = v["compatibility"].as_array().unwrap();
    assert!(
        !compat.iter().any(|f| f["code"] == "missing-intermediate"),
        "{compat:#?}"
    );
}

#[test]
fn chain_missing_its_intermediate() {
    case(
        "missing-intermediate",
        "localhost",
        Some("missing-intermediate"),
    );
}
#[test]
fn leaf_outliving_its_ca_breaks_nobody_yet() {
    // In the JSON, refused by nobody: kept out of the text (case checks it).
    case("outlives-ca", "localhost", Some("outlives-ca"));
}

/// Everything `dctx pki` issues passes every client, and `pki` prints no lint.
#[test]
fn dctx_pki_material_passes_every_client() {
    let sb = Sandbox::new();
    let pki = sb.path("pki");
    let p = pki.to_str().unwrap();
    let out = sb.ok(&["pki", "--dir", p, "init", "--cn", "lint CA"]);
    assert!(!out.contains("compatibility"), "{out}");
    let srv = sb.path("srv");
    let out = sb.ok(&[
        "pki",
        "--dir",
        p,
        "server",
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--out",
        srv.to_str().unwrap(),
    ]);
    assert!(out.contains("Issued server certificate"), "{out}");
    assert!(!out.contains("compatibility"), "{out}");
    let cl = sb.path("cl");
    let out = sb.ok(&[
        "pki",
        "--dir",
        p,
        "client",
        "alice",
        "--out",
        cl.to_str().unwrap(),
    ]);
    assert!(!out.contains("compatibility"), "{out}");
    std::fs::copy(srv.join("server-cert.pem"), srv.join("leaf.pem")).unwrap();
    let served = serve(&srv, "server-cert.pem", "server-key.pem", None);
    for host in ["localhost", "127.0.0.1"] {
        let name = format!("pki-{}", host.replace('.', "-"));
        sb.ok(&[
            "add",
            &name,
            "--bundle",
            cl.to_str().unwrap(),
            "--host",
            &format!("tcp://{host}:{}", served.port),
            "--no-context",
        ]);
        let real = real_clients(&sb, &srv, host, served.port, &name);
        assert!(
            real.refused.is_empty(),
            "{host}: {:?}\n{}",
            real.refused,
            real.detail
        );
        assert!(!real.strict_verify_refused, "{}", real.detail);
    }
}
