//! `dctx pki`: issued material checked with openssl, a real dockerd started
//! from the rendered daemon.json, and a real nginx fronting a docker socket
//! with the rendered server block, both reached by the real docker CLI.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::snap::{Filters, dctx_snapshot, output_snapshot, text_snapshot};
use crate::support::{self, Sandbox, assert_success, free_port};

fn pki(sbx: &Sandbox, args: &[&str]) -> String {
    let mut a = vec!["pki"];
    a.extend_from_slice(args);
    sbx.ok(&a)
}

/// `dctx pki ARGS` as a command, for snapshots of its whole output.
fn pki_cmd(sbx: &Sandbox, args: &[&str]) -> Command {
    let mut c = sbx.dctx_cmd(&["pki"]);
    c.args(args);
    c
}

/// dctx with `input` on stdin.
fn pki_stdin(sbx: &Sandbox, args: &[&str], input: &str) -> Output {
    let mut child = sbx
        .dctx()
        .arg("pki")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// dctx in a new session (no controlling terminal, so no prompt can block); expects failure.
fn without_tty(sbx: &Sandbox, args: &[&str]) -> String {
    use std::os::unix::process::CommandExt;
    let mut c = sbx.dctx();
    c.arg("pki").args(args).stdin(Stdio::null());
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = c.output().unwrap();
    assert!(
        !out.status.success(),
        "dctx pki {args:?} succeeded without a terminal"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap();
    assert_success(&out, what);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl(args: &[&str]) -> String {
    let mut c = Command::new("openssl");
    c.args(args);
    run(c, &format!("openssl {}", args.join(" ")))
}

/// `openssl x509 -noout -text` of a certificate file.
fn x509_text(cert: &Path) -> String {
    openssl(&["x509", "-in", p(cert), "-noout", "-text"])
}

/// `openssl verify -purpose PURPOSE -CAfile CA CERT`'s output (asserting exit 0).
fn openssl_verify(purpose: &str, ca: &Path, cert: &Path) -> String {
    openssl(&["verify", "-purpose", purpose, "-CAfile", p(ca), p(cert)])
}

fn openssl_ok(args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap()
        .status
        .success()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn pki_dir(sbx: &Sandbox) -> PathBuf {
    sbx.store().join("pki")
}

/// Extract a tar with the tar crate, returning (name, mode) of each entry.
fn untar(tar_path: &Path, into: &Path) -> Vec<(String, u32)> {
    std::fs::create_dir_all(into).unwrap();
    let mut ar = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        seen.push((name, e.header().mode().unwrap()));
        e.set_preserve_permissions(true);
        e.unpack_in(into).unwrap();
    }
    seen
}

/// `docker version` through DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH.
fn docker_server_version(sbx: &Sandbox, host: &str, cert_path: &Path) -> String {
    let mut c = sbx.docker();
    c.env("DOCKER_HOST", host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", cert_path)
        .args(["version", "--format", "{{.Server.Version}}"]);
    run(c, "docker version").trim().to_string()
}

/// `dctx check --json NAME` says ok and reports the daemon's version.
fn assert_check_ok(sbx: &Sandbox, name: &str) {
    let v: serde_json::Value = serde_json::from_str(&sbx.ok(&["check", "--json", name])).unwrap();
    assert_eq!(v[0]["status"], "ok", "{v:#}");
    assert!(
        v[0]["docker"]["version"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{v:#}"
    );
}

/// Import the issued bundle with `dctx add` and probe with `dctx check`.
fn add_and_check(sbx: &Sandbox, bundle: &Path, p12: Option<(&Path, &str)>, host: &str) {
    sbx.ok(&["add", "pki-tar", "--bundle", p(bundle), "-H", host]);
    assert!(!sbx.context_server_version("pki-tar").is_empty());
    assert_check_ok(sbx, "pki-tar");
    if let Some((p12, password)) = p12 {
        let mut child = sbx
            .dctx()
            .args([
                "add",
                "pki-p12",
                "--bundle",
                p(p12),
                "-H",
                host,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert_success(&child.wait_with_output().unwrap(), "dctx add --bundle p12");
        assert!(!sbx.context_server_version("pki-p12").is_empty());
        assert_check_ok(sbx, "pki-p12");
    }
}

#[test]
fn pki_daemon_json_drives_a_real_dockerd() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    // Inside HOME: the path has a space, which the rendered config must survive.
    let srv = sbx.home.join("server certs");
    pki(
        &sbx,
        &[
            "server",
            "--host",
            "127.0.0.1",
            "--host",
            "localhost",
            "--out",
            p(&srv),
        ],
    );
    pki(&sbx, &["client", "alice", "--out", "alice.tar"]);
    let p12 = sbx.path("alice.p12");
    let out = pki_stdin(
        &sbx,
        &["client", "alice-p12", "--p12", p(&p12), "--password-stdin"],
        "pw\n",
    );
    assert_success(&out, "pki client --p12");

    let dir = support::procs::scratch_dir("pki-dockerd");
    let port = free_port();
    let socket = dir.join("docker.sock");
    let conf = dir.join("daemon.json");
    // An existing daemon.json: dctx merges into it and dockerd accepts the result.
    std::fs::write(
        &conf,
        "{\"log-level\": \"warn\", \"max-concurrent-downloads\": 3}\n",
    )
    .unwrap();
    pki(
        &sbx,
        &[
            "daemon-config",
            "--listen",
            &format!("tcp://127.0.0.1:{port}"),
            "--cert-dir",
            p(&srv),
            "--socket",
            p(&socket),
            "--format",
            "daemon.json",
            "-o",
            p(&conf),
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conf).unwrap()).unwrap();
    assert_eq!(json["tlsverify"], true);
    assert_eq!(json["tlscacert"], p(&srv.join("ca.pem")));
    assert_eq!(json["tlskey"], p(&srv.join("server-key.pem")));
    assert_eq!(json["log-level"], "warn");
    assert_eq!(json["max-concurrent-downloads"], 3);

    let mut child = support::dockerd::spawn_dockerd(&dir, &[format!("--config-file={}", p(&conf))]);
    support::procs::wait_tcp(
        &format!("127.0.0.1:{port}"),
        &mut child,
        "dockerd (pki daemon.json)",
        &dir.join("dockerd.log"),
    );
    let want = support::dockerd::socket_version(&socket);

    let certs = sbx.path("alice");
    let entries = untar(&sbx.path("alice.tar"), &certs);
    assert_eq!(
        entries,
        vec![
            ("ca.pem".to_string(), 0o644),
            ("cert.pem".to_string(), 0o644),
            ("key.pem".to_string(), 0o600)
        ]
    );
    let host = format!("tcp://127.0.0.1:{port}");
    assert_eq!(docker_server_version(&sbx, &host, &certs), want);
    // localhost is a SAN too.
    assert_eq!(
        docker_server_version(&sbx, &format!("tcp://localhost:{port}"), &certs),
        want
    );

    // A client cert from another CA is refused by the daemon.
    // A client cert from another CA (the classic mistake) is refused.
    let other: support::Issued =
        support::TestCa::new("someone else").issue(&support::Leaf::client("mallory"));
    let bad = sbx.path("mallory");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(certs.join("ca.pem"), bad.join("ca.pem")).unwrap();
    std::fs::write(bad.join("cert.pem"), &other.cert_pem).unwrap();
    std::fs::write(bad.join("key.pem"), &other.key_pem).unwrap();
    let out = sbx
        .docker()
        .env("DOCKER_HOST", &host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &bad)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "foreign client cert was accepted");
    // The server cert is not a client cert (EKU serverAuth only).
    let as_client = sbx.path("server-as-client");
    std::fs::create_dir_all(&as_client).unwrap();
    std::fs::copy(srv.join("ca.pem"), as_client.join("ca.pem")).unwrap();
    std::fs::copy(srv.join("server-cert.pem"), as_client.join("cert.pem")).unwrap();
    std::fs::copy(srv.join("server-key.pem"), as_client.join("key.pem")).unwrap();
    let out = sbx
        .docker()
        .env("DOCKER_HOST", &host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &as_client)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "server cert accepted as a client cert"
    );

    add_and_check(&sbx, &sbx.path("alice.tar"), Some((&p12, "pw")), &host);
    crate::support::dockerd::stop_dockerd(&mut child, &dir);
}

#[test]
fn pki_nginx_block_fronts_the_socket_with_client_certs() {
    let d = support::dockerd();
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let srv = sbx.home.join("srv dir");
    pki(&sbx, &["server", "--host", "127.0.0.1", "--out", p(&srv)]);
    let certs = sbx.path("bob");
    pki(&sbx, &["client", "bob", "--out", p(&certs)]);
    let port = free_port();
    // Client certs required (ssl_verify_client on), the daemon's socket as
    // the upstream, and a note on who may reach that socket.
    let out = dctx_snapshot!(
        Filters::sandbox(&sbx),
        pki_cmd(
            &sbx,
            &[
                "daemon-config",
                "--format",
                "nginx",
                "--listen",
                &format!("tcp://127.0.0.1:{port}"),
                "--cert-dir",
                p(&srv),
                "--socket",
                p(&d.socket),
                "-q",
            ],
        ),
        "nginx-block"
    );
    let block = String::from_utf8(out.stdout).unwrap();
    let body = block.clone();
    support::nginx::start_nginx("pki", move |_| body, &[port]);

    let host = format!("tcp://127.0.0.1:{port}");
    assert_eq!(docker_server_version(&sbx, &host, &certs), d.version);

    let url = format!("https://127.0.0.1:{port}/version");
    let ca = srv.join("ca.pem");
    // No client certificate: nginx answers 400.
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        p(&ca),
        &url,
    ]);
    assert_eq!(run(c, "curl without client cert"), "400");
    // With one: the daemon answers through the socket.
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        p(&ca),
        "--cert",
        p(&certs.join("cert.pem")),
        "--key",
        p(&certs.join("key.pem")),
        &url,
    ]);
    assert_eq!(run(c, "curl with client cert"), "200");
    // openssl s_client without a cert gets the same 400.
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            p(&ca),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /version HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("No required SSL certificate"), "{text}");
    add_and_check(&sbx, &certs, None, &host);
}

