//! Revocation and per-person access at the daemon's front (issue 22): a real
//! nginx rendered by `dctx pki daemon-config --format nginx` in front of the
//! real dockerd's unix socket, reached by the real docker CLI. Refusals are
//! judged by what the CLI prints and by the daemon's state afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::snap::{Filters, dctx_snapshot, output_snapshot, text_snapshot};
use crate::support::{self, Sandbox, assert_success, free_port};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn pki(sbx: &Sandbox, args: &[&str]) -> String {
    let mut a = vec!["pki"];
    a.extend_from_slice(args);
    sbx.ok(&a)
}

fn pki_out(sbx: &Sandbox, args: &[&str]) -> Output {
    sbx.dctx().arg("pki").args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `docker --context NAME ARGS`.
fn docker(sbx: &Sandbox, ctx: &str, args: &[&str]) -> Output {
    sbx.docker()
        .args(["--context", ctx])
        .args(args)
        .output()
        .unwrap()
}

fn docker_ok(sbx: &Sandbox, ctx: &str, args: &[&str]) -> String {
    let out = docker(sbx, ctx, args);
    assert_success(&out, &format!("docker --context {ctx} {}", args.join(" ")));
    text(&out.stdout)
}

/// Runs, fails, and returns what the CLI printed on stderr.
fn docker_refused(sbx: &Sandbox, ctx: &str, args: &[&str]) -> String {
    let out = docker(sbx, ctx, args);
    assert!(
        !out.status.success(),
        "docker --context {ctx} {} succeeded:\n{}",
        args.join(" "),
        text(&out.stdout)
    );
    text(&out.stderr)
}

/// The admin's docker CLI on the daemon's own unix socket (no front).
fn admin(args: &[&str]) -> Output {
    Command::new("docker")
        .env(
            "DOCKER_HOST",
            format!("unix://{}", support::dockerd().socket.display()),
        )
        .args(args)
        .output()
        .unwrap()
}

fn admin_ok(args: &[&str]) -> String {
    let out = admin(args);
    assert_success(&out, &format!("docker {}", args.join(" ")));
    text(&out.stdout).trim().to_string()
}

fn dockerd_pid() -> String {
    let pid = std::fs::read_to_string(support::dockerd().dir.join("dockerd.pid")).unwrap();
    let pid = pid.trim().to_string();
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "dockerd {pid} is gone"
    );
    pid
}

/// Wait until `cond` holds (deadline 30 s), e.g. for new nginx workers after a reload.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn serial_of(sbx: &Sandbox, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&pki(sbx, &["ls", "--json"])).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A CA, a server certificate for 127.0.0.1, a CRL, and a running nginx
/// front rendered with `extra` daemon-config flags; clients added as
/// profiles (docker contexts) named after them.
struct Front {
    sbx: Sandbox,
    port: u16,
    crl: PathBuf,
    log: PathBuf,
    nginx: support::nginx::Nginx,
    srv: PathBuf,
}

impl Front {
    fn start(tag: &str, clients: &[&str], extra: &[&str]) -> Front {
        let d = support::dockerd();
        let sbx = Sandbox::new();
        pki(&sbx, &["init"]);
        let srv = sbx.path("srv");
        pki(&sbx, &["server", "--host", "127.0.0.1", "--out", p(&srv)]);
        let port = free_port();
        for c in clients {
            let dir = sbx.path(c);
            pki(&sbx, &["client", c, "--out", p(&dir)]);
            sbx.ok(&[
                "add",
                c,
                "--bundle",
                p(&dir),
                "-H",
                &format!("tcp://127.0.0.1:{port}"),
            ]);
        }
        let crl = sbx.path("front/crl.pem");
        std::fs::create_dir_all(crl.parent().unwrap()).unwrap();
        pki(&sbx, &["crl", "-o", p(&crl)]);
        let log = sbx.path("front/access.log");
        let mut args = vec![
            "daemon-config",
            "--format",
            "nginx",
            "-q",
            "--cert-dir",
            p(&srv),
            "--socket",
            p(&d.socket),
            "--crl",
            p(&crl),
            "--access-log",
            p(&log),
        ];
        let listen = format!("tcp://127.0.0.1:{port}");
        args.extend(["--listen", &listen]);
        args.extend_from_slice(extra);
        let block = pki(&sbx, &args);
        let nginx = support::nginx::start_nginx(tag, move |_| block, &[port]);
        Front {
            sbx,
            port,
            crl,
            log,
            nginx,
            srv,
        }
    }

