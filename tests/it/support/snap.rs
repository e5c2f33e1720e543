//! Whole-output snapshots with insta, as uv's `uv_snapshot!`: a command's
//! exit status, stdout and stderr in one text, compared with a file in
//! tests/it/snapshots/. What differs between runs or machines (temp paths,
//! ports, times, serials and fingerprints, pids, the installed dockerd's
//! version) is replaced by a `[NAME]` placeholder; everything else is shown.
//!
//! Updating: `INSTA_UPDATE=always cargo test …` (or `cargo insta review`),
//! then review the diff. Under CI a mismatch or a missing file fails and
//! nothing is written: insta's own rule (CI set → no update) plus
//! [`refuse_shortcuts_under_ci`], since insta would still honour
//! INSTA_UPDATE=always and INSTA_FORCE_PASS there.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Once;

use super::{Sandbox, dockerd};

/// Where every snapshot file lives.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/snapshots");

/// Ordered (regex, replacement) pairs for insta's filters: every literal
/// first (in the order given), then the patterns.
#[derive(Clone, Default)]
pub struct Filters {
    rules: Vec<(String, String)>,
    literals: usize,
}

impl Filters {
    /// What every run varies in: the dctx binary's path, times, ports,
    /// serials, pids (no daemon is started for these).
    pub fn new() -> Self {
        let mut f = Filters::default();
        f.generic();
        f
    }

    /// As [`Filters::new`], plus what the shared dockerd (started here if
    /// it is not yet) says about itself: directory, version, API, OS.
    pub fn daemon() -> Self {
        let mut f = Filters::default();
        f.shared_daemon();
        f.generic();
        f
    }

