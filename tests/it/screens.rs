//! What a person sees: `ls`, `check`, `doctor`, `show` and `pki ls` run in a
//! real terminal (tmux, 80 and 120 columns), the whole screen compared with
//! a snapshot file in tests/it/snapshots/ so any layout change is a diff.
//! Ports, versions, latencies, fingerprints, times and temp paths are
//! redacted to same-width placeholders, so alignment is still checked.
//! The files are insta snapshots (support::snap): `INSTA_UPDATE=always`
//! rewrites them outside CI (review the diff).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::snap::{Filters, text_snapshot};
use crate::support::{Sandbox, TestCa, dockerd, free_port};

/// A tmux server of its own running bash in a `cols`×100 window.
struct Term {
    socket: String,
    /// Commands run so far: each waits for its own end marker.
    runs: std::cell::Cell<usize>,
}

static N: AtomicUsize = AtomicUsize::new(0);

impl Term {
    fn start(sb: &Sandbox, cols: usize) -> Self {
        let socket = format!(
            "dctx-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_dctx")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let t = Term {
            socket,
            runs: Default::default(),
        };
        let out = t
            .tmux()
            .args(["new-session", "-d", "-x", &cols.to_string(), "-y", "100"])
            // tmux sets PATH for a new pane itself: pass it through env(1).
            .arg("env")
            .arg(format!("HOME={}", sb.home.display()))
            .arg(format!("PATH={path}"))
            .arg("PS1=$ ")
            .args(["bash", "--norc", "--noprofile"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux ({e}): install tmux (.ci/test does)"));
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn capture(&self, args: &[&str]) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Clear the screen, type `cmd`, wait until it is done; the screen as
    /// the terminal shows it (`wrapped`), and with wrapped lines joined.
    fn run(&self, cmd: &str) -> (String, String) {
        let k = self.runs.get() + 1;
        self.runs.set(k);
        // Typed as DONE$((k+0)), printed as DONEk: only the output matches.
        let marker = format!("DONE{k}");
        let line = format!("clear; {cmd}; echo DONE$(({k}+0))");
        let out = self
            .tmux()
            .args(["send-keys", "-l", &line])
            .status()
            .unwrap();
        assert!(out.success());
        self.tmux().args(["send-keys", "Enter"]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.capture(&[]);
            if screen.lines().any(|l| l == marker) {
                let joined = self.capture(&["-J"]);
                return (before(&screen, &marker), before(&joined, &marker));
            }
            assert!(
                Instant::now() < deadline,
                "`{cmd}` did not finish; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The raw screen with escape sequences (colours).
    fn escapes(&self) -> String {
        self.capture(&["-e"])
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

fn before(screen: &str, marker: &str) -> String {
    let mut out = String::new();
    for l in screen.lines() {
        if l == marker {
            break;
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// Replace every match of `re` (a simple matcher) with a same-width mask.
fn mask(s: &str, find: impl Fn(&str) -> Option<(usize, usize)>, with: char) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((a, b)) = find(rest) {
        out.push_str(&rest[..a]);
        out.extend(std::iter::repeat_n(with, rest[a..b].chars().count()));
        rest = &rest[b..];
    }
    out.push_str(rest);
    out
}

/// The next run of `pred` chars of at least `min` length, after `prefix`.
fn run_after(s: &str, prefix: &str, min: usize, pred: fn(char) -> bool) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find(prefix) {
        let a = from + i + prefix.len();
        let len: usize = s[a..]
            .chars()
            .take_while(|c| pred(*c))
            .map(char::len_utf8)
            .sum();
        if len >= min {
            return Some((a, a + len));
        }
        from = a;
    }
    None
}

fn redact(s: &str, sb: &Sandbox) -> String {
    let d = dockerd();
    let mut s = s.replace(&d.version, &"#".repeat(d.version.len()));
    // The sandbox's random temp dir name, same width.
    let tmp = sb.tmp.path().display().to_string();
    s = s.replace(&tmp, &"T".repeat(tmp.len()));
    // Ports after a loopback address.
    s = mask(
        &s,
        |x| run_after(x, "127.0.0.1:", 2, |c| c.is_ascii_digit()),
        'P',
    );
    // Latencies ("12ms" in a table, "in 12 ms" in prose): the number
    // becomes N; in a table the padding after it keeps the column width.
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("ms") {
        let head = &rest[..i];
        let num_end = head.trim_end_matches(' ').len();
        let num_start = head[..num_end]
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .len();
        let digits = num_end - num_start;
        out.push_str(&rest[..num_start]);
        if digits > 0 {
            out.push('N');
            out.push_str(&rest[num_end..i + 2]);
            let after = &rest[i + 2..];
            if after.starts_with("  ") {
                out.push_str(&" ".repeat(digits - 1));
            }
        } else {
            out.push_str(&rest[num_start..i + 2]);
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    s = out;
    // Fingerprints and serials (hex with colons, or long hex runs).
    s = mask(
        &s,
        |x| {
            let b = x.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let len = x[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_hexdigit() || *c == ':')
                    .count();
                let hex = x[i..i + len]
                    .chars()
                    .filter(|c| c.is_ascii_hexdigit())
                    .count();
                // A long run, or a truncated one ("1200CD4A4…").
                if hex >= 16 || (hex >= 6 && x[i + len..].starts_with('…')) {
                    return Some((i, i + len));
                }
                i += len.max(1);
                while i < b.len() && !x.is_char_boundary(i) {
                    i += 1;
                }
            }
            None
        },
        'X',
    );
    // RFC 3339 times (2026-12-01T13:19:05Z).
    s = mask(
        &s,
        |x| {
            let b = x.as_bytes();
            (0..b.len().saturating_sub(19)).find_map(|i| {
                let w = &b[i..i + 20];
                let ok = w[4] == b'-'
                    && w[7] == b'-'
                    && w[10] == b'T'
                    && w[13] == b':'
                    && w[16] == b':'
                    && w[19] == b'Z'
                    && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
                        .iter()
                        .all(|&k| w[k].is_ascii_digit());
                ok.then_some((i, i + 20))
            })
        },
        'D',
    );
    // Day counts ("364d", "364 days"): one second between issuing and
    // looking turns 365 into 364.
    s = mask(
        &s,
        |x| {
            let b = x.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
                    let len = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let after = &x[i + len..];
                    let unit = after.starts_with(" day")
                        || (after.starts_with('d')
                            && !after[1..].starts_with(|c: char| c.is_ascii_alphanumeric()));
                    if unit {
                        return Some((i, i + len));
                    }
                    i += len;
                } else {
                    i += 1;
                }
            }
            None
        },
        'N',
    );
    // The daemon's API version: in check's API column, and after "API ".
    let api = crate::support::snap::daemon_api();
    s = s.replace(&format!(" {api} "), &format!(" {} ", "9".repeat(api.len())));
    // The daemon's API version.
    s = mask(
        &s,
        |x| run_after(x, "API ", 3, |c| c.is_ascii_digit() || c == '.'),
        '9',
    );
    s
}

/// Compare `actual` with tests/it/snapshots/it__screens__`name`.snap
/// (redacted already: same-width masks keep the alignment checked).
fn assert_screen(name: &str, actual: &str) {
    text_snapshot!(Filters::default(), name, actual);
}

/// Profiles for the screens: healthy, expiring client cert, unknown CA,
/// nothing listening, and a Docker context dctx did not write.
fn fleet() -> Sandbox {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    // Half a day past 10 days: "10d" whatever second it is looked at.
    let mut soon = crate::support::Leaf::client("soon");
    soon.not_after = time::OffsetDateTime::now_utc() + time::Duration::hours(10 * 24 + 12);
    let soon = d.ca.issue(&soon);
    let stranger_ca = TestCa::new("stranger CA");
    let stranger = stranger_ca.client("stranger");
    for (name, ca, leaf) in [
        ("expiring", &d.ca.cert_pem, &soon),
        ("stranger", &stranger_ca.cert_pem, &stranger),
    ] {
        let dir = sb.path(name);
        crate::support::write_bundle(&dir, ca, leaf);
        sb.ok(&[
            "add",
            name,
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &d.host,
        ]);
    }
    let down = format!("tcp://127.0.0.1:{}", free_port());
    let dir = sb.client_bundle();
    sb.ok(&[
        "add",
        "down",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &down,
    ]);
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            "foreign",
            "--docker",
            "host=unix:///var/run/foreign.sock",
        ])
        .output()
        .unwrap();
    crate::support::assert_success(&out, "docker context create foreign");
    sb.ok(&["use", "prod"]);
    sb
}

/// `cmd` at 80 and 120 columns, each screen snapshotted as `name`-COLS.
/// `fits`: dctx itself fits every line to the width (the terminal wrapped
/// nothing).
fn screens(sb: &Sandbox, name: &str, cmd: &str, fits: bool) {
    for cols in [80, 120] {
        let term = Term::start(sb, cols);
        let (screen, joined) = term.run(cmd);
        assert!(
            screen.lines().count() < 95,
            "{cmd}: scrolled off the screen"
        );
        if fits {
            assert_eq!(screen, joined, "{cmd} at {cols} columns wrapped a line");
        }
        assert_screen(&format!("{name}-{cols}"), &redact(&joined, sb));
    }
}

#[test]
fn ls_screens() {
    let sb = fleet();
    screens(&sb, "ls", "dctx ls", true);
    // Piped: the same layout at full width (what fits in 120 columns here),
    // no colour, no trailing blanks.
    let piped = sb.ok(&["ls"]);
    assert_screen("ls-120", &redact(&piped, &sb));
    assert!(!piped.contains('\x1b') && piped.lines().all(|l| l == l.trim_end()));
    // Colour on a terminal: the expiring client cert in yellow, and none
    // with NO_COLOR or --color never.
    let term = Term::start(&sb, 120);
    term.run("dctx ls");
    let raw = term.escapes();
    assert!(raw.contains("\x1b[33m10d"), "{raw:?}");
    term.run("NO_COLOR=1 dctx ls");
    assert!(!term.escapes().contains("\x1b[33m"), "NO_COLOR ignored");
    term.run("TERM=dumb dctx ls");
    assert!(!term.escapes().contains("\x1b[33m"), "TERM=dumb ignored");
    term.run("NO_COLOR=1 dctx --color always ls");
    assert!(
        term.escapes().contains("\x1b[33m10d"),
        "--color always ignored"
    );
    term.run("dctx --color never ls");
    assert!(
        !term.escapes().contains("\x1b[33m"),
        "--color never ignored"
    );
    // Piped, `--color always` still colours (for `| less -R`).
    let forced = sb.ok(&["--color", "always", "ls"]);
    assert!(forced.contains("\x1b[33m10d\x1b[0m"), "{forced:?}");
}

#[test]
fn check_screens() {
    let sb = fleet();
    screens(&sb, "check", "dctx check --timeout 10", true);
    // (check-80 shows the `dctx doctor …` hints for stranger and down.)
    let term = Term::start(&sb, 80);
    term.run("dctx check --timeout 10");
    let raw = term.escapes();
    assert!(raw.contains("\x1b[31mfail"), "{raw:?}");
    // --wide: every column (SERVER CERT, API…) even at 80 (the terminal
    // wraps, that is the user's choice).
    let (_, wide) = term.run("dctx check --timeout 10 --wide");
    assert_screen("check-wide-80", &redact(&wide, &sb));
}

#[test]
fn doctor_show_and_pki_screens() {
    let sb = fleet();
    screens(
        &sb,
        "doctor-stranger",
        "dctx doctor stranger --timeout 10",
        true,
    );
    // show is being rewritten (lead): its Valid line is 81 wide at 80.
    screens(&sb, "show-prod", "dctx show prod", false);
    sb.ok(&["pki", "init", "--cn", "screens CA"]);
    sb.ok(&[
        "pki",
        "server",
        "--host",
        "docker.example.com",
        "--host",
        "10.0.0.5",
        "--out",
        "srv",
    ]);
    sb.ok(&["pki", "client", "alice", "--out", "alice.tar"]);
    screens(&sb, "pki-ls", "dctx pki ls", true);
}

/// JSON in one style across commands: every time an RFC 3339 string (no
/// epoch integers, as `pki ls --json` printed before), every enum a stable
/// lowercase word.
#[test]
fn json_times_are_rfc3339_and_enums_lowercase_words() {
    let sb = fleet();
    sb.ok(&["pki", "init"]);
    sb.ok(&["pki", "client", "alice", "--out", "alice.tar"]);
    fn walk(v: &serde_json::Value, key: &str, what: &str, times: &mut usize) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(v, k, what, times);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, key, what, times)),
            serde_json::Value::Number(n) => {
                assert!(
                    n.as_i64().is_none_or(|n| n.abs() < 1_000_000_000),
                    "{what}: {key} = {n} looks like an epoch time"
                );
            }
            serde_json::Value::String(s) => {
                if key.starts_with("not_") || key.ends_with("_at") || key.contains("not_after") {
                    let b = s.as_bytes();
                    assert!(
                        b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z',
                        "{what}: {key} = {s:?} is not RFC 3339"
                    );
                    *times += 1;
                }
                if [
                    "status",
                    "severity",
                    "tls",
                    "key_store",
                    "kind",
                    "code",
                    "phase",
                ]
                .contains(&key)
                {
                    assert!(
                        !s.is_empty()
                            && s.chars().all(|c| c.is_ascii_lowercase()
                                || c.is_ascii_digit()
                                || c == '-'
                                || c == '_'),
                        "{what}: {key} = {s:?} is not a lowercase word"
                    );
                }
            }
            _ => {}
        }
    }
    for args in [
        &["ls", "--json"][..],
        &["show", "prod", "--json"],
        &["pki", "ls", "--json"],
        &["doctor", "expiring", "--json"],
    ] {
        let text = sb.ok(args);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut times = 0;
        walk(&v, "", &args.join(" "), &mut times);
        assert!(times > 0, "{}: no times found in {text}", args.join(" "));
    }
    // check exits 3 here (failing daemons) but prints its JSON all the same.
    let out = sb
        .dctx()
        .args(["check", "--json", "--timeout", "10"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut times = 0;
    walk(&v, "", "check --json", &mut times);
    assert!(times > 0);
}

/// One expiry form: `add --force`, `ls` and `show` give an expired client
/// certificate the same day count in the same words (add used to print
/// "expires in EXPIRED 3 days ago" while ls said "EXPIRED (4 days ago)").
#[test]
fn expiry_reads_the_same_in_add_ls_and_show() {
    let d = dockerd();
    let sb = Sandbox::new();
    // Expired 3.5 days ago: no command can land on a day boundary.
    let mut leaf = crate::support::Leaf::client("old").days(-3);
    leaf.not_after -= time::Duration::hours(12);
    let old = d.ca.issue(&leaf);
    let dir = sb.path("old");
    crate::support::write_bundle(&dir, &d.ca.cert_pem, &old);
    let add = sb.ok(&[
        "add",
        "old",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
        "--force",
    ]);
    let days = |text: &str, unit: &str| -> String {
        let at = text
            .find("expired ")
            .unwrap_or_else(|| panic!("no \"expired \" in {text}"));
        let rest = &text[at + "expired ".len()..];
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        assert!(
            rest[n.len()..].starts_with(unit),
            "{unit:?} after the count in {text}"
        );
        n
    };
    let n = days(&add, " days ago");
    // Whole days left, rounded down (as JSON's days_left): -3.5 → -4.
    assert_eq!(n, "4", "{add}");
    assert!(
        !add.contains("EXPIRED") && !add.contains("expires in expired"),
        "{add}"
    );
    assert_eq!(days(&sb.ok(&["ls"]), "d ago"), n);
    assert_eq!(days(&sb.ok(&["show", "old"]), " days ago"), n);
}

/// At 80 columns with a 15-character name, `ls` keeps what it is for: an
/// expired client cert and a drifted context's reason stay on screen (the
/// endpoint is shortened first), and the drift reads once per kind.
#[test]
fn ls_at_80_keeps_expiry_and_drift() {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    // Expired 704.5 days ago: "705d" (days left rounded down) whatever
    // second it is looked at.
    let mut leaf = crate::support::Leaf::client("old").days(-704);
    leaf.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1100);
    leaf.not_after -= time::Duration::hours(12);
    let old = d.ca.issue(&leaf);
    let dir = sb.path("old");
    crate::support::write_bundle(&dir, &d.ca.cert_pem, &old);
    sb.ok(&[
        "add",
        "staging-eu-west",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
        "--force",
    ]);
    sb.add_client_profile("drifted", &[]);
    let tls = sb
        .docker_config()
        .join("contexts/tls")
        .join(crate::truth::hex_sha256("drifted"))
        .join("docker");
    std::fs::remove_file(tls.join("ca.pem")).unwrap();
    std::fs::remove_file(tls.join("key.pem")).unwrap();
    screens(&sb, "ls-reasons", "dctx ls", true);
    let term = Term::start(&sb, 80);
    let (screen, _) = term.run("dctx ls");
    let row = |name: &str| {
        screen
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{screen}"))
            .to_string()
    };
    assert!(
        row("staging-eu-west").contains("expired 705d ago"),
        "{screen}"
    );
    let drifted = row("drifted");
    assert!(drifted.contains("drift: tls-removed"), "{screen}");
    assert!(!drifted.contains("tls-removed, tls-removed"), "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");
}