    fn reload_cmd(&self) -> String {
        let d = self.nginx.dir.display();
        format!("nginx -p '{d}' -c '{d}/nginx.conf' -s reload")
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// curl with `who`'s client certificate: (status, body).
    fn curl(&self, who: &str, method: &str, path: &str, headers: &[&str]) -> (String, String) {
        let dir = self.sbx.path(who);
        let mut c = Command::new("curl");
        c.args(["-s", "--path-as-is", "-X", method, "-w", "\n%{http_code}"])
            .args(["--cacert", p(&self.srv.join("ca.pem"))])
            .args(["--cert", p(&dir.join("cert.pem"))])
            .args(["--key", p(&dir.join("key.pem"))]);
        for h in headers {
            c.args(["-H", h]);
        }
        c.arg(self.url(path));
        let out = c.output().unwrap();
        assert_success(&out, &format!("curl {method} {path}"));
        let t = text(&out.stdout);
        let (body, status) = t.rsplit_once('\n').unwrap();
        (status.to_string(), body.to_string())
    }
}

#[test]
fn revoked_client_is_refused_at_the_front_while_others_work_and_dockerd_keeps_running() {
    let d = support::dockerd();
    let f = Front::start("revoke", &["alice", "bob"], &[]);
    let sbx = &f.sbx;
    let pid = dockerd_pid();
    for who in ["alice", "bob"] {
        assert_eq!(
            docker_ok(sbx, who, &["version", "--format", "{{.Server.Version}}"]).trim(),
            d.version
        );
    }
    let alice_serial = serial_of(sbx, "alice");
    // Alice's serial stays recognisable in the snapshots.
    let mut fl = Filters::sandbox(sbx);
    fl.literal(&alice_serial, "[ALICE_SERIAL]");
    let fl = fl;
    dctx_snapshot!(
        fl,
        sbx.dctx_cmd(&["pki", "revoke", "alice", "--reason", "key-compromise"]),
        "revoke-alice"
    );
    // Revoking only records it: the front's CRL still lets alice in.
    assert_success(&docker(sbx, "alice", &["version"]), "alice before the CRL");
    let before = serde_json::from_str::<serde_json::Value>(&pki(sbx, &["ls", "--json"])).unwrap();
    let alice_row = before
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "alice")
        .unwrap();
    assert_eq!(
        alice_row["revoked"]["reason"], "key-compromise",
        "{before:#}"
    );

    let old_number = crl_number(&f.crl);
    let out = pki(sbx, &["crl", "-o", p(&f.crl), "--reload", &f.reload_cmd()]);
    assert!(crl_number(&f.crl) > old_number, "{out}");
    // openssl agrees: the new CRL lists alice and is signed by the CA.
    let listed = Command::new("openssl")
        .args(["crl", "-in", p(&f.crl), "-noout", "-text"])
        .args(["-CAfile", p(&f.srv.join("ca.pem"))])
        .output()
        .unwrap();
    assert_success(&listed, "openssl crl");
    assert!(text(&listed.stdout).contains(&alice_serial));
    assert!(text(&listed.stderr).contains("verify OK"), "{listed:?}");

    // nginx re-reads the CRL in new workers: wait until alice is refused.
    wait_for("the reloaded front to refuse alice", || {
        !docker(sbx, "alice", &["version"]).status.success()
    });
    let err = docker_refused(sbx, "alice", &["ps"]);
    assert!(
        err.contains("Error response from daemon: dctx front: client certificate refused: FAILED:certificate revoked"),
        "{err}"
    );
    // bob still works, through the same front, same daemon process.
    assert_eq!(
        docker_ok(sbx, "bob", &["version", "--format", "{{.Server.Version}}"]).trim(),
        d.version
    );
    assert_eq!(dockerd_pid(), pid, "dockerd restarted");