#[test]
fn pki_certificates_pass_openssl_checks() {
    let sbx = Sandbox::new();
    let init = pki(&sbx, &["init"]);
    assert!(!init.contains("PRIVATE KEY"), "{init}");
    let srv = sbx.path("srv");
    pki(
        &sbx,
        &[
            "server",
            "--host",
            "docker.example.com",
            "--host",
            "192.168.0.10",
            "--out",
            p(&srv),
        ],
    );
    let ca = srv.join("ca.pem");
    let cert = srv.join("server-cert.pem");
    let verify = openssl_verify("sslserver", &ca, &cert);
    assert!(verify.contains(": OK"), "{verify}");
    let san = openssl(&["x509", "-in", p(&cert), "-noout", "-ext", "subjectAltName"]);
    assert!(san.contains("DNS:docker.example.com"), "{san}");
    assert!(san.contains("IP Address:192.168.0.10"), "{san}");
    assert!(
        !san.contains("localhost") && !san.contains("127.0.0.1"),
        "{san}"
    );
    assert!(
        !san.contains("DNS:192.168.0.10"),
        "IP written as DNS: {san}"
    );
    let eku = openssl(&[
        "x509",
        "-in",
        p(&cert),
        "-noout",
        "-ext",
        "extendedKeyUsage,keyUsage,basicConstraints",
    ]);
    assert!(eku.contains("TLS Web Server Authentication"), "{eku}");
    assert!(!eku.contains("Client Authentication"), "{eku}");
    assert!(eku.contains("Digital Signature"), "{eku}");
    // No basicConstraints on a leaf: an explicit CA:FALSE is the DER
    // default, which strict DER parsers refuse.
    assert!(!eku.contains("Basic Constraints"), "{eku}");
    let subject = openssl(&["x509", "-in", p(&cert), "-noout", "-subject"]);
    assert!(subject.contains("CN = docker.example.com"), "{subject}");

    // The CA: CA:TRUE critical, keyCertSign + cRLSign, a subject key identifier.
    let ca_ext = openssl(&[
        "x509",
        "-in",
        p(&ca),
        "-noout",
        "-ext",
        "basicConstraints,keyUsage,subjectKeyIdentifier",
    ]);
    assert!(
        ca_ext.contains("X509v3 Basic Constraints: critical"),
        "{ca_ext}"
    );
    assert!(ca_ext.contains("CA:TRUE"), "{ca_ext}");
    assert!(ca_ext.contains("Certificate Sign, CRL Sign"), "{ca_ext}");
    assert!(ca_ext.contains("X509v3 Subject Key Identifier"), "{ca_ext}");
    assert_eq!(
        std::fs::read(&ca).unwrap(),
        std::fs::read(pki_dir(&sbx).join("ca.pem")).unwrap()
    );

    // Client: clientAuth, CN from the name, verifies as sslclient only.
    pki(&sbx, &["client", "alice", "--out", "alice"]);
    let ccert = sbx.path("alice/cert.pem");
    let v = openssl_verify("sslclient", &ca, &ccert);
    assert!(v.contains(": OK"), "{v}");
    assert!(!openssl_ok(&[
        "verify",
        "-purpose",
        "sslserver",
        "-CAfile",
        p(&ca),
        p(&ccert)
    ]));
    let cext = openssl(&[
        "x509",
        "-in",
        p(&ccert),
        "-noout",
        "-subject",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(cext.contains("CN = alice"), "{cext}");
    assert!(cext.contains("TLS Web Client Authentication"), "{cext}");
    // The key matches the cert.
    let k = openssl(&["pkey", "-in", p(&sbx.path("alice/key.pem")), "-pubout"]);
    let c = openssl(&["x509", "-in", p(&ccert), "-noout", "-pubkey"]);
    assert_eq!(k, c);
    let kt = x509_text(&ccert);
    assert!(kt.contains("prime256v1") || kt.contains("P-256"), "{kt}");

    // Modes: keys 0600, key dirs 0700, certs 0644.
    let dir = pki_dir(&sbx);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("ca-key.pem")), 0o600);
    assert_eq!(mode(&dir.join("ca.pem")), 0o644);
    assert_eq!(mode(&dir.join("issued")), 0o700);
    assert_eq!(mode(&dir.join("issued/server/cert.pem")), 0o644);
    assert_eq!(mode(&srv), 0o700);
    assert_eq!(mode(&srv.join("server-key.pem")), 0o600);
    assert_eq!(mode(&srv.join("server-cert.pem")), 0o644);
    assert_eq!(mode(&sbx.path("alice/key.pem")), 0o600);
    // Issued keys are not kept in the PKI dir.
    assert!(!dir.join("issued/server/key.pem").exists());
    // Re-issuing the same name needs --force (renew is the normal way).
    dctx_snapshot!(
        Filters::sandbox(&sbx),
        pki_cmd(&sbx, &["client", "alice", "--out", "alice2"]),
        "client-again"
    );
}

