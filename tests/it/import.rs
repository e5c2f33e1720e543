//! Import what the user holds, the way the tutorials make it: Docker's
//! openssl recipe (encrypted CA key, `-extfile` for the EKUs), the client's
//! directory as the tutorial leaves it, the daemon's own files, partial
//! re-imports with `--replace`, and `add --check`. Every import is judged by
//! its effect: the real docker CLI and `dctx check` against a real daemon
//! (dockerd, or nginx fronting it with the tutorial's server cert).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::nginx::start_nginx;
use crate::support::snap::{Filters, output_snapshot};
use crate::support::{Sandbox, TestCa, dockerd, free_port, write_tree};

/// Run a bash script in `dir`, asserting success.
fn sh(dir: &Path, script: &str) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Docker's "protect the daemon socket" recipe (seeds 002/003): a CA whose
/// key is encrypted (`genrsa -aes256 …`, `ca_key_args`), a server cert with
/// serverAuth and SANs, a client cert with clientAuth, all in one dir with
/// the tutorial's names (the CSRs, extfiles and ca.srl left lying around).
fn tutorial_dir(dir: &Path, ca_key_args: &str) {
    std::fs::create_dir_all(dir).unwrap();
    sh(
        dir,
        &format!(
            "openssl genrsa {ca_key_args} -out ca-key.pem 2048 2>/dev/null
             openssl req -new -x509 -days 365 -key ca-key.pem -passin pass:ca-secret -sha256 -subj '/CN=tutorial CA' -out ca.pem
             openssl genrsa -out server-key.pem 2048 2>/dev/null
             openssl req -subj '/CN=localhost' -sha256 -new -key server-key.pem -out server.csr
             echo subjectAltName = DNS:localhost,IP:127.0.0.1 >> extfile.cnf
             echo extendedKeyUsage = serverAuth >> extfile.cnf
             openssl x509 -req -days 365 -sha256 -in server.csr -CA ca.pem -CAkey ca-key.pem -passin pass:ca-secret -CAcreateserial -out server-cert.pem -extfile extfile.cnf 2>/dev/null
             openssl genrsa -out key.pem 2048 2>/dev/null
             openssl req -subj '/CN=client' -new -key key.pem -out client.csr
             echo extendedKeyUsage = clientAuth > extfile-client.cnf
             openssl x509 -req -days 365 -sha256 -in client.csr -CA ca.pem -CAkey ca-key.pem -passin pass:ca-secret -CAcreateserial -out cert.pem -extfile extfile-client.cnf 2>/dev/null"
        ),
    );
}

/// nginx on 127.0.0.1 with the tutorial's server cert and key, requiring a
/// client cert from its CA, in front of the shared dockerd's socket.
fn tutorial_front(tag: &str, dir: &Path) -> String {
    let port = free_port();
    let socket = dockerd().socket.display().to_string();
    let (cert, key, ca) = (
        dir.join("server-cert.pem"),
        dir.join("server-key.pem"),
        dir.join("ca.pem"),
    );
    start_nginx(
        tag,
        |_| {
            format!(
                "server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {};\n  ssl_certificate_key {};\n  ssl_verify_client on;\n  ssl_client_certificate {};\n  location / {{ proxy_pass http://unix:{socket}:; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n}}\n",
                cert.display(),
                key.display(),
                ca.display()
            )
        },
        &[port],
    );
    format!("tcp://127.0.0.1:{port}")
}