    // doctor names it, with the front's words and the CA's own CRL as evidence.
    let revoked = doctor_finding(sbx, &["alice"], "client-cert-revoked");
    // Alice's serial, the front's words (FAILED:certificate revoked) and
    // the CA's own CRL as evidence (its path and number).
    assert_eq!(
        crl_number(&sbx.store().join("pki/crl.pem")),
        crl_number(&f.crl)
    );
    text_snapshot!(fl, "doctor-revoked-finding", format!("{revoked:#}"));
    let out = sbx
        .dctx()
        .args(["doctor", "bob", "--json"])
        .output()
        .unwrap();
    assert_success(&out, "dctx doctor bob");

    // pki ls: alice is marked revoked, and the CRL's next update is shown.
    let ls = pki(sbx, &["ls"]);
    let alice_line = ls.lines().find(|l| l.starts_with("alice ")).unwrap();
    assert!(alice_line.trim_end().ends_with("revoked"), "{ls}");
    dctx_snapshot!(fl, sbx.dctx_cmd(&["pki", "ls"]), "pki-ls-alice-revoked");

    // The audit log names who did what: bob's subject and serial, alice refused.
    let log = std::fs::read_to_string(&f.log).unwrap();
    let bob_serial = serial_of(sbx, "bob");
    assert!(
        log.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["subject"] == "CN=bob" && v["serial"] == bob_serial.as_str() && v["status"] == 200
        }),
        "{log}"
    );
    assert!(
        log.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["serial"] == alice_serial.as_str()
                && v["verify"] == "FAILED:certificate revoked"
                && v["status"] == 403
        }),
        "{log}"
    );
}

fn crl_number(path: &Path) -> u64 {
    let out = Command::new("openssl")
        .args(["crl", "-in", p(path), "-noout", "-crlnumber"])
        .output()
        .unwrap();
    assert_success(&out, "openssl crl -crlnumber");
    // crlNumber=0x2
    let t = text(&out.stdout);
    let hex = t.trim().rsplit_once("0x").unwrap().1;
    u64::from_str_radix(hex, 16).unwrap()
}

