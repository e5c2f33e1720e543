//! The closed loop for every fix dctx prints (issue 18): each fault is built
//! the way the world builds it (Docker's openssl guide: an encrypted CA key,
//! `-days 365`, one forgotten or wrong `-extfile`; RSA and EC), `dctx doctor`
//! runs in an 80-column pty and piped, the fix is taken exactly as printed,
//! run with bash in the directory the fix names, the daemon-side step it
//! names is applied to a dedicated real dockerd, and `dctx check` must then
//! be ok with no finding at all.
//!
//! Key sizes: 2048-bit RSA where the size is not the point (speed on a
//! shared machine); the name-mismatch case uses the guide's 4096 bits.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use dctx::probe::Code;
use dctx::probe::diagnose::{BUNDLE_DIR, CLIENT_DIR, DAEMON_DIR, SERVER_DIR};
use dctx::probe::finding::FixKind;

use crate::support::procs::{quiet, scratch_dir, spawn_owned, wait_tcp};
use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, free_port};

/// Every code whose fix is a command, and the test below that runs it.
const CLOSED_LOOP: &[(Code, &str)] = &[
    (Code::NameMismatch, "name_mismatch_rsa4096"),
    (
        Code::CnOnly,
        "forgotten_extfile_v1_ec / extfile_without_san",
    ),
    (Code::ServerCertExpired, "server_cert_expired"),
    (Code::ServerCertExpiring, "server_cert_expiring"),
    (Code::ServerCertBadUsage, "server_cert_client_eku"),
    (Code::ClientCertExpired, "client_cert_expired_ec"),
    (Code::ClientCertExpiring, "client_cert_expiring"),
    (Code::ClientCertBadUsage, "client_cert_without_client_auth"),
    (Code::ClientCertMissing, "client_cert_missing"),
    (Code::ConnectionRefused, "connection_refused"),
    (Code::PlainHttp, "plain_http_daemon"),
    (Code::ClientAuthNotRequired, "client_auth_not_required"),
    (Code::TlsExpected, "tls_expected"),
];

#[test]
fn registry_and_closed_loop_list_are_complete() {
    let commands: BTreeSet<&str> = Code::ALL
        .iter()
        .filter(|c| c.fix_kind() == FixKind::Commands)
        .map(|c| c.as_str())
        .collect();
    let tested: BTreeSet<&str> = CLOSED_LOOP.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        commands, tested,
        "every command fix is closed-loop tested here, and only those are marked commands"
    );
    // Every other code is marked advice (none left unclassified).
    let advice = Code::ALL
        .iter()
        .filter(|c| c.fix_kind() == FixKind::Advice)
        .count();
    assert_eq!(advice + commands.len(), Code::ALL.len());
    // `dctx explain` reads the same registry.
    let sb = Sandbox::new();
    let all: serde_json::Value = serde_json::from_str(&sb.ok(&["explain", "--json"])).unwrap();
    for e in all.as_array().unwrap() {
        let code = e["code"].as_str().unwrap();
        let want = if commands.contains(code) {
            "commands"
        } else {
            "advice"
        };
        assert_eq!(e["fix_kind"], want, "{code}");
    }
    eprintln!(
        "closed-loop tested command fixes: {}/{}",
        tested.len(),
        commands.len()
    );
}

const PW: &str = "recipe-pass";

#[derive(Clone, Copy, PartialEq)]
enum Key {
    /// `openssl genrsa -aes256` in OpenSSL 1.1's legacy PEM form.
    Rsa(u32),
    /// An encrypted PKCS#8 P-256 key (`openssl genpkey -aes256`).
    Ec,
}

/// How the guide's steps went this time.
struct Recipe {
    key: Key,
    /// extfile.cnf for the server (None: `-extfile` forgotten).
    server_ext: Option<&'static str>,
    /// `-days` for the server certificate (0 stands in for a year passing).
    server_days: u32,
    client_ext: &'static str,
    client_days: u32,
}

