//! Short-lived client certificates from a real OpenBao: `csr` + an admin's
//! `openssl x509 -req`, `enroll`, `renew` (token and cert login, kill -9 at
//! any point, `--watch`), and the errors users meet (no token, 403, a role
//! refusing the CN, sealed, unreachable). The docker CLI is the referee.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::openbao::{CLIENT_ROLE, OpenBao, openbao, vault_dockerd};
use crate::support::snap::{Filters, dctx_snapshot, output_snapshot};
use crate::support::{Sandbox, assert_success, free_port};

/// A sandbox whose environment points at the shared OpenBao (address and
/// the server's CA, as `bao` users set them), without any token.
fn sandbox() -> Sandbox {
    let b = openbao();
    let mut sb = Sandbox::new();
    sb.env.push(("BAO_ADDR".into(), b.addr.clone()));
    sb.env
        .push(("BAO_CACERT".into(), b.server_ca.display().to_string()));
    sb
}

fn with_token(sb: &Sandbox, token: &str, args: &[&str]) -> std::process::Output {
    sb.dctx()
        .args(args)
        .env("BAO_TOKEN", token)
        .output()
        .unwrap()
}

fn enroll(sb: &Sandbox, token: &str, name: &str, extra: &[&str]) -> String {
    let host = &vault_dockerd().host;
    let cn = format!("{name}.example.test");
    let mut args = vec![
        "enroll",
        name,
        "--host",
        host,
        "--role",
        CLIENT_ROLE,
        "--cn",
        &cn,
    ];
    args.extend_from_slice(extra);
    let out = with_token(sb, token, &args);
    assert_success(&out, &format!("dctx {}", args.join(" ")));
    String::from_utf8(out.stdout).unwrap()
}

/// The TLS files of a context-backed profile (cert.pem, key.pem).
fn tls_files(sb: &Sandbox, name: &str) -> (String, String) {
    let out = sb.dctx().args(["show", name, "--json"]).output().unwrap();
    assert_success(&out, "dctx show");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = Path::new(v["cert_path"].as_str().expect("cert_path")).to_path_buf();
    (
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
    )
}

/// The public key of a certificate and of a private key, by openssl.
fn pubkey(pem: &str, is_cert: bool) -> String {
    let mut c = Command::new("openssl");
    if is_cert {
        c.args(["x509", "-noout", "-pubkey"]);
    } else {
        c.args(["pkey", "-pubout"]);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), pem.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl could not read {pem:.40}");
    String::from_utf8(out.stdout).unwrap()
}

fn profile_json(sb: &Sandbox, name: &str) -> serde_json::Value {
    let p = sb.store().join("profiles").join(name).join("profile.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Every file under HOME that contains `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
            {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn enroll_makes_a_working_context_and_records_its_source_not_the_token() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    let out = enroll(&sb, &token, "prod", &[]);
    assert!(out.contains("Enrolled prod"), "{out}");
    // docker itself uses it: the daemon trusts OpenBao's CA only.
    assert!(!sb.context_server_version("prod").is_empty());
    let p = profile_json(&sb, "prod");
    let o = &p["origin"];
    assert_eq!(o["kind"], "vault", "{p:#}");
    assert_eq!(o["address"], b.addr.as_str());
    assert_eq!(o["mount"], "pki");
    assert_eq!(o["role"], CLIENT_ROLE);
    assert_eq!(o["cn"], "prod.example.test");
    assert_eq!(
        o["server_ca"].as_str().unwrap().trim(),
        std::fs::read_to_string(&b.server_ca).unwrap().trim(),
        "the server CA it trusted is recorded, so a renewal needs no environment"
    );
    // The token is nowhere in dctx's or docker's files.
    assert_eq!(
        files_containing(&sb.home, &token),
        Vec::<std::path::PathBuf>::new()
    );
    // The key in the context belongs to the certificate OpenBao signed.
    let (cert, key) = tls_files(&sb, "prod");
    assert_eq!(pubkey(&cert, true), pubkey(&key, false));
    // The engine's warnings reach the user: a TTL above the role's max is capped.
    let out = with_token(
        &sb,
        &token,
        &[
            "enroll",
            "long",
            "--host",
            &vault_dockerd().host,
            "--role",
            CLIENT_ROLE,
            "--cn",
            "long.example.test",
            "--ttl",
            "48h",
        ],
    );
    assert_success(&out, "dctx enroll --ttl 48h");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the server says:") && err.contains("max"),
        "{err}"
    );
    let ls = sb.ok(&["ls", "--wide"]);
    let row = ls.lines().find(|l| l.starts_with("prod")).unwrap();
    assert!(row.split_whitespace().any(|w| w == "vault"), "{ls}");
    let json: serde_json::Value = serde_json::from_str(&sb.ok(&["ls", "--json"])).unwrap();
    let row = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "prod")
        .unwrap();
    assert_eq!(row["issuer"], "vault");
}