#[test]
fn crl_install_refuses_foreign_older_and_lapsed_crls() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    pki(&sbx, &["client", "alice", "--out", p(&sbx.path("alice"))]);
    let target = sbx.path("crl.pem");
    pki(&sbx, &["crl", "-o", p(&target)]);
    let first = sbx.path("first.pem");
    std::fs::copy(&target, &first).unwrap();
    pki(&sbx, &["revoke", "alice"]);
    pki(&sbx, &["crl", "-o", p(&target)]);
    let installed = std::fs::read(&target).unwrap();
    assert_eq!(crl_number(&target), crl_number(&first) + 1);

    // revoke by certificate file and by pasted serial; twice is refused, and
    // so is a certificate another CA issued (this CA's CRL cannot revoke it).
    pki(&sbx, &["client", "bob", "--out", p(&sbx.path("bob"))]);
    pki(&sbx, &["client", "carl", "--out", p(&sbx.path("carl"))]);
    let out = pki(&sbx, &["revoke", "--cert", p(&sbx.path("bob/cert.pem"))]);
    assert!(out.starts_with("Revoked \"bob\""), "{out}");
    let carl = serial_of(&sbx, "carl");
    let pasted: Vec<String> = carl
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_ascii_lowercase())
        .collect();
    let out = pki(&sbx, &["revoke", "--serial", &pasted.join(":")]);
    assert!(out.starts_with("Revoked \"carl\""), "{out}");
    let f = Filters::sandbox(&sbx);
    output_snapshot!(f, pki_out(&sbx, &["revoke", "bob"]), "revoke-twice");
    let stranger = support::TestCa::new("dctx Docker CA").client("mallory");
    let stranger_pem = sbx.path("mallory.pem");
    std::fs::write(&stranger_pem, &stranger.cert_pem).unwrap();
    output_snapshot!(
        f,
        pki_out(&sbx, &["revoke", "--cert", p(&stranger_pem)]),
        "revoke-foreign-cert"
    );
    let ls: serde_json::Value = serde_json::from_str(&pki(&sbx, &["ls", "--json"])).unwrap();
    let revoked: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["revoked"].is_null())
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, ["alice", "bob", "carl"]);

    // An older CRL (lower number) would let alice back in: refused, file unchanged.
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "--from", p(&first), "-o", p(&target)]),
        "crl-older"
    );
    assert_eq!(std::fs::read(&target).unwrap(), installed);

    // Another CA with the very same name: the signature decides, not the name.
    let other = Sandbox::new();
    pki(&other, &["init"]);
    let foreign = other.path("foreign.pem");
    pki(&other, &["crl", "-o", p(&foreign)]);
    let mut f2 = f.clone();
    f2.literal(other.tmp.path().to_str().unwrap(), "[OTHER_TMP]");
    output_snapshot!(
        f2,
        pki_out(&sbx, &["crl", "--from", p(&foreign), "-o", p(&target)]),
        "crl-same-name-other-ca"
    );
    assert_eq!(std::fs::read(&target).unwrap(), installed);

    // A failing reload leaves the new file in place and says so.
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "-o", p(&target), "--reload", "exit 7"]),
        "crl-reload-fails"
    );
    assert_eq!(crl_number(&target), crl_number(&first) + 2);

    // A lapsed CRL (made with openssl, nextUpdate in the past): --check
    // exits 3, and dctx refuses to install it.
    let lapsed = openssl_lapsed_crl(&sbx);
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "--check", p(&lapsed)]),
        "crl-check-lapsed"
    );
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "--from", p(&lapsed), "-o", p(&target)]),
        "crl-install-lapsed"
    );
}

/// `openssl ca -gencrl` with the dctx CA's key, nextUpdate yesterday.
fn openssl_lapsed_crl(sbx: &Sandbox) -> PathBuf {
    let dir = sbx.path("openssl-ca");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    let pki_dir = sbx.store().join("pki");
    let conf = format!(
        "[ca]\ndefault_ca = c\n[c]\ndatabase = {d}/index.txt\ncertificate = {pk}/ca.pem\n\
         private_key = {pk}/ca-key.pem\ndefault_md = sha256\ncrlnumber = {d}/crlnumber\n",
        d = dir.display(),
        pk = pki_dir.display()
    );
    std::fs::write(dir.join("crlnumber"), "50\n").unwrap();
    std::fs::write(dir.join("ca.cnf"), conf).unwrap();
    let out_path = dir.join("lapsed.pem");
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    let out = Command::new("openssl")
        .args(["ca", "-gencrl", "-config", p(&dir.join("ca.cnf"))])
        .args(["-crl_lastupdate", &fmt(now - time::Duration::days(2))])
        .args(["-crl_nextupdate", &fmt(now - time::Duration::days(1))])
        .args(["-out", p(&out_path)])
        .output()
        .unwrap();
    assert_success(&out, "openssl ca -gencrl");
    out_path
}