#[test]
fn pki_rsa_key_types() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init", "--key-type", "rsa-2048"]);
    let srv = sbx.path("srv");
    pki(
        &sbx,
        &[
            "server",
            "--host",
            "h.example",
            "--key-type",
            "rsa-4096",
            "--out",
            p(&srv),
        ],
    );
    let ca_text = x509_text(&srv.join("ca.pem"));
    assert!(ca_text.contains("Public-Key: (2048 bit)"), "{ca_text}");
    let t = x509_text(&srv.join("server-cert.pem"));
    assert!(t.contains("Public-Key: (4096 bit)"), "{t}");
    assert!(t.contains("sha256WithRSAEncryption"), "{t}");
    assert!(t.contains("Digital Signature, Key Encipherment"), "{t}");
    assert!(
        openssl_verify(
            "sslserver",
            &srv.join("ca.pem"),
            &srv.join("server-cert.pem")
        )
        .contains("OK")
    );
    pki(
        &sbx,
        &[
            "client",
            "carol",
            "--key-type",
            "rsa-2048",
            "--out",
            "carol",
        ],
    );
    let t = x509_text(&sbx.path("carol/cert.pem"));
    assert!(t.contains("Public-Key: (2048 bit)"), "{t}");
    let ls = pki(&sbx, &["ls", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ls).unwrap();
    let types: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["rsa-2048", "rsa-2048", "rsa-4096"], "{ls}");
}