#[test]
fn csr_signed_by_an_admin_with_openssl_becomes_a_working_context() {
    let d = vault_dockerd();
    let sb = sandbox();
    let req = sb.path("req.csr");
    let out = sb
        .dctx()
        .args([
            "csr",
            "alice",
            "--cn",
            "alice.example.test",
            "--key-store",
            "file",
            "-o",
        ])
        .arg(&req)
        .output()
        .unwrap();
    assert_success(&out, "dctx csr");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{printed}"
    );
    assert_eq!(std::fs::read_to_string(&req).unwrap(), printed);
    // openssl agrees it is a CSR for that CN, signed by its own key.
    let v = Command::new("openssl")
        .args(["req", "-noout", "-verify", "-subject", "-in"])
        .arg(&req)
        .output()
        .unwrap();
    assert_success(&v, "openssl req -verify");
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("CN=alice.example.test")
            || String::from_utf8_lossy(&v.stdout).contains("CN = alice.example.test")
    );
    // The pending key: 0600, in dctx's store only; ls shows it pending.
    use std::os::unix::fs::PermissionsExt;
    let key_path = sb.store().join("pending/alice/key.pem");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key_pem = std::fs::read_to_string(&key_path).unwrap();
    let ls = sb.ok(&["ls", "--wide"]);
    let row = ls.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(row.contains("csr pending"), "{ls}");
    // Running it again prints the same CSR: no second key.
    assert_eq!(
        sb.ok(&[
            "csr",
            "alice",
            "--cn",
            "alice.example.test",
            "--key-store",
            "file"
        ]),
        printed
    );

    // The admin signs it with openssl, as the seeds' tutorials do.
    let signed = sb.path("alice.pem");
    let ext = sb.path("ext.cnf");
    std::fs::write(&ext, "extendedKeyUsage = clientAuth\n").unwrap();
    let s = Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-CAcreateserial", "-in"])
        .arg(&req)
        .arg("-CA")
        .arg(&d.admin.cert)
        .arg("-CAkey")
        .arg(&d.admin.key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&signed)
        .current_dir(sb.path(""))
        .output()
        .unwrap();
    assert_success(&s, "openssl x509 -req");

    // A certificate for another key does not complete it, and changes nothing.
    let other = openbao().run(
        &[
            "write",
            "-field=certificate",
            "pki/issue/client",
            "common_name=alice.example.test",
            "key_type=ec",
            "key_bits=256",
        ],
        None,
    );
    std::fs::write(sb.path("other.pem"), other).unwrap();
    let before = sb.snapshot();
    let ca = openbao().pki_ca.display().to_string();
    let (_, err) = sb.fails(&[
        "add",
        "alice",
        "--cert",
        sb.path("other.pem").to_str().unwrap(),
        "--ca",
        &ca,
        "--host",
        &d.host,
    ]);
    assert!(err.contains("does not complete the CSR"), "{err}");
    assert_eq!(sb.snapshot(), before);

    sb.ok(&[
        "add",
        "alice",
        "--cert",
        signed.to_str().unwrap(),
        "--ca",
        &ca,
        "--host",
        &d.host,
    ]);
    assert!(!sb.context_server_version("alice").is_empty());
    // One copy of the key: in the context; the pending entry is gone.
    assert!(!sb.store().join("pending/alice").exists());
    let marker: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()[..40]
        .to_string();
    let copies = files_containing(&sb.home, &marker);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].ends_with("key.pem") && copies[0].starts_with(sb.docker_config()));
    let ls = sb.ok(&["ls"]);
    assert!(!ls.contains("csr pending"), "{ls}");
}