impl Default for Recipe {
    fn default() -> Self {
        Recipe {
            key: Key::Rsa(2048),
            server_ext: Some(
                "subjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
            ),
            server_days: 365,
            client_ext: "extendedKeyUsage = clientAuth\n",
            client_days: 365,
        }
    }
}

/// Docker's "Protect the Docker daemon socket" steps, everything in one
/// directory with the guide's names.
const RECIPE_SH: &str = r#"
set -euo pipefail
cd "$DIR"
if [ "$KEY" = rsa ]; then
  openssl genrsa -aes256 -traditional -passout "pass:$PW" -out ca-key.pem "$BITS"
  openssl genrsa -out server-key.pem 2048
  openssl genrsa -out key.pem 2048
else
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass "pass:$PW" -out ca-key.pem
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem
fi
openssl req -new -x509 -days 365 -key ca-key.pem -passin "pass:$PW" -sha256 -subj "/CN=recipe CA" -out ca.pem
openssl req -subj "/CN=localhost" -sha256 -new -key server-key.pem -out server.csr
ext=()
if [ -n "$SERVER_EXT" ]; then printf '%s' "$SERVER_EXT" > extfile.cnf; ext=(-extfile extfile.cnf); fi
openssl x509 -req -days "$SERVER_DAYS" -sha256 -in server.csr -CA ca.pem -CAkey ca-key.pem -passin "pass:$PW" -CAcreateserial -out server-cert.pem "${ext[@]}"
openssl req -subj '/CN=client' -new -key key.pem -out client.csr
printf '%s' "$CLIENT_EXT" > extfile-client.cnf
openssl x509 -req -days "$CLIENT_DAYS" -sha256 -in client.csr -CA ca.pem -CAkey ca-key.pem -passin "pass:$PW" -CAcreateserial -out cert.pem -extfile extfile-client.cnf
chmod 0400 ca-key.pem key.pem server-key.pem
"#;

/// One fault: the recipe's files, a sandbox and a dedicated daemon.
struct World {
    sb: Sandbox,
    /// The guide's directory: CA, server and client files together.
    dir: PathBuf,
    /// The client's copy (ca.pem, cert.pem, key.pem), as handed out.
    client_dir: PathBuf,
    port: u16,
    /// The running dockerd and its state dir (data and exec roots).
    daemon: Option<(Child, PathBuf)>,
    runs: usize,
    tag: String,
}

impl World {
    fn new(tag: &str, r: &Recipe) -> World {
        let sb = Sandbox::new();
        let dir = sb.path("docker-ca");
        std::fs::create_dir_all(&dir).unwrap();
        let (key, bits) = match r.key {
            Key::Rsa(b) => ("rsa", b.to_string()),
            Key::Ec => ("ec", String::new()),
        };
        let out = Command::new("bash")
            .arg("-c")
            .arg(RECIPE_SH)
            .env("DIR", &dir)
            .env("PW", PW)
            .env("KEY", key)
            .env("BITS", bits)
            .env("SERVER_EXT", r.server_ext.unwrap_or(""))
            .env("SERVER_DAYS", r.server_days.to_string())
            .env("CLIENT_EXT", r.client_ext)
            .env("CLIENT_DAYS", r.client_days.to_string())
            .output()
            .unwrap();
        assert_success(&out, "the openssl recipe");
        if r.server_days == 0 || r.client_days == 0 {
            // `-days 0` ends now: wait until the clock is past it, so the
            // certificate is expired, not in its last second.
            let ends = |f: &str| {
                let pem = std::fs::read_to_string(dir.join(f)).unwrap();
                dctx::pki::inspect::certs_from_pem(pem.as_bytes())[0].not_after
            };
            let end = ends("server-cert.pem").min(ends("cert.pem"));
            while std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                <= end
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let client_dir = sb.path("client");
        std::fs::create_dir_all(&client_dir).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::copy(dir.join(f), client_dir.join(f)).unwrap();
        }
        World {
            sb,
            dir,
            client_dir,
            port: free_port(),
            daemon: None,
            runs: 0,
            tag: tag.into(),
        }
    }

    fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// `dctx add fault` of the client's files but the flags in `omit`,
    /// dialling 127.0.0.1, plus `extra`.
    fn add_profile(&self, omit: &[&str], extra: &[&str]) {
        let p = |f: &str| self.client_dir.join(f).to_str().unwrap().to_string();
        let mut args = vec!["add".to_string(), "fault".into()];
        for (flag, f) in [
            ("--ca", "ca.pem"),
            ("--cert", "cert.pem"),
            ("--key", "key.pem"),
        ] {
            if !omit.contains(&flag) {
                args.extend([flag.to_string(), p(f)]);
            }
        }
        args.extend(["--host".into(), self.host()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.sb.ok(&args);
    }

    /// dockerd started by bash in the guide's directory with `flags` (as an
    /// admin types them), plus the suite's isolation flags.
    fn start_daemon(&mut self, flags: &str) {
        self.stop_daemon();
        self.runs += 1;
        let state = scratch_dir(&format!("advice-{}-{}", self.tag, self.runs));
        let isolation = spawn_dockerd_flags(&state);
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("exec {flags} {isolation}"))
            .current_dir(&self.dir);
        let log = state.join("dockerd.log");
        let mut child = spawn_owned(quiet(cmd, &log));
        wait_tcp(
            &format!("127.0.0.1:{}", self.port),
            &mut child,
            "dockerd",
            &log,
        );
        self.daemon = Some((child, state));
    }

    /// The usual start: the recipe's files, dockerd --tlsverify on them,
    /// and a profile with every file the recipe made.
    fn serving(tag: &str, r: &Recipe) -> World {
        let mut w = World::new(tag, r);
        w.start_tls_daemon();
        w.add_profile(&[], &[]);
        w
    }

    /// The guide's daemon: `dockerd --tlsverify …` on the profile's address.
    fn start_tls_daemon(&mut self) {
        let flags = format!(
            "dockerd --tlsverify --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem -H=tcp://127.0.0.1:{}",
            self.port
        );
        self.start_daemon(&flags);
    }

    /// Stopped as its unit would stop it, its mounts checked gone (also
    /// when a failing test drops the World).
    fn stop_daemon(&mut self) {
        if let Some((mut c, state)) = self.daemon.take() {
            crate::support::dockerd::stop_dockerd(&mut c, &state);
        }
    }

    /// `dctx doctor fault --json`.
    fn doctor_json(&self) -> serde_json::Value {
        let out = self
            .sb
            .dctx()
            .args(["doctor", "fault", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// `dctx doctor fault` in an 80-column pty (script(1)), as a person sees it.
    fn doctor_80(&self) -> String {
        let out = self
            .sb
            .cmd("script")
            .args(["-qec"])
            .arg(format!(
                "stty cols 80 rows 200; {} doctor fault",
                env!("CARGO_BIN_EXE_dctx")
            ))
            .arg("/dev/null")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    }

    fn doctor_piped(&self) -> String {
        let out = self.sb.dctx().args(["doctor", "fault"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    /// `dctx check fault --json` and its exit code.
    fn check(&self) -> (Option<i32>, serde_json::Value) {
        let out = self
            .sb
            .dctx()
            .args(["check", "fault", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v[0].clone())
    }

    /// The working directory a fix names.
    fn fix_dir(&self, named: &str) -> &Path {
        match named {
            SERVER_DIR | CLIENT_DIR | DAEMON_DIR => &self.dir,
            BUNDLE_DIR => &self.client_dir,
            other => panic!("a fix names a directory this test does not know: {other}"),
        }
    }

    /// Run `commands` with bash in `dir`, without a terminal, the CA key's
    /// passphrase on stdin for openssl's prompt.
    fn run_fix(&self, dir: &Path, commands: &[String]) -> Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_dctx")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = self
            .sb
            .cmd("setsid")
            .args(["bash", "-euo", "pipefail", "-c"])
            .arg(commands.join("\n"))
            .env("PATH", path)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PW}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// The isolation flags the suite's spawn_dockerd passes (own data and exec
/// roots, no networking changes), as one shell string.
fn spawn_dockerd_flags(state: &Path) -> String {
    [
        "--iptables=false".to_string(),
        "--ip6tables=false".into(),
        "--bridge=none".into(),
        "--storage-driver=vfs".into(),
        format!("--data-root={}", state.join("root").display()),
        format!("--exec-root={}", state.join("exec").display()),
        format!("--pidfile={}", state.join("dockerd.pid").display()),
    ]
    .join(" ")
}

/// The commands printed under `code`'s `fix:` line: lines at the command
/// column, `\` continuations joined as a shell joins them; the alternatives
/// after `or:` separately.
fn printed_commands(text: &str, code: &str) -> (Vec<String>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            let t = l.trim_start();
            ["✗ ", "! ", "i "]
                .iter()
                .filter_map(|m| t.strip_prefix(m))
                .any(|r| r == code || r.starts_with(&format!("{code}:")))
        })
        .unwrap_or_else(|| panic!("no {code} finding in:\n{text}"));
    let fix = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("        fix: "))
            .unwrap_or_else(|| panic!("no fix for {code}:\n{text}"));
    let (mut primary, mut alt) = (Vec::new(), Vec::new());
    let mut in_alt = false;
    let mut cur: Option<String> = None;
    for l in &lines[fix + 1..] {
        if let Some(c) = cur.as_mut() {
            // A continuation of the command above.
            c.push(' ');
            c.push_str(l.trim_start().trim_end_matches(" \\"));
            if !l.ends_with(" \\") {
                let done = cur.take().unwrap();
                if in_alt { &mut alt } else { &mut primary }.push(done);
            }
            continue;
        }
        if *l == "        or:" {
            in_alt = true;
            continue;
        }
        let is_command =
            l.len() > 10 && l.starts_with(&" ".repeat(10)) && !l[10..].starts_with(' ');
        let is_prose = l.starts_with(&" ".repeat(13)) && !l.starts_with(&" ".repeat(14));
        if is_prose && !in_alt && primary.is_empty() {
            continue; // the fix's words, wrapped
        }
        if !is_command {
            break;
        }
        let body = l[10..].trim_end_matches(" \\").to_string();
        if l.ends_with(" \\") {
            cur = Some(body);
        } else if in_alt {
            alt.push(body);
        } else {
            primary.push(body);
        }
    }
    (primary, alt)
}

/// The loop for one fault whose diagnosis is `code`: doctor (80 columns,
/// piped, JSON) prints the same commands; they run as printed in the named
/// directory; `after_fix` applies the daemon-side step; check is then ok.
fn close_the_loop(w: &mut World, code: Code, after_fix: impl FnOnce(&mut World, &[String])) {
    let json = w.doctor_json();
    let findings = json["findings"].as_array().unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == code.as_str())
        .unwrap_or_else(|| panic!("no {code} in {json:#}"));
    // One root cause, one finding: nothing else fails beside it.
    let others: Vec<&str> = findings
        .iter()
        .filter(|g| g["code"] != code.as_str() && g["severity"] != "info")
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert!(others.is_empty(), "{code} came with {others:?}: {json:#}");
    let commands: Vec<String> = f["fix_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(!commands.is_empty(), "{code}: no fix_commands: {f:#}");
    let alternatives: Vec<String> = f["fix_alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(
        !commands.iter().any(|c| alternatives.contains(c)),
        "mixed lists: {f:#}"
    );
    // The terminal and the pipe show exactly these commands, none wrapped.
    let screen = w.doctor_80();
    assert!(
        screen
            .lines()
            .take_while(|l| !l.starts_with("status: "))
            .all(|l| l.chars().count() <= 80),
        "a line wider than the terminal:\n{screen}"
    );
    let (shown, shown_alt) = printed_commands(&screen, code.as_str());
    assert_eq!(shown, commands, "80 columns:\n{screen}");
    assert_eq!(shown_alt, alternatives, "80 columns:\n{screen}");
    let piped = w.doctor_piped();
    let (shown, _) = printed_commands(&piped, code.as_str());
    assert_eq!(shown, commands, "piped:\n{piped}");
    // The directory the fix names, then the commands as printed.
    let named = f["fix_dir"].as_str().unwrap_or_else(|| panic!("{f:#}"));
    assert!(
        f["fix"].as_str().unwrap().contains(named),
        "the words name the directory: {f:#}"
    );
    let dir = w.fix_dir(named).to_path_buf();
    let out = w.run_fix(&dir, &commands);
    assert_success(&out, &format!("the printed {code} fix"));
    after_fix(w, &commands);
    let (status, report) = w.check();
    assert_eq!(report["status"], "ok", "after the {code} fix: {report:#}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(status, Some(0));
}

/// The daemon-side step "restart dockerd so it loads the new certificate".
fn restart(w: &mut World, _: &[String]) {
    w.start_tls_daemon();
}

/// Nothing to do on the daemon: the fix was on this side.
fn nothing(_: &mut World, _: &[String]) {}

/// The printed `dockerd …` command is the daemon-side step: run it.
fn run_printed_dockerd(w: &mut World, commands: &[String]) {
    let dockerd = commands
        .iter()
        .find(|c| c.starts_with("dockerd "))
        .expect("a dockerd command");
    assert!(
        dockerd.contains("-H tcp://127.0.0.1:") && dockerd.contains("--tlsverify"),
        "binds the dialled address with TLS: {dockerd}"
    );
    assert!(!dockerd.contains("0.0.0.0"), "{dockerd}");
    let d = dockerd.clone();
    w.start_daemon(&d);
}

/// The printed fix ran already as part of the loop (bash would block on a
/// foreground dockerd): the loop runs everything but the dockerd line, and
/// this step starts it.
fn dockerd_fix_loop(w: &mut World, code: Code) {
    // Run the printed dockerd through the daemon step only.
    let json = w.doctor_json();
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code.as_str())
        .unwrap_or_else(|| panic!("no {code} in {json:#}"))
        .clone();
    let commands: Vec<String> = f["fix_commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(commands.len(), 1, "{f:#}");
    let screen = w.doctor_80();
    let (shown, _) = printed_commands(&screen, code.as_str());
    assert_eq!(shown, commands, "80 columns:\n{screen}");
    let (shown, _) = printed_commands(&w.doctor_piped(), code.as_str());
    assert_eq!(shown, commands);
    assert_eq!(f["fix_dir"], DAEMON_DIR);
    // dockerd runs in the foreground: the daemon step runs the printed line
    // in the named directory (with the suite's isolation flags appended).
    run_printed_dockerd(w, &commands);
    let (status, report) = w.check();
    assert_eq!(report["status"], "ok", "after the {code} fix: {report:#}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(status, Some(0));
}

#[test]
fn name_mismatch_rsa4096() {
    // The guide's SAN without the loopback IP the profile dials.
    let mut w = World::serving(
        "name",
        &Recipe {
            key: Key::Rsa(4096),
            server_ext: Some("subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n"),
            ..Recipe::default()
        },
    );
    let json = w.doctor_json();
    let f = &json["findings"][0];
    let cmds = f["fix_commands"].to_string();
    // Keeps the name it had, adds the dialled one, stays inside the CA.
    assert!(cmds.contains("DNS:localhost,IP:127.0.0.1"), "{f:#}");
    assert!(!cmds.contains("-days 825"), "{f:#}");
    close_the_loop(&mut w, Code::NameMismatch, restart);
    // The reissued certificate still holds every old name.
    let text = std::fs::read_to_string(w.dir.join("server-cert.pem")).unwrap();
    let info = dctx::pki::inspect::certs_from_pem(text.as_bytes()).remove(0);
    assert_eq!(info.sans, ["DNS:localhost", "IP:127.0.0.1"]);
    // …and does not outlive the recipe's 365-day CA.
    let ca = std::fs::read_to_string(w.dir.join("ca.pem")).unwrap();
    let ca = dctx::pki::inspect::certs_from_pem(ca.as_bytes()).remove(0);
    assert!(info.not_after <= ca.not_after, "{info:?} vs {ca:?}");
}

/// The `or:` route of a reissue fix, `dctx pki --dir .` with the recipe's
/// legacy-encrypted CA key (OpenSSL 1.1's `genrsa -aes256` form), run as
/// printed in a terminal where the passphrase is typed.
#[test]
fn reissue_alternative_signs_with_the_recipes_encrypted_key() {
    let mut w = World::new(
        "alt",
        &Recipe {
            server_ext: Some("extendedKeyUsage = serverAuth\n"),
            ..Recipe::default()
        },
    );
    let key = std::fs::read_to_string(w.dir.join("ca-key.pem")).unwrap();
    assert!(key.contains("Proc-Type: 4,ENCRYPTED"), "{key}");
    w.start_tls_daemon();
    w.add_profile(&[], &[]);
    let json = w.doctor_json();
    let f = &json["findings"][0];
    assert_eq!(f["code"], "cn-only", "{json:#}");
    let alt = f["fix_alternatives"][0].as_str().unwrap().to_string();
    assert!(alt.starts_with("dctx pki --dir . server "), "{alt}");
    let bin = Path::new(env!("CARGO_BIN_EXE_dctx")).parent().unwrap();
    let mut child =
        w.sb.cmd("script")
            .args(["-qec"])
            .arg(format!("PATH={}:$PATH; {alt}", bin.display()))
            .arg("/dev/null")
            .current_dir(&w.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    // Typed at the prompt: the pty holds the line until dctx reads it.
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(format!("{PW}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_success(&out, &alt);
    // Strict DER: Python's cryptography parses every extension of what
    // dctx issued (an explicit CA:FALSE default would make it raise).
    let py = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys; from cryptography import x509; \
             c = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read()); \
             names = [e.oid._name for e in c.extensions]; \
             assert 'basicConstraints' not in names, names; print(names)",
        )
        .arg(w.dir.join("server-cert.pem"))
        .output()
        .unwrap();
    assert_success(&py, "python3 cryptography parses dctx's certificate");
    restart(&mut w, &[]);
    let (status, report) = w.check();
    assert_eq!(report["status"], "ok", "{report:#}");
    assert_eq!(status, Some(0));
}

#[test]
fn no_ca_error_names_the_users_own_ca() {
    let sb = Sandbox::new();
    // Refused, pointing at `dctx pki --dir DIR` with the user's ca-key.pem;
    // the help says the same.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["pki", "server", "--host", "127.0.0.1", "--out", "x"]),
        "pki-without-ca"
    );
    dctx_snapshot!(f, sb.dctx_cmd(&["pki", "--help"]), "pki-help");
}

#[test]
fn forgotten_extfile_v1_ec() {
    let mut w = World::serving(
        "v1",
        &Recipe {
            key: Key::Ec,
            server_ext: None,
            ..Recipe::default()
        },
    );
    // One root cause, one finding, and no compatibility echo of it.
    let json = w.doctor_json();
    let errors: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["cn-only"], "{json:#}");
    let piped = w.doctor_piped();
    assert!(!piped.contains("! v1-certificate"), "{piped}");
    assert!(!piped.contains("! cn-only ("), "{piped}");
    close_the_loop(&mut w, Code::CnOnly, restart);
}

#[test]
fn extfile_without_san() {
    let mut w = World::serving(
        "nosan",
        &Recipe {
            server_ext: Some("extendedKeyUsage = serverAuth\n"),
            ..Recipe::default()
        },
    );
    close_the_loop(&mut w, Code::CnOnly, restart);
}

#[test]
fn server_cert_expired() {
    let mut w = World::serving(
        "srvexp",
        &Recipe {
            server_days: 0,
            ..Recipe::default()
        },
    );
    let text = w.doctor_piped();
    // Whole days rounded down, as everywhere: seconds ago is "1d ago".
    assert!(text.contains("expired 1d ago"), "{text}");
    assert!(!text.contains("-1 days"), "{text}");
    close_the_loop(&mut w, Code::ServerCertExpired, restart);
}

#[test]
fn server_cert_expiring() {
    let mut w = World::serving(
        "srvsoon",
        &Recipe {
            server_days: 10,
            ..Recipe::default()
        },
    );
    close_the_loop(&mut w, Code::ServerCertExpiring, restart);
}

#[test]
fn server_cert_client_eku() {
    let mut w = World::serving(
        "srveku",
        &Recipe {
            server_ext: Some(
                "subjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = clientAuth\n",
            ),
            ..Recipe::default()
        },
    );
    close_the_loop(&mut w, Code::ServerCertBadUsage, restart);
}

#[test]
fn client_cert_expired_ec() {
    let mut w = World::new(
        "clexp",
        &Recipe {
            key: Key::Ec,
            client_days: 0,
            ..Recipe::default()
        },
    );
    w.start_tls_daemon();
    // Imported when it was valid; `add` refuses an expired one unless forced.
    w.add_profile(&[], &["--force"]);
    // One form for expiry: "expired 1d ago", never "-1 days left".
    // Whole-output snapshots would carry the compatibility notes, which
    // depend on the openssl that made the fixtures: words checked here.
    let text = w.doctor_piped();
    assert!(
        text.contains("client cert client (expired 1d ago)"),
        "{text}"
    );
    assert!(!text.contains("-1 days"), "{text}");
    close_the_loop(&mut w, Code::ClientCertExpired, nothing);
}

#[test]
fn client_cert_expiring() {
    let mut w = World::serving(
        "clsoon",
        &Recipe {
            client_days: 10,
            ..Recipe::default()
        },
    );
    close_the_loop(&mut w, Code::ClientCertExpiring, nothing);
}

#[test]
fn client_cert_without_client_auth() {
    let mut w = World::new(
        "cleku",
        &Recipe {
            client_ext: "extendedKeyUsage = emailProtection\n",
            ..Recipe::default()
        },
    );
    w.start_tls_daemon();
    // An S/MIME-style EKU (a copied template): `add` refuses it unless
    // forced, and someone forced it. (A serverAuth-only one is refused as a
    // server certificate even then.)
    w.add_profile(&[], &["--force"]);
    close_the_loop(&mut w, Code::ClientCertBadUsage, nothing);
}

#[test]
fn client_cert_missing() {
    let mut w = World::new("clmiss", &Recipe::default());
    w.start_tls_daemon();
    w.add_profile(&["--cert", "--key"], &[]);
    close_the_loop(&mut w, Code::ClientCertMissing, nothing);
}

#[test]
fn tls_expected() {
    let mut w = World::new("plainprof", &Recipe::default());
    w.start_tls_daemon();
    let host = w.host();
    w.sb.ok(&["add", "fault", "--host", &host]);
    close_the_loop(&mut w, Code::TlsExpected, nothing);
}

#[test]
fn connection_refused() {
    let mut w = World::new("refused", &Recipe::default());
    w.add_profile(&[], &[]);
    dockerd_fix_loop(&mut w, Code::ConnectionRefused);
}

#[test]
fn plain_http_daemon() {
    let mut w = World::new("plainhttp", &Recipe::default());
    let flags = format!("dockerd -H=tcp://127.0.0.1:{}", w.port);
    w.start_daemon(&flags);
    w.add_profile(&[], &[]);
    dockerd_fix_loop(&mut w, Code::PlainHttp);
}

/// dockerd with verification turned off (`--tls --tlsverify=false`): root
/// for whoever reaches the port, so an error and exit 3; the printed
/// dockerd line turns it back on.
#[test]
fn client_auth_not_required() {
    let mut w = World::new("noverify", &Recipe::default());
    let flags = format!(
        "dockerd --tls --tlsverify=false --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem -H=tcp://127.0.0.1:{}",
        w.port
    );
    w.start_daemon(&flags);
    w.add_profile(&[], &[]);
    let (status, report) = w.check();
    assert_eq!(report["status"], "fail", "{report:#}");
    assert_eq!(report["findings"][0]["code"], "client-auth-not-required");
    assert_eq!(report["findings"][0]["severity"], "error");
    assert_eq!(status, Some(3));
    dockerd_fix_loop(&mut w, Code::ClientAuthNotRequired);
}
