//! The Debian package: cargo-deb builds it from Cargo.toml's
//! [package.metadata.deb] around the binary under test, `dpkg -i` installs
//! it on this machine, the installed dctx, man pages, plugin link and bash
//! completion are used as a user would, and `dpkg -r` removes every file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, assert_success};

const PLUGIN_LINK: &str = "/usr/libexec/docker/cli-plugins/docker-ctx";

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({e})"));
    assert_success(&out, what);
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "dctx"])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.ends_with(b" installed"))
}

/// Removes the package however the test ends (an assert failing halfway
/// must not leave it installed).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if installed() {
            let _ = Command::new("dpkg").args(["--purge", "dctx"]).output();
        }
    }
}

/// A fresh interactive shell in a private tmux server: bash with a new
/// user's ~/.bashrc from /etc/skel (which loads bash-completion), or zsh
/// with compinit (whose default $fpath has Debian's vendor-completions), or
/// fish (which reads vendor_completions.d).
struct Shell {
    sock: PathBuf,
}

impl Shell {
    fn start(sb: &Sandbox, shell: &str) -> Shell {
        if shell == "bash" {
            let skel = std::fs::read_to_string("/etc/skel/.bashrc").expect("/etc/skel/.bashrc");
            assert!(
                Path::new("/usr/share/bash-completion/bash_completion").exists(),
                "bash-completion is missing: apt-get install bash-completion (.ci/test does)"
            );
            std::fs::write(sb.home.join(".bashrc"), skel + "\nPS1='$ '\n").unwrap();
        } else if shell == "zsh" {
            std::fs::write(
                sb.home.join(".zshrc"),
                "autoload -U compinit\ncompinit -u\nPS1='$ '\n",
            )
            .unwrap();
        } else {
            let dir = sb.home.join(".config/fish");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("config.fish"),
                "function fish_prompt; echo -n '$ '; end\nset -g fish_greeting\n",
            )
            .unwrap();
        }
        let sock = sb.path(&format!("tmux-deb-{shell}.sock"));
        // tmux sets PATH for a new pane itself: pass it through env(1); only
        // system dirs, so TAB runs the packaged /usr/bin/dctx.
        run(
            sb.cmd("tmux")
                .arg("-S")
                .arg(&sock)
                .args([
                    "-f",
                    "/dev/null",
                    "new-session",
                    "-d",
                    "-x",
                    "120",
                    "-y",
                    "30",
                ])
                .arg("env")
                .arg(format!("HOME={}", sb.home.display()))
                .arg(format!("ZDOTDIR={}", sb.home.display()))
                .args([
                    "PATH=/usr/local/bin:/usr/bin:/bin",
                    "TERM=xterm-256color",
                    shell,
                    "-i",
                ]),
            "tmux new-session",
        );
        Shell { sock }
    }

    /// Type `dctx do`, press TAB, and wait for `dctx doctor`.
    fn completes_dctx_doctor(&self) {
        self.wait_for("the prompt", |s| s.lines().any(|l| l.starts_with("$ ")));
        self.tmux(&["send-keys", "-l", "dctx do"]);
        self.tmux(&["send-keys", "Tab"]);
        self.wait_for("dctx do<TAB> to complete to dctx doctor", |s| {
            s.lines().any(|l| l.trim_end() == "$ dctx doctor")
        });
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = run(
            Command::new("tmux").arg("-S").arg(&self.sock).args(args),
            &format!("tmux {}", args.join(" ")),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.tmux(&["capture-pane", "-p", "-J"]);
            if f(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "waited 60 s for {what}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .arg("kill-server")
            .output();
    }
}

/// Build the .deb with the real packaging config and the binary under test
/// (cargo-deb refuses dev builds, so the binary is placed where it looks
/// for a release one, in a target dir of the test's own).
fn build_deb(sb: &Sandbox) -> PathBuf {
    let target = sb.path("deb-target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_dctx"), target.join("release/dctx")).unwrap();
    let deb = sb.path("dctx.deb");
    let out = Command::new(env!("CARGO"))
        .args(["deb", "--no-build", "--strip", "--fast", "-o"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo deb failed (install it: cargo install cargo-deb --locked; .ci/test does):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    deb
}

#[test]
fn debian_package_installs_works_and_removes_cleanly() {
    // Never clobber a dctx this machine already has.
    assert!(
        !installed(),
        "the dctx package is installed on this machine: the test would replace and remove it"
    );
    for path in ["/usr/bin/dctx", PLUGIN_LINK] {
        assert!(
            Path::new(path).symlink_metadata().is_err(),
            "{path} exists: the test would overwrite it; remove it first"
        );
    }
    let sb = Sandbox::new();
    let deb = build_deb(&sb);
    let contents = stdout(&run(
        Command::new("dpkg-deb").arg("--contents").arg(&deb),
        "dpkg-deb --contents",
    ));
    let packaged: BTreeSet<String> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_string())
        .collect();
    let existed_before: BTreeSet<String> = packaged
        .iter()
        .filter(|p| Path::new(p).symlink_metadata().is_ok())
        .cloned()
        .collect();

    let guard = Installed;
    run(Command::new("dpkg").arg("-i").arg(&deb), "dpkg -i");
    assert!(installed());

    // The installed binary, found on PATH as a user would.
    let version = stdout(&run(
        Command::new("/usr/bin/dctx").arg("--version"),
        "dctx --version",
    ));
    assert_eq!(version, format!("dctx {}", env!("CARGO_PKG_VERSION")));

    // Man pages where man looks, and readable.
    for (page, file) in [("dctx", "dctx.1.gz"), ("dctx-check", "dctx-check.1.gz")] {
        let at = stdout(&run(Command::new("man").args(["-w", page]), "man -w"));
        assert_eq!(at, format!("/usr/share/man/man1/{file}"));
    }
    let page = run(
        Command::new("man")
            .args(["dctx-check"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"),
        "man dctx-check",
    );
    assert!(!page.stdout.is_empty());

    // docker finds the system plugin link (no user plugin in this HOME).
    let docker_version = stdout(&run(
        sb.docker().args(["ctx", "version"]),
        "docker ctx version",
    ));
    assert_eq!(docker_version, version);
    let plugins: serde_json::Value = serde_json::from_slice(
        &run(
            sb.docker()
                .args(["info", "--format", "{{json .ClientInfo.Plugins}}"]),
            "docker info",
        )
        .stdout,
    )
    .unwrap();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["Name"] == "ctx" && p["Path"] == PLUGIN_LINK && p.get("Err").is_none()),
        "{plugins}"
    );

    // Fresh bash, zsh and fish complete `dctx do<TAB>` from the packaged
    // scripts.
    Shell::start(&sb, "bash").completes_dctx_doctor();
    Shell::start(&sb, "zsh").completes_dctx_doctor();
    Shell::start(&sb, "fish").completes_dctx_doctor();

    // dpkg -r removes every file it installed, and the directories it made.
    run(Command::new("dpkg").args(["-r", "dctx"]), "dpkg -r dctx");
    assert!(!installed());
    let left: Vec<&String> = packaged
        .iter()
        .filter(|p| !existed_before.contains(*p) && Path::new(p).symlink_metadata().is_ok())
        .collect();
    assert!(left.is_empty(), "left behind by dpkg -r: {left:?}");
    drop(guard);
}