#[test]
fn csr_in_the_keyring_completes_into_a_keyring_profile() {
    let d = vault_dockerd();
    let sb = sandbox().with_keyring();
    // Default: the keyring, since one answers.
    let csr = sb.ok(&["csr", "bob", "--cn", "bob.example.test"]);
    assert!(sb.keyring_lookup("bob#csr").is_some());
    assert!(!sb.store().join("pending/bob/key.pem").exists());
    let out = openbao().run(
        &["write", "-field=certificate", "pki/sign/client", "csr=-"],
        Some(&csr),
    );
    std::fs::write(sb.path("bob.pem"), out).unwrap();
    let ca = openbao().pki_ca.display().to_string();
    sb.ok(&[
        "add",
        "bob",
        "--cert",
        sb.path("bob.pem").to_str().unwrap(),
        "--ca",
        &ca,
        "--host",
        &d.host,
    ]);
    assert_eq!(
        sb.keyring_lookup("bob#csr"),
        None,
        "the pending entry is gone"
    );
    assert!(sb.keyring_lookup("bob").is_some());
    let out = sb
        .dctx()
        .args([
            "exec",
            "bob",
            "--",
            "docker",
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .unwrap();
    assert_success(&out, "dctx exec bob -- docker version");
}

#[test]
fn enroll_errors_name_the_cause_and_the_fix_and_write_nothing() {
    let b = openbao();
    let d = vault_dockerd();
    let sb = sandbox();
    let base = [
        "enroll",
        "x1",
        "--host",
        &d.host,
        "--role",
        CLIENT_ROLE,
        "--cn",
        "x1.example.test",
    ];
    let before = sb.snapshot();

    // No token anywhere: where one is looked for (BAO_TOKEN…).
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&base), "enroll-no-token");

    // A token without the policy: the line it needs.
    let out = with_token(&sb, &b.powerless_token(), &base);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("403"), "{err}");
    assert!(
        err.contains(&format!(
            "path \"pki/sign/{CLIENT_ROLE}\" {{ capabilities = [\"update\"] }}"
        )),
        "{err}"
    );

    // The role refuses the CN: OpenBao's own words.
    let token = b.signer_token();
    let mut args = base.to_vec();
    args[7] = "x1.elsewhere.test";
    let out = with_token(&sb, &token, &args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not allowed by this role"), "{err}");

    // Nothing listens there.
    let mut args = base.to_vec();
    let dead = format!("https://127.0.0.1:{}", free_port());
    args.extend(["--vault", &dead]);
    // Refused: cannot reach that address (named).
    let mut f1 = f.clone();
    f1.literal(&dead, "[DEAD_ADDR]");
    output_snapshot!(f1, with_token(&sb, &token, &args), "enroll-unreachable");

    // A TLS server whose CA we were not told about.
    let out = sb
        .dctx()
        .args(base)
        .env("BAO_TOKEN", &token)
        .env_remove("BAO_CACERT")
        .output()
        .unwrap();
    // Refused: TLS, and --vault-ca named as the way to trust it.
    output_snapshot!(f, out, "enroll-unknown-server-ca");

    // A sealed server (its own, so the shared one stays unsealed).
    let sealed = OpenBao::start("sealed");
    sealed.run(&["operator", "seal"], None);
    let mut args = base.to_vec();
    args.extend(["--vault", &sealed.addr]);
    let out = sb
        .dctx()
        .args(&args)
        .env("BAO_TOKEN", &sealed.token)
        .env("BAO_CACERT", &sealed.server_ca)
        .output()
        .unwrap();
    // Refused: the server is sealed; `bao operator unseal`.
    let mut f2 = f.clone();
    f2.literal(&sealed.addr, "[SEALED_ADDR]");
    output_snapshot!(f2, out, "enroll-sealed");

    assert_eq!(sb.snapshot(), before, "a failed enroll wrote something");
}