#[test]
fn pki_encrypted_ca_key_asks_for_the_passphrase() {
    let sbx = Sandbox::new();
    let out = pki_stdin(
        &sbx,
        &["init", "--encrypt-ca-key", "--password-stdin"],
        "s3cret pass\n",
    );
    assert_success(&out, "pki init --encrypt-ca-key");
    let key = pki_dir(&sbx).join("ca-key.pem");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{text}"
    );
    assert_eq!(mode(&key), 0o600);
    assert!(openssl_ok(&[
        "pkey",
        "-in",
        p(&key),
        "-noout",
        "-passin",
        "pass:s3cret pass"
    ]));
    assert!(!openssl_ok(&[
        "pkey",
        "-in",
        p(&key),
        "-noout",
        "-passin",
        "pass:nope"
    ]));

    // Wrong passphrase: refused, nothing written.
    let out = pki_stdin(
        &sbx,
        &["client", "alice", "--out", "alice.tar", "--password-stdin"],
        "nope\n",
    );
    let f = Filters::sandbox(&sbx);
    output_snapshot!(f, out, "wrong-passphrase");
    assert!(!sbx.path("alice.tar").exists());
    assert!(!pki_dir(&sbx).join("issued/alice").exists());
    // No terminal and no --password-stdin: a clear error, not a hang.
    let e = without_tty(&sbx, &["client", "alice", "--out", "alice.tar"]);
    text_snapshot!(f, "no-terminal-stderr", e);
    // Right passphrase; then the .p12 password on the next line.
    let out = pki_stdin(
        &sbx,
        &[
            "client",
            "alice",
            "--out",
            "alice.tar",
            "--p12",
            "alice.p12",
            "--password-stdin",
        ],
        "s3cret pass\nexport-pw\n",
    );
    assert_success(&out, "pki client with encrypted CA");
    assert!(openssl_ok(&[
        "pkcs12",
        "-info",
        "-noout",
        "-in",
        p(&sbx.path("alice.p12")),
        "-passin",
        "pass:export-pw"
    ]));
    // A passphrase is never accepted as an argument.
    dctx_snapshot!(
        f,
        pki_cmd(
            &sbx,
            &["client", "bob", "--out", "b.tar", "--password", "x"]
        ),
        "password-argument"
    );
}