#[test]
fn crl_check_warns_before_the_crl_lapses_and_metrics_show_its_next_update() {
    let sbx = Sandbox::new();
    pki(&sbx, &["init"]);
    let crl = sbx.path("crl.pem");
    pki(&sbx, &["crl", "-o", p(&crl), "--days", "2"]);
    // Inside the warning window: when it lapses and what then.
    let f = Filters::sandbox(&sbx);
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "--check", p(&crl)]),
        "crl-check-soon"
    );
    // Outside the warning window: no warning.
    output_snapshot!(
        f,
        pki_out(&sbx, &["crl", "--check", p(&crl), "--warn-days", "1"]),
        "crl-check-outside-window"
    );
    // pki ls flags the soon-lapsing CRL too.
    dctx_snapshot!(f, sbx.dctx_cmd(&["pki", "ls"]), "pki-ls-crl-soon");

    // The metrics exporter: the CRL's nextUpdate as a gauge, checked by promtool.
    let next = text(
        &Command::new("openssl")
            .args([
                "crl",
                "-in",
                p(&crl),
                "-noout",
                "-nextupdate",
                "-dateopt",
                "iso_8601",
            ])
            .output()
            .unwrap()
            .stdout,
    );
    let next = next.trim().strip_prefix("nextUpdate=").unwrap().to_string();
    let next = time::OffsetDateTime::parse(
        &next.replace(' ', "T"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    let prom = sbx.path("metrics.prom");
    let missing = sbx.path("missing.pem");
    sbx.ok(&[
        "metrics",
        "--textfile",
        p(&prom),
        "--crl",
        p(&crl),
        "--crl",
        p(&missing),
    ]);
    let body = std::fs::read_to_string(&prom).unwrap();
    assert!(
        body.contains(&format!(
            "dctx_crl_next_update{{file=\"{}\"}} {next}\n",
            p(&crl)
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!("dctx_crl_ok{{file=\"{}\"}} 1\n", p(&crl))),
        "{body}"
    );
    assert!(
        body.contains(&format!("dctx_crl_ok{{file=\"{}\"}} 0\n", p(&missing))),
        "{body}"
    );
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A websocket attach (`GET …/attach/ws?stdin=1`) by `who` that, once
/// upgraded, types `line` into the container's stdin. Returns the HTTP
/// status and the body of a refusal.
fn websocket_attach(f: &Front, who: &str, path: &str, line: &str) -> (String, String) {
    const CLIENT: &str = r#"
import base64, os, socket, ssl, sys
port, cert, key, ca, path, line = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="127.0.0.1")
k = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n" % (path, k)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    c = s.recv(4096)
    if not c:
        break
    buf += c
head, _, body = buf.partition(b"\r\n\r\n")
status = head.split(b" ")[1].decode()
if status == "101":
    data = line.encode()
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    s.sendall(bytes([0x88, 0x80]) + os.urandom(4))
else:
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    while length and len(body) < length[0]:
        c = s.recv(4096)
        if not c:
            break
        body += c
print(status)
print(body.decode(errors="replace"))
"#;
    let dir = f.sbx.path(who);
    let out = Command::new("python3")
        .args(["-c", CLIENT, &f.port.to_string()])
        .args([p(&dir.join("cert.pem")), p(&dir.join("key.pem"))])
        .args([p(&f.srv.join("ca.pem")), path, line])
        .output()
        .unwrap();
    assert_success(&out, "websocket client");
    let t = text(&out.stdout);
    let (status, body) = t.split_once('\n').unwrap();
    (status.to_string(), body.trim().to_string())
}

fn running(name: &str) -> bool {
    admin_ok(&["inspect", "-f", "{{.State.Running}}", name]) == "true"
}

fn file_in(name: &str, path: &str) -> bool {
    admin(&["exec", name, "ls", path]).status.success()
}

#[test]
fn read_only_person_reads_but_every_write_form_gets_the_json_refusal() {
    let img = support::image::busybox_image();
    let f = Front::start(
        "readonly",
        &["alice", "carol", "dave"],
        &[
            "--allow",
            "alice",
            "--read-only",
            "carol",
            "--contact",
            "ops@example.test",
        ],
    );
    let sbx = &f.sbx;
    // Per-person policy is the front's: refused for dockerd's own formats,
    // and a person cannot be both full and read-only.
    let listen = format!("tcp://127.0.0.1:{}", f.port);
    for (args, says) in [
        (
            vec!["--format", "daemon.json", "--allow", "alice"],
            "configure the nginx front",
        ),
        (
            vec![
                "--format",
                "nginx",
                "--allow",
                "alice",
                "--read-only",
                "ALICE",
            ],
            "named by both --allow and --read-only",
        ),
        (
            vec!["--format", "nginx", "--allow", "a\"b"],
            "without quotes",
        ),
    ] {
        let mut a = vec!["daemon-config", "--listen", &listen, "-q"];
        a.extend(args);
        let out = pki_out(sbx, &a);
        assert!(!out.status.success(), "{a:?}");
        assert!(text(&out.stderr).contains(says), "{a:?}: {out:?}");
    }
    let name = format!("dctx-ro-{}", f.port);
    // stdin kept open: the shell runs whatever reaches it.
    admin_ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &name,
        img,
        "sh",
        "-c",
        "echo ready; exec sh",
    ]);
    wait_for("the container's first log line", || {
        admin_ok(&["logs", &name]).contains("ready")
    });
    let refusal = "Error response from daemon: dctx front: read-only access, only reads pass (ask ops@example.test)";

    // Reads work for carol.
    let ps = docker_ok(sbx, "carol", &["ps", "--format", "{{.Names}}"]);
    assert!(ps.lines().any(|l| l == name), "{ps}");
    assert!(docker_ok(sbx, "carol", &["logs", &name]).contains("ready"));
    let state = docker_ok(
        sbx,
        "carol",
        &["inspect", "-f", "{{.State.Running}}", &name],
    );
    assert_eq!(state.trim(), "true");

    // Writes do not: each one printed by the CLI, and the daemon unchanged.
    let err = docker_refused(
        sbx,
        "carol",
        &["run", "--rm", "--name", "ro-should-not-exist", img, "true"],
    );
    assert!(err.contains(refusal), "{err}");
    assert!(!admin(&["inspect", "ro-should-not-exist"]).status.success());
    let err = docker_refused(sbx, "carol", &["exec", &name, "touch", "/by-exec"]);
    assert!(err.contains(refusal), "{err}");
    assert!(!file_in(&name, "/by-exec"));
    let err = docker_refused(sbx, "carol", &["rm", "-f", &name]);
    assert!(err.contains(refusal), "{err}");
    let err = docker_refused(sbx, "carol", &["kill", &name]);
    assert!(err.contains(refusal), "{err}");
    assert!(running(&name), "carol stopped the container");

    // The websocket attach: alice (full access) types into the container's
    // stdin (the positive control), carol gets the 403 JSON and nothing runs.
    let ws = format!("/v1.41/containers/{name}/attach/ws?stdin=1&stream=1");
    let (status, _) = websocket_attach(&f, "alice", &ws, "touch /by-alice\n");
    assert_eq!(status, "101");
    wait_for("alice's websocket command", || file_in(&name, "/by-alice"));
    let (status, body) = websocket_attach(&f, "carol", &ws, "touch /by-carol\n");
    assert_eq!(status, "403", "{body}");
    let msg: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        msg["message"]
            .as_str()
            .unwrap()
            .starts_with("dctx front: read-only access"),
        "{body}"
    );
    // Every version form of a write path, and paths nginx would have to
    // decode or normalise, are refused; a read in an odd version form passes.
    for (method, path) in [
        ("POST", format!("/v1.41.0/containers/{name}/kill")),
        ("POST", format!("/v1.41./containers/{name}/kill")),
        ("POST", format!("/v1.24.0/containers/{name}/stop")),
        ("POST", format!("/containers/{name}/kill")),
        ("POST", format!("/v1.41/containers/{name}/%6bill")),
        ("POST", format!("//v1.41/containers/{name}/kill")),
        ("DELETE", format!("/v1.41.0/containers/{name}?force=1")),
        ("GET", format!("/v1.41/containers/{name}/attach/ws?stdin=1")),
        ("GET", format!("/v1.41/containers/x/../{name}/json")),
        ("POST", "/v1.41.0/grpc".to_string()),
        ("POST", "/session".to_string()),
    ] {
        let (status, body) = f.curl("carol", method, &path, &[]);
        assert_eq!(status, "403", "{method} {path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("dctx front: read-only access"),
            "{method} {path}: {body}"
        );
    }
    // A read route with an upgrade header is refused too.
    let (status, _) = f.curl(
        "carol",
        "GET",
        "/v1.41/containers/json",
        &["Upgrade: tcp", "Connection: Upgrade"],
    );
    assert_eq!(status, "403");
    let (status, body) = f.curl(
        "carol",
        "GET",
        &format!("/v1.41.0/containers/{name}/json"),
        &[],
    );
    assert_eq!(status, "200", "{body}");
    assert!(running(&name), "the container stopped");
    assert!(!file_in(&name, "/by-carol"), "carol's websocket ran");

    // dave holds a certificate of the same CA but is not named: refused.
    let err = docker_refused(sbx, "dave", &["version"]);
    assert!(
        err.contains(
            "Error response from daemon: dctx front: this client certificate is not allowed here"
        ),
        "{err}"
    );
    let f = doctor_finding(sbx, &["dave"], "forbidden-by-front");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("answers 403 to CN=dave"),
        "{f:#}"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("ask ops@example.test to let subject"),
        "{f:#}"
    );
    // carol, read-only, is healthy for doctor: its probe only reads.
    assert_success(
        &sbx.dctx().args(["doctor", "carol"]).output().unwrap(),
        "dctx doctor carol",
    );
    admin_ok(&["rm", "-f", &name]);
}