    fn shared_daemon(&mut self) {
        let f = self;
        let d = dockerd();
        f.literal(d.dir.to_str().unwrap(), "[DOCKERD_DIR]");
        // Its TLS port, told apart from every other port.
        f.regex(
            &format!(r"(127\.0\.0\.1|localhost):{}\b", d.port),
            "$1:[DOCKERD_PORT]",
        );
        f.literal(&d.version, "[DOCKER_VERSION]");
        // What the installed dockerd reports about itself and its host.
        let about = daemon_facts();
        f.regex(r#""api_version": "[0-9.]+""#, r#""api_version": "[API]""#);
        f.literal(&format!("API {}", about.api), "API [API]");
        // check's API column, right after the DOCKER one.
        f.regex(
            &format!(r"(\[DOCKER_VERSION\] +){}\b", regex::escape(&about.api)),
            "${1}[API]",
        );
        f.literal(&format!("\"{}\"", about.os), "\"[DOCKER_OS]\"");
        f.literal(&format!("; {}", about.os), "; [DOCKER_OS]");
        f.literal(
            &format!("\"arch\": \"{}\"", about.arch),
            "\"arch\": \"[ARCH]\"",
        );
        f.literal(&format!("linux/{}", about.arch), "linux/[ARCH]");
        // Other tests run containers on the shared daemon meanwhile.
        f.regex(r#""(containers_running|containers)": \d+"#, r#""$1": [N]"#);
        f.regex(
            r"\b\d+ of \d+ containers running",
            "[N] of [N] containers running",
        );
    }

    fn generic(&mut self) {
        let f = self;
        f.literal(env!("CARGO_BIN_EXE_dctx"), "[DCTX]");
        f.literal(
            Path::new(env!("CARGO_MANIFEST_DIR")).to_str().unwrap(),
            "[REPO]",
        );
        // Scratch dirs of other fixtures (nginx, peers…).
        f.regex(
            &format!(
                "{}/dctx-it-[0-9]+-[A-Za-z0-9_.-]+",
                regex::escape(std::env::temp_dir().to_str().unwrap())
            ),
            "[SCRATCH]",
        );
        // RFC 3339 (JSON, prose) and the "2026-12-06 11:33:32 UTC" form.
        f.regex(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?(Z|UTC|[+-]\d{2}:?\d{2}))?",
            "[TIME]",
        );
        f.regex(r"\b\d{4}-\d{2}-\d{2}\b", "[DATE]");
        // Ports handed out by the test support (free_port: 10000 and up,
        // or the kernel's ephemeral range): five digits after a host name
        // or address ("tcp://wrong.example:27191" in a fix too). Fixed
        // fixture ports (2375, 2376, 1) stay as written.
        f.regex(
            r"(\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]):\d{5}\b",
            "$1:[PORT]",
        );
        f.regex(r"(\bport| -p) \d{5}\b", "$1 [PORT]");
        // Fingerprints and serials: colon-separated hex, or long hex runs
        // (a truncated "1200CD4A4…" too).
        f.regex(r"\b[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){7,}\b", "[HEX]");
        // A long decimal number is data (a daemon.json value), not a
        // serial: held aside while hex runs are replaced.
        // (Word characters around it: no \b for the hex pattern to match.)
        f.regex(r"\b([0-9]{16,})\b", "decimal_${1}_decimal");
        f.regex(r"\b[0-9A-Fa-f]{16,}\b", "[HEX]");
        f.regex(r"decimal_([0-9]+)_decimal", "${1}");
        f.regex(r"\b[0-9A-Fa-f]{6,}…", "[HEX]…");
        // Latencies: "in 12 ms", JSON's latency_ms, and "12ms" in check's
        // LATENCY column (7 wide + 3 between columns: the padding after a
        // 2- or 3-digit number differs, so the cell is one fixed text).
        f.regex(r"\b\d+ ms\b", "[MS]");
        f.regex(r#""latency_ms": \d+"#, r#""latency_ms": [MS]"#);
        f.regex(r"\b\d+ms {2,}", "[MS]      ");
        f.regex(r"\b\d+ms\b", "[MS]");
        // A certificate issued for N days reads N days left within the
        // second it was issued, N-1 after: the full lifetimes of the test
        // fixtures (365, TestCa 3650) and of `dctx pki` (825, 3650) are
        // "about N". Shorter counts (fixtures half a day off a boundary:
        // "expired 4d ago", "10d") stay exact.
        for n in [365, 825, 3650] {
            f.about_days(n);
        }
        // A CRL's next update N days out (`pki crl`'s default 30, the
        // tests' --days 2): "30d 0h" within the second it was signed,
        // "29d 23h" after.
        for n in [2, 30] {
            f.regex(
                &format!(r"\b(?:{n}d 0h|{}d 23h)\b", n - 1),
                &format!("[~{n}d 0h]"),
            );
        }
        // Backups named after the time they were taken.
        f.regex(r"\.bak-[0-9]{9,}\b", ".bak-[EPOCH]");
        // Process ids as they are printed ("pid 1234", "(pid 1234)").
        f.regex(r"\bpid:? \d+", "pid [PID]");
    }

    /// As [`Filters::daemon`], plus the sandbox's temp dir: HOME reads
    /// `[TMP]/home dir`, so the space in it (on purpose) stays visible.
    pub fn sandbox(sb: &Sandbox) -> Self {
        let mut f = Filters::default();
        f.literal(sb.tmp.path().to_str().unwrap(), "[TMP]");
        f.shared_daemon();
        f.generic();
        f
    }

    /// A day count of `n` or `n - 1` ("90d", "90 days", `"days_left": 90`)
    /// reads `[~n]`: for a certificate issued for `n` days in the test.
    pub fn about_days(&mut self, n: i64) -> &mut Self {
        let alt = format!("(?:{n}|{})", n - 1);
        self.regex(&format!(r"\b{alt}(d\b| days?\b)"), &format!("[~{n}]$1"));
        self.regex(
            &format!(r#"("(?:\w+_)?days_left": ){alt}\b"#),
            &format!("${{1}}[~{n}]"),
        )
    }

    /// Collapse the padding between table columns to two spaces: for a
    /// table with a column as wide as a machine-specific path (the shared
    /// dockerd's socket); screens.rs checks alignment.
    pub fn collapse_columns(&mut self) -> &mut Self {
        self.regex(r"([^ \n]) {2,}", "$1  ")
    }

    /// Replace the exact text `s`, after the literals given before and
    /// before every pattern (a serial named here is not just `[HEX]`).
    pub fn literal(&mut self, s: &str, with: &str) -> &mut Self {
        assert!(!s.is_empty(), "an empty filter would match everywhere");
        self.rules
            .insert(self.literals, (regex::escape(s), with.to_string()));
        self.literals += 1;
        self
    }

    pub fn regex(&mut self, re: &str, with: &str) -> &mut Self {
        self.rules.push((re.to_string(), with.to_string()));
        self
    }

    /// insta settings: the shared snapshot directory, these filters, and
    /// no expression/description noise in the files.
    pub fn settings(&self) -> insta::Settings {
        refuse_shortcuts_under_ci();
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path(DIR);
        s.set_prepend_module_to_snapshot(true);
        s.set_omit_expression(true);
        for (re, with) in &self.rules {
            s.add_filter(re, with.as_str());
        }
        s
    }
}

struct DaemonFacts {
    api: String,
    os: String,
    arch: String,
}

/// The shared dockerd's API version ("1.41").
pub fn daemon_api() -> &'static str {
    &daemon_facts().api
}

/// The shared dockerd's API version, host OS name and architecture.
fn daemon_facts() -> &'static DaemonFacts {
    static F: std::sync::OnceLock<DaemonFacts> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let host = format!("unix://{}", dockerd().socket.display());
        let ask = |args: &[&str]| {
            let out = Command::new("docker")
                .args(["-H", &host])
                .args(args)
                .output()
                .unwrap();
            super::assert_success(&out, &format!("docker {args:?}"));
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let v = ask(&[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Server.Arch}}",
        ]);
        let (api, arch) = v.split_once(' ').unwrap();
        DaemonFacts {
            api: api.into(),
            arch: arch.into(),
            os: ask(&["info", "--format", "{{.OperatingSystem}}"]),
        }
    })
}