#[test]
fn pki_init_twice_needs_force() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let before = support::snapshot(&pki_dir(&sbx));
    dctx_snapshot!(
        Filters::sandbox(&sbx),
        pki_cmd(&sbx, &["init"]),
        "init-again"
    );
    assert_eq!(support::snapshot(&pki_dir(&sbx)), before, "CA changed");
    let old = std::fs::read(pki_dir(&sbx).join("ca.pem")).unwrap();
    pki(&sbx, &["init", "--force"]);
    assert_ne!(std::fs::read(pki_dir(&sbx).join("ca.pem")).unwrap(), old);
    // The old CA is kept aside, not destroyed.
    let baks: Vec<_> = std::fs::read_dir(pki_dir(&sbx))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".bak-"))
        .collect();
    assert_eq!(baks.len(), 2, "{baks:?}");

    // --dir puts the PKI elsewhere.
    let other = sbx.path("elsewhere");
    pki(&sbx, &["--dir", p(&other), "init"]);
    assert!(other.join("ca.pem").is_file());
    assert_eq!(mode(&other), 0o700);
}

#[test]
fn pki_refuses_bad_hosts_with_a_hint() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let srv = sbx.path("srv");
    // Each refused with exit 1 and the hint: a listen address (0.0.0.0,
    // ::), or the bare name/IP to give (`--host 1.2.3.4`).
    let mut seen = String::new();
    for host in [
        "0.0.0.0",
        "::",
        "IP=1.2.3.4",
        "IP:1.2.3.4",
        "DNS:docker.example.com",
        "tcp://docker.example.com:2376",
        "docker.example.com:2376",
    ] {
        let out = pki_cmd(
            &sbx,
            &[
                "server",
                "--host",
                "ok.example",
                "--host",
                host,
                "--out",
                p(&srv),
            ],
        )
        .output()
        .unwrap();
        seen += &format!("--host {host}\n{}\n", support::snap::render(&out));
    }
    text_snapshot!(Filters::sandbox(&sbx), "bad-hosts", seen);
    assert!(!srv.exists());
    assert!(!pki_dir(&sbx).join("issued").exists());
}