/// docker through the front with an OpenBao-issued client certificate in `dir`.
fn docker_with(sbx: &Sandbox, port: u16, dir: &Path, args: &[&str]) -> Output {
    sbx.docker()
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn openbao_revocation_reaches_the_front_through_the_fetched_crl() {
    let d = support::dockerd();
    let bao = support::openbao::OpenBao::start("revoke");
    let sbx = Sandbox::new();
    // The front's server certificate comes from a local dctx CA; the client
    // certificates it accepts come from OpenBao's PKI engine.
    pki(&sbx, &["init"]);
    let srv = sbx.path("srv");
    pki(&sbx, &["server", "--host", "127.0.0.1", "--out", p(&srv)]);
    let server_ca = std::fs::read(srv.join("ca.pem")).unwrap();
    std::fs::copy(&bao.pki_ca, srv.join("ca.pem")).unwrap();
    // A role that issues (key made by the engine) for any name: the shared
    // support's client role only signs CSRs.
    bao.run(
        &[
            "write",
            "pki/roles/front-client",
            "allow_any_name=true",
            "enforce_hostnames=false",
            "client_flag=true",
            "server_flag=false",
            "key_type=ec",
            "key_bits=256",
            "ttl=1h",
        ],
        None,
    );
    let mut clients = Vec::new();
    for who in ["erin", "frank"] {
        let v: serde_json::Value = serde_json::from_str(&bao.run(
            &[
                "write",
                "-format=json",
                "pki/issue/front-client",
                &format!("common_name={who}"),
            ],
            None,
        ))
        .unwrap();
        let dir = sbx.path(who);
        support::write_tree(
            &dir,
            &[
                ("ca.pem", std::str::from_utf8(&server_ca).unwrap()),
                ("cert.pem", v["data"]["certificate"].as_str().unwrap()),
                ("key.pem", v["data"]["private_key"].as_str().unwrap()),
            ],
        );
        clients.push((
            dir,
            v["data"]["serial_number"].as_str().unwrap().to_string(),
        ));
    }
    let crl = sbx.path("front/crl.pem");
    std::fs::create_dir_all(crl.parent().unwrap()).unwrap();
    let vault = |extra: &[&str]| {
        let mut a = vec![
            "pki",
            "crl",
            "--vault",
            &bao.addr,
            "--vault-ca",
            p(&bao.server_ca),
            "-o",
            p(&crl),
        ];
        a.extend_from_slice(extra);
        sbx.dctx().args(a).output().unwrap()
    };
    assert_success(&vault(&[]), "dctx pki crl --vault");
    let first = crl_number(&crl);
    let port = free_port();
    let listen = format!("tcp://127.0.0.1:{port}");
    let block = pki(
        &sbx,
        &[
            "daemon-config",
            "--format",
            "nginx",
            "-q",
            "--listen",
            &listen,
            "--cert-dir",
            p(&srv),
            "--socket",
            p(&d.socket),
            "--crl",
            p(&crl),
            "--access-log",
            p(&sbx.path("front/access.log")),
        ],
    );
    let nginx = support::nginx::start_nginx("openbao", move |_| block, &[port]);
    let ((erin, erin_serial), (frank, _)) = (&clients[0], &clients[1]);
    for dir in [erin, frank] {
        assert_success(
            &docker_with(&sbx, port, dir, &["version"]),
            "docker version",
        );
    }

    // Revoking is OpenBao's own command; dctx fetches the engine's CRL.
    bao.run(
        &[
            "write",
            "pki/revoke",
            &format!("serial_number={erin_serial}"),
        ],
        None,
    );
    // Verified against a CA that did not sign it: refused, file unchanged.
    let before = std::fs::read(&crl).unwrap();
    let out = vault(&["--ca", p(&sbx.store().join("pki/ca.pem"))]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("signature does not verify"),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&crl).unwrap(), before);
    let reload = format!(
        "nginx -p '{d}' -c '{d}/nginx.conf' -s reload",
        d = nginx.dir.display()
    );
    let out = vault(&["--reload", &reload]);
    assert_success(&out, "dctx pki crl --vault --reload");
    assert!(crl_number(&crl) > first, "{out:?}");

    wait_for("the front to refuse erin", || {
        !docker_with(&sbx, port, erin, &["version"]).status.success()
    });
    let out = docker_with(&sbx, port, erin, &["ps"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("dctx front: client certificate refused: FAILED:certificate revoked"),
        "{out:?}"
    );
    let out = docker_with(
        &sbx,
        port,
        frank,
        &["version", "--format", "{{.Server.Version}}"],
    );
    assert_success(&out, "frank after erin's revocation");
    assert_eq!(text(&out.stdout).trim(), d.version);

    // doctor on a profile with erin's certificate, given the fetched CRL.
    sbx.ok(&["add", "erin", "--bundle", p(erin), "-H", &listen]);
    let f = doctor_finding(&sbx, &["erin", "--crl", p(&crl)], "client-cert-revoked");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains(&format!("listed in the CRL {}", p(&crl))),
        "{f:#}"
    );
}