#[test]
fn renew_by_token_then_by_cert_login_gives_a_new_key_each_time() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    enroll(&sb, &token, "web", &[]);
    let (cert0, key0) = tls_files(&sb, "web");

    // One hour of life, just issued: not due.
    let out = with_token(&sb, &token, &["renew", "web"]);
    assert_success(&out, "dctx renew web");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not due"));
    assert_eq!(tls_files(&sb, "web"), (cert0.clone(), key0.clone()));

    // Forced, by token.
    let out = with_token(&sb, &token, &["renew", "web", "--force"]);
    assert_success(&out, "dctx renew web --force");
    let (cert1, key1) = tls_files(&sb, "web");
    assert_ne!(cert1, cert0);
    assert_ne!(pubkey(&key1, false), pubkey(&key0, false), "a new key");
    assert_eq!(pubkey(&cert1, true), pubkey(&key1, false));
    assert!(!sb.context_server_version("web").is_empty());

    // No token at all: the current certificate logs in (`cert` auth).
    let out = sb
        .dctx()
        .args(["renew", "--all", "--force"])
        .output()
        .unwrap();
    assert_success(&out, "dctx renew --all --force (cert login)");
    let (cert2, key2) = tls_files(&sb, "web");
    assert_ne!(cert2, cert1);
    assert_ne!(pubkey(&key2, false), pubkey(&key1, false));
    assert_eq!(pubkey(&cert2, true), pubkey(&key2, false));
    assert!(!sb.context_server_version("web").is_empty());
    let p = profile_json(&sb, "web");
    assert!(p["origin"]["renewal"]["last_success"].as_i64().is_some());
    assert_eq!(p["origin"]["renewal"]["failures"], 0);

    // A cert role that does not exist: the failure is kept in the record.
    let out = sb
        .dctx()
        .args(["renew", "web", "--force", "--cert-role", "nosuchrole"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the certificate login"), "{err}");
    let p = profile_json(&sb, "web");
    assert_eq!(p["origin"]["renewal"]["failures"], 1, "{p:#}");
    assert!(
        p["origin"]["renewal"]["last_error"]
            .as_str()
            .unwrap()
            .contains("refused the certificate login")
    );
    assert_eq!(
        tls_files(&sb, "web"),
        (cert2, key2),
        "a failure changes no file"
    );
}

#[test]
fn renew_watch_renews_a_short_lived_profile_twice_in_a_row() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    // 20 s of life (plus 5 s backdating): due every ~17 s.
    enroll(&sb, &token, "short", &["--ttl", "20s"]);
    let (cert0, _) = tls_files(&sb, "short");
    let mut child = sb
        .dctx()
        .args(["renew", "--watch", "short"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = Vec::new();
    let mut certs = vec![cert0];
    while lines.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("--watch printed {lines:?} within 120 s");
            }
        };
        assert!(l.contains("short: renewed with a new key"), "{l}");
        // Each renewal is already committed when its line is printed.
        let (cert, key) = tls_files(&sb, "short");
        assert_eq!(pubkey(&cert, true), pubkey(&key, false));
        assert!(
            !certs.contains(&cert),
            "line {l:?} but the same certificate"
        );
        certs.push(cert);
        lines.push(l);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(!sb.context_server_version("short").is_empty());
}