#[test]
fn pki_p12_opens_with_the_password() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let out = pki_stdin(
        &sbx,
        &["client", "alice", "--p12", "alice.p12", "--password-stdin"],
        "correct horse\n",
    );
    assert_success(&out, "pki client --p12");
    let p12 = sbx.path("alice.p12");
    assert_eq!(mode(&p12), 0o600);
    assert!(openssl_ok(&[
        "pkcs12",
        "-info",
        "-noout",
        "-in",
        p(&p12),
        "-passin",
        "pass:correct horse"
    ]));
    assert!(!openssl_ok(&[
        "pkcs12",
        "-info",
        "-noout",
        "-in",
        p(&p12),
        "-passin",
        "pass:wrong"
    ]));
    let certs = openssl(&[
        "pkcs12",
        "-in",
        p(&p12),
        "-passin",
        "pass:correct horse",
        "-nokeys",
    ]);
    assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 2, "{certs}");
    assert!(
        certs.contains("CN = alice") || certs.contains("CN=alice"),
        "{certs}"
    );
    // Missing password on stdin: refused.
    let out = pki_stdin(
        &sbx,
        &["client", "bob", "--p12", "bob.p12", "--password-stdin"],
        "",
    );
    assert!(!out.status.success());
    assert!(!sbx.path("bob.p12").exists());
}