#[test]
fn a_lapsed_crl_locks_everyone_out_and_a_fresh_one_lets_them_back() {
    let f = Front::start("lapsed", &["bob"], &[]);
    let sbx = &f.sbx;
    assert_success(&docker(sbx, "bob", &["version"]), "bob with a fresh CRL");
    // Time passes: the front's CRL is past its next update (an openssl-made
    // one stands in for it, since dctx refuses to install a lapsed CRL).
    std::fs::copy(openssl_lapsed_crl(sbx), &f.crl).unwrap();
    let out = pki_out(sbx, &["crl", "--check", p(&f.crl)]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let reload = Command::new("sh")
        .args(["-c", &f.reload_cmd()])
        .output()
        .unwrap();
    assert_success(&reload, "nginx -s reload");
    wait_for("the front to refuse bob", || {
        !docker(sbx, "bob", &["version"]).status.success()
    });
    let err = docker_refused(sbx, "bob", &["ps"]);
    assert!(
        err.contains("dctx front: client certificate refused: FAILED:CRL has expired"),
        "{err}"
    );
    let finding = doctor_finding(sbx, &["bob"], "client-cert-rejected");
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("past its next update, so it refuses every client"),
        "{finding:#}"
    );
    // A fresh CRL numbered above the lapsed one, and bob is back.
    pki(sbx, &["crl", "-o", p(&f.crl), "--reload", &f.reload_cmd()]);
    assert!(crl_number(&f.crl) > 0x50);
    wait_for("the front to let bob back in", || {
        docker(sbx, "bob", &["version"]).status.success()
    });
}

/// `dctx doctor ARGS --json` exits 3 (an error); its finding `code`.
fn doctor_finding(sbx: &Sandbox, args: &[&str], code: &str) -> serde_json::Value {
    let out = sbx
        .dctx()
        .arg("doctor")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("no {code} in {v:#}"))
}