/// Under CI every snapshot is checked, never accepted: insta itself writes
/// nothing there (INSTA_UPDATE unset or `auto`/`no` with CI set), but
/// INSTA_UPDATE=always/force/unseen would still overwrite a file and pass,
/// `new` would leave .snap.new files, and INSTA_FORCE_PASS would pass a
/// mismatch.
pub fn refuse_shortcuts_under_ci() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        if !ci {
            return;
        }
        let update = std::env::var("INSTA_UPDATE").unwrap_or_default();
        assert!(
            ["", "no", "auto"].contains(&update.as_str()),
            "INSTA_UPDATE={update} is refused when CI is set: it would accept any output"
        );
        for var in [
            "INSTA_FORCE_PASS",
            "INSTA_FORCE_UPDATE",
            "INSTA_FORCE_UPDATE_SNAPSHOTS",
            "DCTX_UPDATE_SNAPSHOTS",
        ] {
            let v = std::env::var(var).unwrap_or_default();
            assert!(
                v.is_empty() || v == "0",
                "{var}={v} is refused when CI is set"
            );
        }
        // An insta config file could set `force_pass` or `update` too.
        for f in [".config/insta.yaml", "insta.yaml", ".insta.yaml"] {
            assert!(
                !Path::new(env!("CARGO_MANIFEST_DIR")).join(f).exists(),
                "{f}: insta's config is not used here"
            );
        }
    });
}

/// uv's layout: one text with the exit status, stdout and stderr.
pub fn render(out: &Output) -> String {
    let status = match out.status.code() {
        Some(c) => format!("exit_code: {c}"),
        None => format!(
            "signal: {:?}",
            std::os::unix::process::ExitStatusExt::signal(&out.status)
        ),
    };
    format!(
        "success: {}\n{status}\n----- stdout -----\n{}\n----- stderr -----\n{}\n",
        out.status.success(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `cmd` to completion (stdin closed), returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Snapshot a command's whole output (exit status, stdout, stderr) after
/// the filters, as tests/it/snapshots/it__MODULE__`name`.snap. Returns the
/// `Output` for further checks of effects.
macro_rules! dctx_snapshot {
    ($filters:expr, $cmd:expr, $name:expr) => {{
        let out = $crate::support::snap::run(&mut $cmd);
        let text = $crate::support::snap::render(&out);
        $filters
            .settings()
            .bind(|| ::insta::assert_snapshot!($name, text));
        out
    }};
}
pub(crate) use dctx_snapshot;

/// Snapshot an `Output` already captured (a command fed on stdin, say)
/// in the same layout as `dctx_snapshot!`.
macro_rules! output_snapshot {
    ($filters:expr, $out:expr, $name:expr) => {{
        let text = $crate::support::snap::render(&$out);
        $filters
            .settings()
            .bind(|| ::insta::assert_snapshot!($name, text));
    }};
}
pub(crate) use output_snapshot;

/// Snapshot a text that is not a command's output (a screen, a file)
/// under `name`, after the filters.
macro_rules! text_snapshot {
    ($filters:expr, $name:expr, $text:expr) => {{
        let text: &str = &$text;
        $filters
            .settings()
            .bind(|| ::insta::assert_snapshot!($name, text));
    }};
}
pub(crate) use text_snapshot;