/// kill -9 anywhere in `renew --force`: the context holds the old pair or
/// the new one, never neither, never a certificate with another key.
#[test]
fn kill_during_renew_leaves_the_old_pair_or_the_new_one() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    enroll(&sb, &token, "kk", &[]);
    let runs: u32 = std::env::var("DCTX_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let t0 = Instant::now();
    let out = with_token(&sb, &token, &["renew", "kk", "--force"]);
    assert_success(&out, "renew");
    let mut span = t0.elapsed().as_micros().max(20_000) as u64 * 6 / 5;
    let mut pair = tls_files(&sb, "kk");
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let (mut old_seen, mut new_seen, mut in_txn) = (0, 0, 0);
    // The span adapts (a busy machine is slower): an old pair after a kill
    // means it came too early, a new one too late; kills gather around the
    // commit point, where they matter.
    for step in 0..runs * 4 {
        if step >= runs && old_seen > 5 && new_seen > 5 {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = sb
            .dctx()
            .args(["renew", "kk", "--force"])
            .env("BAO_TOKEN", &token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(seed % span));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        // A journal left behind: the kill landed inside the transaction.
        if sb.store().join("journal.json").exists() {
            in_txn += 1;
        }
        // Any dctx command finishes or undoes what the kill interrupted.
        sb.ok(&["ls", "--json"]);
        let now = tls_files(&sb, "kk");
        assert_eq!(
            pubkey(&now.0, true),
            pubkey(&now.1, false),
            "step {step}: certificate and key do not match"
        );
        let leftovers = files_containing(&sb.home, "-----BEGIN");
        for f in &leftovers {
            let s = f.display().to_string();
            assert!(
                !s.contains(".dctx-txn") && !s.contains(".tmp-"),
                "step {step}: leftover {s}"
            );
        }
        if now == pair {
            old_seen += 1;
            span = span * 11 / 10;
        } else {
            new_seen += 1;
            span = (span * 9 / 10).max(1000);
        }
        pair = now;
    }
    assert!(!sb.context_server_version("kk").is_empty());
    eprintln!(
        "renew kill loop: {} kills, {old_seen} old, {new_seen} new, {in_txn} inside the transaction",
        old_seen + new_seen
    );
    // Kills landed on both sides of the commit point.
    assert!(
        old_seen > 5 && new_seen > 5,
        "old {old_seen}, new {new_seen}"
    );
}

/// The codes of `dctx check NAME --json`'s findings.
fn finding_codes(sb: &Sandbox, name: &str) -> Vec<String> {
    let out = sb.dctx().args(["check", name, "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    v[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn check_shows_renewal_due_and_failed_and_metrics_export_renewals() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    // 10 s of life (plus 5 s backdating): due 5 s after issuance.
    enroll(&sb, &token, "due", &["--ttl", "10s"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let codes = finding_codes(&sb, "due");
        assert!(!codes.contains(&"renewal-failed".to_string()), "{codes:?}");
        if codes.contains(&"renewal-due".to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "never due: {codes:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // A renewal that fails (a token without the policy) is kept and shown.
    let out = with_token(&sb, &b.powerless_token(), &["renew", "due"]);
    assert!(!out.status.success());
    let codes = finding_codes(&sb, "due");
    assert!(codes.contains(&"renewal-failed".to_string()), "{codes:?}");
    let out = sb.dctx().args(["doctor", "due"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("renewal-failed") && text.contains("403"),
        "{text}"
    );
    // Renewed: the failure is cleared, its count kept.
    let out = with_token(&sb, &token, &["renew", "due"]);
    assert_success(&out, "dctx renew due");
    let p = profile_json(&sb, "due");
    assert_eq!(p["origin"]["renewal"]["failures"], 1);
    assert!(p["origin"]["renewal"]["last_error"].is_null(), "{p:#}");
    let last = p["origin"]["renewal"]["last_success"].as_i64().unwrap();
    let file = sb.path("dctx.prom");
    sb.ok(&["metrics", "--textfile", file.to_str().unwrap(), "due"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!(
            "dctx_renewal_last_success_timestamp_seconds{{context=\"due\"}} {last}"
        )),
        "{text}"
    );
    assert!(
        text.contains("dctx_renewal_failures_total{context=\"due\"} 1"),
        "{text}"
    );
}

/// A keyring profile renews in the keyring (no key on disk, ever), and
/// `exec` reads the current material when it starts.
#[test]
fn keyring_profile_renews_in_the_keyring_and_exec_uses_the_new_pair() {
    let b = openbao();
    let sb = sandbox().with_keyring();
    let token = b.signer_token();
    enroll(&sb, &token, "kr", &["--key-store", "keyring"]);
    let key0 = sb.keyring_lookup("kr").expect("key in the keyring");
    let docker_version = |what: &str| {
        let out = sb
            .dctx()
            .args([
                "exec",
                "kr",
                "--",
                "docker",
                "version",
                "--format",
                "{{.Server.Version}}",
            ])
            .output()
            .unwrap();
        assert_success(&out, what);
    };
    docker_version("exec before renewal");
    let out = with_token(&sb, &token, &["renew", "kr", "--force"]);
    assert_success(&out, "dctx renew kr --force");
    let key1 = sb.keyring_lookup("kr").expect("key in the keyring");
    assert_ne!(pubkey(&key1, false), pubkey(&key0, false), "a new key");
    let cert = std::fs::read_to_string(sb.store().join("profiles/kr/cert.pem")).unwrap();
    assert_eq!(pubkey(&cert, true), pubkey(&key1, false));
    let marker: String = key1
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()[..40]
        .to_string();
    assert_eq!(
        files_containing(&sb.home, &marker),
        Vec::<std::path::PathBuf>::new()
    );
    docker_version("exec after renewal");
}

/// A profile imported from `dctx pki client` renews from the local CA
/// the same way: new key, one transaction, docker still gets in.
#[test]
fn a_local_ca_profile_renews_from_dctx_pki() {
    use crate::support::dockerd::{socket_version, spawn_dockerd};
    use crate::support::procs::{scratch_dir, wait_tcp};
    let sb = Sandbox::new();
    sb.ok(&["pki", "init"]);
    let dir = scratch_dir("local-ca-dockerd");
    sb.ok(&[
        "pki",
        "server",
        "--host",
        "127.0.0.1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let port = free_port();
    let socket = dir.join("docker.sock");
    let mut child = spawn_dockerd(
        &dir,
        &[
            "--tlsverify".into(),
            format!("--tlscacert={}", dir.join("ca.pem").display()),
            format!("--tlscert={}", dir.join("server-cert.pem").display()),
            format!("--tlskey={}", dir.join("server-key.pem").display()),
            format!("-H=tcp://127.0.0.1:{port}"),
            format!("-H=unix://{}", socket.display()),
        ],
    );
    wait_tcp(
        &format!("127.0.0.1:{port}"),
        &mut child,
        "dockerd (local CA)",
        &dir.join("dockerd.log"),
    );
    socket_version(&socket);
    let host = format!("tcp://127.0.0.1:{port}");
    let tar = sb.path("carol.tar");
    sb.ok(&["pki", "client", "carol", "--out", tar.to_str().unwrap()]);
    sb.ok(&[
        "add",
        "carol",
        "--bundle",
        tar.to_str().unwrap(),
        "--host",
        &host,
    ]);
    let (cert0, key0) = tls_files(&sb, "carol");
    let out = sb.ok(&["renew", "--all"]);
    assert!(out.contains("carol: not due"), "{out}");
    let out = sb.ok(&["renew", "carol", "--force"]);
    assert!(out.contains("carol: renewed with a new key"), "{out}");
    let (cert1, key1) = tls_files(&sb, "carol");
    assert_ne!(cert1, cert0);
    assert_ne!(pubkey(&key1, false), pubkey(&key0, false));
    assert_eq!(pubkey(&cert1, true), pubkey(&key1, false));
    assert!(!sb.context_server_version("carol").is_empty());
    // The local CA's record follows: `pki ls` knows the new certificate.
    let p = profile_json(&sb, "carol");
    assert_eq!(p["origin"]["kind"], "local-ca", "{p:#}");
    let ls: serde_json::Value = serde_json::from_str(&sb.ok(&["pki", "ls", "--json"])).unwrap();
    let recorded = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "carol")
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_ascii_uppercase();
    let mut c = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), cert1.as_bytes()).unwrap();
    let serial = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
    let serial = serial
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_uppercase();
    assert_eq!(
        recorded.trim_start_matches('0'),
        serial.trim_start_matches('0')
    );
    crate::support::dockerd::stop_dockerd(&mut child, &dir);
}

/// The vault dockerd's plain unix socket (ground truth, no TLS).
fn vault_direct(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env(
            "DOCKER_HOST",
            format!(
                "unix://{}",
                vault_dockerd().dir.join("docker.sock").display()
            ),
        )
        .args(args)
        .output()
        .unwrap()
}

/// A running `dctx proxy` after a renewal: the open `logs -f` stream goes
/// on, and once the old certificate has expired (dockerd would refuse it)
/// a new call through the proxy still gets in: new upstream connections
/// use the renewed certificate.
#[test]
fn a_running_proxy_keeps_its_streams_and_dials_with_the_renewed_cert() {
    let b = openbao();
    let sb = sandbox();
    let token = b.signer_token();
    // 20 s of life: the old certificate is dead soon after the renewal.
    enroll(&sb, &token, "px", &["--ttl", "20s"]);
    let old_not_after = profile_json(&sb, "px")["cert"]["not_after"]
        .as_i64()
        .unwrap();
    // An image and a chatty container, straight on the daemon.
    let mut import = Command::new("docker")
        .env(
            "DOCKER_HOST",
            format!(
                "unix://{}",
                vault_dockerd().dir.join("docker.sock").display()
            ),
        )
        .args([
            "import",
            "--change",
            "ENV PATH=/bin",
            "-",
            "dctx-vault-bb:it",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut import.stdin.take().unwrap(),
        &crate::support::image::rootfs_tar(),
    )
    .unwrap();
    assert!(import.wait().unwrap().success(), "docker import");
    let run = vault_direct(&[
        "run",
        "-d",
        "--network",
        "none",
        "dctx-vault-bb:it",
        "sh",
        "-c",
        "i=0; while true; do echo line $i; i=$((i+1)); sleep 1; done",
    ]);
    assert_success(&run, "docker run");
    let cid = String::from_utf8(run.stdout).unwrap().trim().to_string();

    let mut proxy = sb
        .dctx()
        .args(["proxy", "px", "--log"])
        .arg(sb.path("audit.log"))
        // The sandbox's own socket: the default one (/tmp/dctx-UID/px.sock)
        // is shared with any other suite running on the machine.
        .arg("--socket")
        .arg(sb.path("px.sock"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(sb.path("proxy.err")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(proxy.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let host = line
        .trim()
        .strip_prefix("export DOCKER_HOST=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let mut logs = sb
        .docker()
        .env("DOCKER_HOST", &host)
        .args(["logs", "-f", &cid])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = logs.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let number = |l: &str| l.trim_start_matches("line ").parse::<u64>().unwrap();
    let first = number(
        &rx.recv_timeout(Duration::from_secs(30))
            .expect("logs -f streams"),
    );

    // The clock is the condition here: renew late in the old certificate's
    // life (the new one, same TTL, then outlives it by ~10 s), and call
    // once the old one is dead.
    let wait_until = |t: i64| {
        while (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64)
            < t
        {
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait_until(old_not_after - 10);
    let out = with_token(&sb, &token, &["renew", "px", "--force"]);
    assert_success(&out, "dctx renew px --force");
    let new_not_after = profile_json(&sb, "px")["cert"]["not_after"]
        .as_i64()
        .unwrap();
    assert!(
        new_not_after > old_not_after + 5,
        "{new_not_after} vs {old_not_after}"
    );
    wait_until(old_not_after + 2);
    let v = sb
        .docker()
        .env("DOCKER_HOST", &host)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap();
    let _ = vault_direct(&["rm", "-f", &cid]);
    let stream_alive = loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if number(&l) > first + 3 => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    let _ = logs.kill();
    let _ = logs.wait();
    unsafe { libc::kill(proxy.id() as i32, libc::SIGTERM) };
    let _ = proxy.wait();
    assert_success(
        &v,
        &format!(
            "docker version through the proxy after the old cert expired\nproxy: {}\naudit: {}",
            std::fs::read_to_string(sb.path("proxy.err")).unwrap_or_default(),
            std::fs::read_to_string(sb.path("audit.log")).unwrap_or_default()
        ),
    );
    assert!(stream_alive, "the logs -f stream through the proxy stopped");
}

/// A pending CSR can be abandoned: its key goes with it, nothing is left.
#[test]
fn csr_drop_takes_the_pending_key_with_it() {
    let sb = Sandbox::new();
    let before = sb.snapshot();
    sb.ok(&["csr", "gone", "--key-store", "file"]);
    assert!(sb.store().join("pending/gone/key.pem").exists());
    // Refused: already pending; --drop abandons it.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["csr", "gone", "--cn", "other.example.test"]),
        "csr-already-pending"
    );
    sb.ok(&["csr", "gone", "--drop"]);
    assert!(!sb.store().join("pending/gone").exists());
    // ls no longer lists it.
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-after-drop");
    dctx_snapshot!(f, sb.dctx_cmd(&["csr", "gone", "--drop"]), "csr-drop-none");
    // Only dctx's store dirs and lock remain: no key, no journal.
    for (path, _) in sb.snapshot() {
        assert!(
            before.contains_key(&path) || !path.contains("gone"),
            "left behind: {path}"
        );
    }
}