#[test]
fn pki_ls_and_renew_keep_names_and_change_serial() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let srv = sbx.path("srv");
    pki(
        &sbx,
        &[
            "server",
            "--host",
            "docker.example.com",
            "--host",
            "10.0.0.5",
            "--key-type",
            "ecdsa-p384",
            "--days",
            "90",
            "--out",
            p(&srv),
        ],
    );
    pki(&sbx, &["client", "alice", "--out", "alice.tar"]);
    let mut f = Filters::sandbox(&sbx);
    f.about_days(90);
    dctx_snapshot!(f, pki_cmd(&sbx, &["ls"]), "ls");
    let rows: serde_json::Value = serde_json::from_str(&pki(&sbx, &["ls", "--json"])).unwrap();
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    let server = row("server");
    assert_eq!(server["kind"], "server");
    assert!(
        (89..=90).contains(&server["days_left"].as_i64().unwrap()),
        "{server}"
    );
    assert!((824..=825).contains(&row("alice")["days_left"].as_i64().unwrap()));
    assert!((3649..=3650).contains(&row("ca")["days_left"].as_i64().unwrap()));
    let serial = openssl(&[
        "x509",
        "-in",
        p(&srv.join("server-cert.pem")),
        "-noout",
        "-serial",
    ]);
    assert_eq!(
        serial.trim(),
        format!("serial={}", server["serial"].as_str().unwrap())
    );

    // Renew: same SANs and key type, new serial, new key.
    let san_before = openssl(&[
        "x509",
        "-in",
        p(&srv.join("server-cert.pem")),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    let key_before = std::fs::read(srv.join("server-key.pem")).unwrap();
    dctx_snapshot!(f, pki_cmd(&sbx, &["renew", "server"]), "renew-needs-out");
    pki(&sbx, &["renew", "server", "--out", p(&srv)]);
    let san_after = openssl(&[
        "x509",
        "-in",
        p(&srv.join("server-cert.pem")),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    assert_eq!(san_before, san_after);
    let serial_after = openssl(&[
        "x509",
        "-in",
        p(&srv.join("server-cert.pem")),
        "-noout",
        "-serial",
    ]);
    assert_ne!(serial, serial_after);
    assert_ne!(
        key_before,
        std::fs::read(srv.join("server-key.pem")).unwrap()
    );
    let t = x509_text(&srv.join("server-cert.pem"));
    assert!(t.contains("384 bit"), "{t}");
    assert!(
        openssl_verify(
            "sslserver",
            &srv.join("ca.pem"),
            &srv.join("server-cert.pem")
        )
        .contains("OK")
    );
    let rows2: serde_json::Value = serde_json::from_str(&pki(&sbx, &["ls", "--json"])).unwrap();
    let s2 = rows2
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "server")
        .unwrap();
    assert_eq!(
        serial_after.trim(),
        format!("serial={}", s2["serial"].as_str().unwrap())
    );
    assert_eq!(s2["names"], server["names"]);
    assert!(
        (89..=90).contains(&s2["days_left"].as_i64().unwrap()),
        "{s2}"
    );

    // Client renew keeps the CN.
    pki(&sbx, &["renew", "alice", "--out", "alice-new.tar"]);
    let dir = sbx.path("alice-new");
    untar(&sbx.path("alice-new.tar"), &dir);
    let subj = openssl(&[
        "x509",
        "-in",
        p(&dir.join("cert.pem")),
        "-noout",
        "-subject",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(
        subj.contains("CN = alice") && subj.contains("Client Authentication"),
        "{subj}"
    );
    // Renewing the CA keeps its key and subject: what it issued still verifies.
    let ca = pki_dir(&sbx).join("ca.pem");
    let ca_serial = openssl(&["x509", "-in", p(&ca), "-noout", "-serial"]);
    pki(&sbx, &["renew", "ca", "--days", "100"]);
    assert_ne!(
        ca_serial,
        openssl(&["x509", "-in", p(&ca), "-noout", "-serial"])
    );
    assert!(openssl_verify("sslserver", &ca, &srv.join("server-cert.pem")).contains("OK"));
    let rows3: serde_json::Value = serde_json::from_str(&pki(&sbx, &["ls", "--json"])).unwrap();
    assert!(
        (99..=100).contains(&rows3[0]["days_left"].as_i64().unwrap()),
        "{rows3}"
    );
    dctx_snapshot!(
        f,
        pki_cmd(&sbx, &["renew", "nobody", "--out", "x"]),
        "renew-unknown"
    );
}

#[test]
fn pki_daemon_config_formats() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let f = Filters::sandbox(&sbx);
    dctx_snapshot!(
        f,
        pki_cmd(&sbx, &["daemon-config", "--listen", "tcp://0.0.0.0:2376"]),
        "daemon-config-before-server"
    );
    pki(
        &sbx,
        &["server", "--host", "docker.example.com", "--out", "srv"],
    );
    // The JSON on stdout, how to install it on stderr (file modes: the
    // key 0600; the systemd ExecStart= caveat).
    let out = dctx_snapshot!(
        f,
        pki_cmd(&sbx, &["daemon-config", "--listen", "tcp://0.0.0.0:2376"]),
        "daemon-config-json"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tls"], true);
    assert_eq!(json["tlscert"], "/etc/docker/certs/server-cert.pem");
    assert_eq!(
        json["hosts"],
        serde_json::json!(["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"])
    );

    // A drop-in that clears the packaged ExecStart and listens on tcp too.
    dctx_snapshot!(
        f,
        pki_cmd(
            &sbx,
            &[
                "daemon-config",
                "--listen",
                "tcp://0.0.0.0:2376",
                "--format",
                "systemd",
                "-q",
            ],
        ),
        "daemon-config-systemd"
    );
    let flags = pki(
        &sbx,
        &[
            "daemon-config",
            "--listen",
            "tcp://0.0.0.0:2376",
            "--format",
            "flags",
            "-q",
        ],
    );
    assert!(
        flags.starts_with("dockerd --tlsverify --tlscacert=/etc/docker/certs/ca.pem"),
        "{flags}"
    );

    // A listen address the certificate does not name is flagged.
    dctx_snapshot!(
        f,
        pki_cmd(
            &sbx,
            &["daemon-config", "--listen", "tcp://10.9.9.9:2376", "-q"]
        ),
        "daemon-config-unnamed-listen"
    );
    dctx_snapshot!(
        f,
        pki_cmd(&sbx, &["daemon-config", "--listen", "https://x:2376"]),
        "daemon-config-bad-listen"
    );
}

/// Every `*.bak-*` file next to `name` in the PKI dir: (file name, bytes).
fn backups(sbx: &Sandbox, name: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(pki_dir(sbx))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}.bak-"))
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Issue 10 #1: `init --force` twice in one second used the same
/// `.bak-<seconds>` name and the second rename destroyed the first CA key.
#[test]
fn pki_init_force_never_overwrites_a_backup() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let dir = pki_dir(&sbx);
    let key1 = std::fs::read(dir.join("ca-key.pem")).unwrap();
    // Decoys on every name the next minute could use: "the same second" is
    // certain, not a race the test may lose.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for t in now - 1..now + 60 {
        std::fs::write(
            dir.join(format!("ca-key.pem.bak-{t}")),
            format!("decoy {t}"),
        )
        .unwrap();
    }
    pki(&sbx, &["init", "--force"]);
    let key2 = std::fs::read(dir.join("ca-key.pem")).unwrap();
    pki(&sbx, &["init", "--force"]);
    let key3 = std::fs::read(dir.join("ca-key.pem")).unwrap();
    assert!(key1 != key2 && key2 != key3);
    let baks = backups(&sbx, "ca-key.pem");
    for t in now - 1..now + 60 {
        let name = format!("ca-key.pem.bak-{t}");
        let kept = baks
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned());
        assert_eq!(kept, Some(format!("decoy {t}")), "{name} was overwritten");
    }
    for (i, key) in [&key1, &key2].into_iter().enumerate() {
        let (name, _) = baks
            .iter()
            .find(|(_, d)| d == key)
            .unwrap_or_else(|| panic!("CA key #{} was lost", i + 1));
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    assert_eq!(
        baks.len(),
        61 + 2,
        "{:?}",
        baks.iter().map(|b| &b.0).collect::<Vec<_>>()
    );
    // `renew ca` backs up ca.pem the same way.
    let cas_before = backups(&sbx, "ca.pem").len();
    pki(&sbx, &["renew", "ca"]);
    pki(&sbx, &["renew", "ca"]);
    assert_eq!(backups(&sbx, "ca.pem").len(), cas_before + 2);
}

/// Issue 10 #2: `daemon-config -o` onto an existing daemon.json / drop-in
/// replaced the user's settings with dctx's keys only.
#[test]
fn pki_daemon_config_merges_into_existing_files() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    pki(&sbx, &["server", "--host", "127.0.0.1", "--out", "srv"]);
    let conf = sbx.path("daemon.json");
    let original = "{\n  \"data-root\": \"/srv/docker\",\n  \"default-shm-size\": 12345678901234567890123,\n  \
                    \"registry-mirrors\": [\"https://mirror.test\"],\n  \"tlscert\": \"/old/cert.pem\",\n  \
                    \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}\n}\n";
    std::fs::write(&conf, original).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = [
        "daemon-config",
        "--listen",
        "tcp://127.0.0.1:2376",
        "-o",
        p(&conf),
    ];
    // Success, and stderr says the previous file was kept.
    let f = Filters::sandbox(&sbx);
    dctx_snapshot!(f, pki_cmd(&sbx, &args), "merge-daemon-json");
    let merged = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(mode(&conf), 0o600, "the merged file's mode changed");
    let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "data-root",
            "default-shm-size",
            "registry-mirrors",
            "tlscert",
            "log-opts",
            "tls",
            "tlsverify",
            "tlscacert",
            "tlskey",
            "hosts"
        ],
        "{merged}"
    );
    // Numbers are not re-encoded (default-shm-size), key order is kept.
    text_snapshot!(f, "merged-daemon-json", merged);
    assert_eq!(v["tlscert"], "/etc/docker/certs/server-cert.pem");
    assert_eq!(v["log-opts"]["max-file"], "3");
    let baks: Vec<_> = std::fs::read_dir(sbx.path(""))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("daemon.json.bak-")
        })
        .collect();
    assert_eq!(baks.len(), 1);
    assert_eq!(std::fs::read_to_string(baks[0].path()).unwrap(), original);

    // Invalid JSON: refused, the file and its directory untouched.
    let broken = "{\"data-root\": \"/srv/docker\",, }";
    std::fs::write(&conf, broken).unwrap();
    let before = support::snapshot(&sbx.path(""));
    dctx_snapshot!(f, pki_cmd(&sbx, &args), "merge-invalid-json");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), broken);
    assert_eq!(before, support::snapshot(&sbx.path("")));

    // systemd drop-in: other lines kept, ExecStart lines replaced.
    let unit = sbx.path("override.conf");
    let old_unit = "[Service]\nEnvironment=\"HTTP_PROXY=http://proxy.test:3128\"\nExecStart=\n\
                    ExecStart=/usr/bin/dockerd -H fd:// --old-flag\nLimitNOFILE=1048576\n";
    std::fs::write(&unit, old_unit).unwrap();
    pki(
        &sbx,
        &[
            "daemon-config",
            "--listen",
            "tcp://127.0.0.1:2376",
            "--format",
            "systemd",
            "-q",
            "-o",
            p(&unit),
        ],
    );
    let merged = std::fs::read_to_string(&unit).unwrap();
    assert!(
        merged.starts_with(
            "[Service]\nEnvironment=\"HTTP_PROXY=http://proxy.test:3128\"\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// --tlsverify"
        ),
        "{merged}"
    );
    assert!(merged.ends_with("\nLimitNOFILE=1048576\n"), "{merged}");
    // The old ExecStart (--old-flag) is gone.
    text_snapshot!(f, "merged-unit", merged);
    assert!(
        std::fs::read_dir(sbx.path("")).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("override.conf.bak-")),
        "no backup of the drop-in"
    );
}