/// dctx with no terminal and nothing on stdin: a passphrase prompt fails.
fn run(sb: &Sandbox, args: &[&str]) -> Output {
    sb.dctx().args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_status(sb: &Sandbox, name: &str) -> (i32, serde_json::Value) {
    let out = run(sb, &["check", name, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    (out.status.code().unwrap(), v[0].clone())
}

fn codes(r: &serde_json::Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The client's subject and the CA subjects `show --json` reports.
fn material(sb: &Sandbox, name: &str) -> (String, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["show", name, "--json"])).unwrap();
    let cas = v["ca"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_string())
        .collect();
    (
        v["client_cert"]["subject"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        cas,
    )
}

/// The tutorial's own directory imports without the CA's passphrase (the
/// encrypted ca-key.pem is skipped with a warning, never prompted for), in
/// either encrypted form openssl writes; the profile then works with docker
/// and `dctx check` through the tutorial's own server cert.
#[test]
fn tutorial_dir_with_encrypted_ca_key_imports_without_its_passphrase() {
    let sb = Sandbox::new();
    for (i, args) in [
        // OpenSSL 3: an encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY").
        "-aes256 -passout pass:ca-secret",
        // OpenSSL 1.1's form: "Proc-Type: 4,ENCRYPTED".
        "-traditional -aes256 -passout pass:ca-secret",
    ]
    .iter()
    .enumerate()
    {
        let dir = sb.path(&format!("docker-ca-{i}"));
        tutorial_dir(&dir, args);
        let key = std::fs::read_to_string(dir.join("ca-key.pem")).unwrap();
        assert!(
            key.contains(if i == 0 {
                "ENCRYPTED PRIVATE KEY"
            } else {
                "Proc-Type: 4,ENCRYPTED"
            }),
            "{key}"
        );
        let host = tutorial_front(&format!("tutorial{i}"), &dir);
        let name = format!("tut{i}");
        let out = run(
            &sb,
            &[
                "add",
                &name,
                "--bundle",
                dir.to_str().unwrap(),
                "--host",
                &host,
            ],
        );
        // Imported; the encrypted ca-key.pem skipped with a warning, no
        // passphrase asked for.
        output_snapshot!(Filters::sandbox(&sb), out, format!("tutorial-dir-{i}"));
        let (client, cas) = material(&sb, &name);
        assert_eq!(client, "CN=client");
        assert_eq!(cas, ["CN=tutorial CA"]);
        assert_eq!(sb.context_server_version(&name), dockerd().version);
        let (code, r) = check_status(&sb, &name);
        assert_eq!((code, r["status"].as_str()), (0, Some("ok")), "{r:#}");
    }
}

/// The client key encrypted too (its own passphrase), next to the CA key
/// encrypted with the CA's: the client's passphrase unlocks the import,
/// the CA key is skipped, whatever order the files are read in.
#[test]
fn encrypted_client_key_is_unlocked_and_the_ca_key_skipped() {
    let sb = Sandbox::new();
    let dir = sb.path("docker-ca");
    tutorial_dir(&dir, "-aes256 -passout pass:ca-secret");
    sh(
        &dir,
        "openssl rsa -aes256 -in key.pem -passout pass:client-secret -out key.enc 2>/dev/null && mv key.enc key.pem",
    );
    let host = tutorial_front("tutorial-enc", &dir);
    let out = sb.with_stdin(
        &[
            "add",
            "tut",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &host,
            "--password-stdin",
        ],
        b"client-secret\n",
    );
    // Imported, the CA key skipped with a warning.
    output_snapshot!(Filters::sandbox(&sb), out, "encrypted-client-key");
    assert_eq!(sb.context_server_version("tut"), dockerd().version);
}

/// A plaintext CA key handed out with the client files is a warning (it
/// mints certificates), not a note; the import still works.
#[test]
fn plaintext_ca_key_in_a_client_bundle_is_a_warning() {
    let sb = Sandbox::new();
    let dir = sb.path("docker-ca");
    // Seed 003: `openssl genrsa -out ca-key.pem 2048`, no passphrase.
    tutorial_dir(&dir, "-passout pass:ca-secret");
    let key = std::fs::read_to_string(dir.join("ca-key.pem")).unwrap();
    assert!(!key.contains("ENCRYPTED"), "{key}");
    let host = tutorial_front("tutorial-plain", &dir);
    let out = run(
        &sb,
        &[
            "add",
            "tut",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &host,
        ],
    );
    // Imported; the CA key a warning (it can issue certificates), not
    // also a note.
    output_snapshot!(Filters::sandbox(&sb), out, "plaintext-ca-key");
    assert_eq!(sb.context_server_version("tut"), dockerd().version);
}

/// The daemon's own files (what the tutorial copies to the server) are
/// recognised: a server certificate, a client one is needed; no `--force`
/// hint, and `--force` does not import it either. Nothing is written.
#[test]
fn the_daemons_own_files_are_recognised_as_such() {
    let sb = Sandbox::new();
    let dir = sb.path("docker-ca");
    tutorial_dir(&dir, "-aes256 -passout pass:ca-secret");
    let server = sb.path("server-files");
    std::fs::create_dir_all(&server).unwrap();
    for f in ["ca.pem", "server-cert.pem", "server-key.pem", "ca-key.pem"] {
        std::fs::copy(dir.join(f), server.join(f)).unwrap();
    }
    let before = sb.snapshot();
    for force in [false, true] {
        let mut args = vec![
            "add",
            "srv",
            "--bundle",
            server.to_str().unwrap(),
            "--host",
            "tcp://127.0.0.1:2376",
        ];
        if force {
            args.push("--force");
        }
        // Refused: a server certificate and key, a client one is needed;
        // no --force hint, no passphrase asked for.
        let out = run(&sb, &args);
        output_snapshot!(
            Filters::sandbox(&sb),
            out,
            format!("daemon-files-force-{force}")
        );
    }
    assert_eq!(sb.snapshot(), before);
}

/// `--force` on an expired client cert: the warning says it was imported
/// anyway, and does not also tell the user to pass --force.
#[test]
fn forced_import_warning_does_not_contradict_itself() {
    let d = dockerd();
    let sb = Sandbox::new();
    // Expired 3.5 days ago: the same day count whenever it runs.
    let mut old = crate::support::Leaf::client("old").days(-3);
    old.not_after -= time::Duration::hours(12);
    let old = d.ca.issue(&old);
    let dir = sb.path("old");
    crate::support::write_bundle(&dir, &d.ca.cert_pem, &old);
    let out = run(
        &sb,
        &[
            "add",
            "old",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &d.host,
            "--force",
        ],
    );
    // Imported; the warning says "imported anyway", not "pass --force".
    output_snapshot!(Filters::sandbox(&sb), out, "forced-expired");
}

/// The context's cert.pem (the only context in the sandbox).
fn context_file(sb: &Sandbox, file: &str) -> String {
    let tls = sb.docker_config().join("contexts/tls");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&tls)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    std::fs::read_to_string(dirs[0].join("docker").join(file)).unwrap()
}

/// The unknown-ca fix as the issue quotes it: `dctx add NAME --ca FILE
/// --replace` swaps the CA and keeps the client cert and key (it used to
/// drop them: "TLS, no client cert"); then docker and `dctx check` work.
/// A cert+key swap keeps the CA the same way. A bad file changes nothing.
#[test]
fn replace_with_only_a_ca_or_only_a_cert_keeps_the_rest() {
    let d = dockerd();
    let sb = Sandbox::new();
    let wrong = TestCa::new("the wrong CA");
    let dir = sb.path("otherca");
    crate::support::write_bundle(&dir, &wrong.cert_pem, &d.client);
    sb.ok(&[
        "add",
        "otherca",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
    ]);
    let (code, r) = check_status(&sb, "otherca");
    assert_eq!(code, 3);
    assert!(codes(&r).contains(&"unknown-ca".to_string()), "{r:#}");
    let key_before = context_file(&sb, "key.pem");

    // The fix, pasted in the directory holding right-ca.pem.
    std::fs::write(sb.path("right-ca.pem"), &d.ca.cert_pem).unwrap();
    let out = run(
        &sb,
        &["add", "otherca", "--ca", "right-ca.pem", "--replace"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sb.context_server_version("otherca"), d.version);
    let (code, r) = check_status(&sb, "otherca");
    assert_eq!((code, r["status"].as_str()), (0, Some("ok")), "{r:#}");
    assert!(
        context_file(&sb, "key.pem") == key_before,
        "key.pem changed (not printed: a private key)"
    );
    assert_eq!(context_file(&sb, "cert.pem"), d.client.cert_pem);
    let rows: serde_json::Value = serde_json::from_str(&sb.ok(&["ls", "--json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "otherca")
        .unwrap();
    assert_eq!(row["tls"], "mtls", "{row:#}");

    // A new client cert and key: the CA stays.
    let second = d.ca.client("second client");
    write_tree(
        &sb.path("."),
        &[
            ("second.pem", &second.cert_pem),
            ("second-key.pem", &second.key_pem),
        ],
    );
    let out = run(
        &sb,
        &[
            "add",
            "otherca",
            "--cert",
            "second.pem",
            "--key",
            "second-key.pem",
            "--replace",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(context_file(&sb, "ca.pem"), d.ca.cert_pem);
    assert_eq!(material(&sb, "otherca").0, "CN=second client");
    assert_eq!(sb.context_server_version("otherca"), d.version);
    let (code, _) = check_status(&sb, "otherca");
    assert_eq!(code, 0);

    // Not a certificate: refused, the stores untouched.
    std::fs::write(sb.path("junk.pem"), "not a certificate\n").unwrap();
    let before = sb.snapshot();
    let out = run(&sb, &["add", "otherca", "--ca", "junk.pem", "--replace"]);
    assert!(!out.status.success());
    assert_eq!(sb.snapshot(), before);
}

/// `add --check` probes right after the import: exit 0 for a daemon that
/// answers, 3 for one that does not (the profile is kept either way).
#[test]
fn add_check_probes_right_after_the_import() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.client_bundle();
    let out = run(
        &sb,
        &[
            "add",
            "prod",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &d.host,
            "--check",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("prod ") && l.split_whitespace().any(|w| w == "ok")),
        "{stdout}"
    );
    let down = format!("tcp://127.0.0.1:{}", free_port());
    let out = run(
        &sb,
        &[
            "add",
            "down",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &down,
            "--check",
        ],
    );
    // Added, then checked: exit 3, connection-refused.
    output_snapshot!(Filters::sandbox(&sb), out, "add-check-down");
    assert_eq!(
        sb.ok(&["ls", "-q"])
            .lines()
            .filter(|l| *l == "down")
            .count(),
        1
    );
}

/// A keyring profile re-imported with only `--ca`: the key stays in the
/// keyring (no key.pem written, no context), and `dctx exec` reaches the
/// daemon with the new CA.
#[test]
fn replace_with_only_a_ca_keeps_a_keyring_key_in_the_keyring() {
    let d = dockerd();
    let sb = Sandbox::new().with_keyring();
    let wrong = TestCa::new("the wrong CA");
    let dir = sb.path("vault");
    crate::support::write_bundle(&dir, &wrong.cert_pem, &d.client);
    sb.ok(&[
        "add",
        "vault",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
        "--key-store",
        "keyring",
    ]);
    let key_before = sb.keyring_lookup("vault").expect("key in the keyring");
    std::fs::write(sb.path("right-ca.pem"), &d.ca.cert_pem).unwrap();
    let out = run(&sb, &["add", "vault", "--ca", "right-ca.pem", "--replace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Compared, never printed: it is a private key.
    assert!(
        sb.keyring_lookup("vault").as_ref() == Some(&key_before),
        "the keyring key changed or went"
    );
    let rows: serde_json::Value = serde_json::from_str(&sb.ok(&["ls", "--json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "vault")
        .unwrap();
    assert_eq!(
        (row["key_store"].as_str(), row["context"].as_bool()),
        (Some("keyring"), Some(false)),
        "{row:#}"
    );
    let out = sb
        .dctx()
        .args([
            "exec",
            "vault",
            "--",
            "docker",
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .unwrap();
    crate::support::assert_success(&out, "dctx exec vault -- docker version");
    assert_eq!(text(&out.stdout).trim(), d.version);
    let (code, r) = check_status(&sb, "vault");
    assert_eq!((code, r["status"].as_str()), (0, Some("ok")), "{r:#}");
}

/// A file name in the user's directory is the sender's text: the warning
/// naming a skipped key escapes its control characters.
#[test]
fn warnings_escape_file_names() {
    let sb = Sandbox::new();
    let dir = sb.path("docker-ca");
    tutorial_dir(&dir, "-aes256 -passout pass:ca-secret");
    std::fs::rename(
        dir.join("ca-key.pem"),
        dir.join("ca-key\x1b]0;pwned\x07.pem"),
    )
    .unwrap();
    let out = run(
        &sb,
        &[
            "add",
            "tut",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            "tcp://127.0.0.1:2376",
        ],
    );
    let err = text(&out.stderr);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    // The warning names ca-key\u{1b}]0;pwned\u{7}.pem, escaped.
    output_snapshot!(Filters::sandbox(&sb), out, "warning-escapes-file-name");
}

/// An import that fails names the file in the user's directory: the error
/// line escapes the name's control characters too.
#[test]
fn errors_escape_file_names() {
    let sb = Sandbox::new();
    let dir = sb.path("docker-ca");
    tutorial_dir(&dir, "-passout pass:ca-secret");
    sh(
        &dir,
        "openssl rsa -aes256 -in key.pem -passout pass:client-secret -out key.enc 2>/dev/null && rm key.pem",
    );
    std::fs::rename(dir.join("key.enc"), dir.join("key\x1b[2J.pem")).unwrap();
    let before = sb.snapshot();
    let out = run(
        &sb,
        &[
            "add",
            "tut",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            "tcp://127.0.0.1:2376",
        ],
    );
    let err = text(&out.stderr);
    assert!(!err.contains('\x1b'), "{err:?}");
    // Refused, naming key\u{1b}[2J.pem escaped.
    output_snapshot!(Filters::sandbox(&sb), out, "error-escapes-file-name");
    assert_eq!(sb.snapshot(), before);
}
