//! `dctx exec` and `dctx shell` driven the way a person drives them: in a
//! real pty (tmux), with ^C typed on the keyboard, real bash / zsh / fish
//! reading the user's rc files, and the real docker CLI inside. Also: no
//! core dump from a process that holds a key.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, assert_success};

/// A private tmux server (its own socket) whose one pane runs `argv`
/// directly (no shell in between). The pane stays after its process exits so
/// the exit status can be read.
struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    fn start(sb: &Sandbox, env: &[(&str, &Path)], argv: &[&str]) -> Tmux {
        for tool in ["tmux", "bash", "zsh", "fish"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{tool} is missing: apt-get install {tool}"
            );
        }
        let sock = sb.path("tmux.sock");
        let conf = sb.path("tmux.conf");
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g history-limit 5000\n",
        )
        .unwrap();
        let mut c = sb.cmd("tmux");
        c.env("TERM", "xterm-256color");
        for (k, v) in env {
            c.env(k, v);
        }
        c.arg("-S")
            .arg(&sock)
            .arg("-f")
            .arg(&conf)
            .args(["new-session", "-d", "-x", "120", "-y", "40", "--"])
            .args(argv);
        let out = c.output().unwrap();
        assert_success(&out, "tmux new-session");
        Tmux { sock }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .unwrap();
        assert_success(&out, &format!("tmux {}", args.join(" ")));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-200"])
    }

    /// Type `text` and press Enter.
    fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-l", "--", text]);
        self.tmux(&["send-keys", "Enter"]);
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }

    /// Wait (generously: the machine is busy) until the screen satisfies `f`.
    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited 60 s for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `(exit status, signal)` of the pane's process once it is gone.
    fn wait_dead(&self, within: Duration) -> (String, String) {
        let pid: i32 = self
            .tmux(&["display-message", "-p", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + within;
        loop {
            let s = self.tmux(&[
                "display-message",
                "-p",
                "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}",
            ]);
            let f: Vec<&str> = s.trim().split(':').collect();
            // The pty closes before tmux reaps the process: wait for both.
            if f[0] == "1" && (!f[1].is_empty() || !f[2].is_empty()) {
                return (f[1].to_string(), f[2].to_string());
            }
            // tmux 3.3 sometimes never reaps a pane process that ran an
            // interactive shell (seen with a python wrapper too); the
            // zombie's wait status is in /proc/PID/stat (field 52).
            if let Some(status) = zombie_status(pid) {
                return if status & 0x7f == 0 {
                    (((status >> 8) & 0xff).to_string(), String::new())
                } else {
                    (String::new(), (status & 0x7f).to_string())
                };
            }
            assert!(
                Instant::now() < deadline,
                "the pane's process still runs after {within:?}; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The wait status of `pid` if it is a zombie.
fn zombie_status(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    fields.get(52 - 3)?.parse().ok()
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .arg("kill-server")
            .output();
    }
}

/// Private dirs dctx left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dctx-exec-") || n.starts_with("dctx-shell-"))
        .collect()
}

fn runtime_dir(sb: &Sandbox) -> PathBuf {
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    run
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn read_pid(file: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(file)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// ^C typed in a terminal stops the command at once (it used to inherit
/// SIG_IGN and run on), dctx removes the key dir and dies of SIGINT itself,
/// so the calling shell sees an interrupt, not an ordinary exit.
#[test]
fn ctrl_c_in_a_terminal_stops_exec_and_removes_the_dir() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = runtime_dir(&sb);
    let pidfile = sb.path("child.pid");
    let script = format!("echo $$ > '{}'; exec sleep 300", pidfile.display());
    let t = Tmux::start(
        &sb,
        &[("XDG_RUNTIME_DIR", &run)],
        &[
            env!("CARGO_BIN_EXE_dctx"),
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    let child = read_pid(&pidfile);
    assert_eq!(leftovers(&run).len(), 1, "exec made no private dir");
    t.keys("C-c");
    // The bound is the feature (prompt interruption), with a wide margin.
    let (_, signal) = t.wait_dead(Duration::from_secs(30));
    assert_eq!(signal, "2", "dctx should die of SIGINT like its command");
    assert!(!alive(child), "the command survived ^C");
    assert_eq!(leftovers(&run), Vec::<String>::new(), "dir left after ^C");
}

/// A profile whose key file sits in the store, for `doctor` to load.
fn doctor_of_a_silent_peer(sb: &Sandbox) -> std::process::Child {
    let port = crate::support::peers::silent();
    let bundle = sb.client_bundle().display().to_string();
    sb.ok(&[
        "add",
        "mute",
        "--bundle",
        &bundle,
        "--host",
        &format!("tcp://127.0.0.1:{port}"),
        "--no-context",
    ]);
    let mut cmd = sb.dctx();
    cmd.args(["doctor", "mute", "--timeout", "60"]);
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

/// `doctor` holds the client key in memory while it waits on a silent peer:
/// under `ulimit -c unlimited` its core limit is 0 and SIGQUIT leaves no core
/// (it used to write one holding the key PEM).
#[test]
fn a_process_holding_a_key_never_dumps_core() {
    let sb = Sandbox::new();
    let mut child = doctor_of_a_silent_peer(&sb);
    let pid = child.id();
    // Wait until it is connected to the peer (the key is loaded by then).
    let deadline = Instant::now() + Duration::from_secs(60);
    let limits = loop {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let socket = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|l| l.to_string_lossy().starts_with("socket:"))
            .count();
        if socket > 0 {
            break limits;
        }
        assert!(Instant::now() < deadline, "doctor never connected");
        std::thread::sleep(Duration::from_millis(50));
    };
    // A socket can also be one inherited from this (busy, multi-threaded)
    // test process before dctx's main ran: the silent peer holds doctor for
    // 60 s, so read the limits again once it has surely started.
    let _ = limits;
    std::thread::sleep(Duration::from_secs(1));
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(core[4], "0", "soft core limit of dctx doctor:\n{limits}");
    unsafe { libc::kill(pid as i32, libc::SIGQUIT) };
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGQUIT), "{status:?}");
    assert!(!status.core_dumped(), "dctx dumped core");
    let cores: Vec<_> = std::fs::read_dir(sb.tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect();
    assert!(cores.is_empty(), "core files: {cores:?}");
}

/// How a shell test selects its target.
enum Pick {
    /// A profile whose key is in the OS keyring.
    KeyringProfile,
    /// A profile with key.pem in the store.
    FileProfile,
    /// A Docker context created by the docker CLI, not by dctx.
    ForeignContext,
}

/// Drive `dctx shell NAME` with a real `shell` in a pty: the user's rc file
/// (which also points DOCKER_HOST somewhere useless) runs, the marker shows
/// in front of the user's prompt, the real docker CLI inside reaches the
/// test dockerd, a nested `dctx shell` is refused, and `exit` ends it all
/// with the private dir gone.
fn drive_shell(shell: &str, name: &str, pick: Pick, rc: (&str, &str), via_flag: bool) {
    let d = crate::support::dockerd();
    let sb = match pick {
        Pick::KeyringProfile => Sandbox::new().with_keyring(),
        _ => Sandbox::new(),
    };
    match pick {
        Pick::KeyringProfile => {
            sb.add_client_profile(name, &["--key-store", "keyring"]);
        }
        Pick::FileProfile => {
            sb.add_client_profile(name, &[]);
        }
        Pick::ForeignContext => {
            let b = sb.client_bundle();
            let spec = format!(
                "host={},ca={},cert={},key={}",
                d.host,
                b.join("ca.pem").display(),
                b.join("cert.pem").display(),
                b.join("key.pem").display()
            );
            let out = sb
                .docker()
                .args(["context", "create", name, "--docker", &spec])
                .output()
                .unwrap();
            assert_success(&out, "docker context create");
        }
    }
    let rc_path = sb.home.join(rc.0);
    std::fs::create_dir_all(rc_path.parent().unwrap()).unwrap();
    std::fs::write(&rc_path, rc.1).unwrap();
    let run = runtime_dir(&sb);
    // `--shell` beats $SHELL (which then names a shell that is not used).
    let shell_path = PathBuf::from(format!("/usr/bin/{shell}"));
    let login_shell = if via_flag {
        PathBuf::from("/bin/sh")
    } else {
        shell_path.clone()
    };
    let mut argv = vec![env!("CARGO_BIN_EXE_dctx"), "shell", name];
    if via_flag {
        argv.extend(["--shell", shell]);
    }
    let t = Tmux::start(
        &sb,
        &[("XDG_RUNTIME_DIR", &run), ("SHELL", &login_shell)],
        &argv,
    );
    let marker = format!("(dctx:{name}) user-prompt");
    t.wait_for("the marked prompt", |s| s.contains(&marker));
    // ^C at the prompt is the shell's business: it drops the line and
    // prompts again; dctx stays (the commands below still run in it).
    t.tmux(&["send-keys", "-l", "echo dropped-line"]);
    t.wait_for("the typed line", |s| s.contains("echo dropped-line"));
    t.keys("C-c");
    t.wait_for("a fresh prompt after ^C", |s| {
        s.matches(&marker).count() >= 2
    });
    let dirs = leftovers(&run);
    assert_eq!(dirs.len(), 1, "no private dir while the shell runs");
    // Material only for a profile; a foreign context is selected by name.
    let has_key = run.join(&dirs[0]).join("key.pem").exists();
    assert_eq!(has_key, !matches!(pick, Pick::ForeignContext));
    t.line("docker version --format '{{.Server.Version}}'; echo \"profile=$DCTX_PROFILE\"");
    let screen = t.wait_for("docker's answer", |s| {
        s.contains(&format!("profile={name}")) || s.contains("rror")
    });
    assert!(
        !screen.lines().any(|l| l.trim() == "dropped-line"),
        "{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == d.version),
        "docker inside the shell did not reach the daemon:\n{screen}"
    );
    if shell == "zsh" {
        // Our ZDOTDIR was only for start-up: a zsh started in here reads
        // the user's files again.
        t.line("echo \"zdotdir=${ZDOTDIR-none}\"");
        t.wait_for("ZDOTDIR restored", |s| s.contains("zdotdir=none"));
    }
    t.line(&format!("{} shell {name}", env!("CARGO_BIN_EXE_dctx")));
    t.wait_for("the nesting guard", |s| {
        s.contains(&format!("already in a dctx shell for {name}"))
    });
    // The shell's exit status is dctx's.
    t.line("exit 7");
    let (status, signal) = t.wait_dead(Duration::from_secs(60));
    assert_eq!(
        (status.as_str(), signal.as_str()),
        ("7", ""),
        "{}",
        t.screen()
    );
    assert_eq!(leftovers(&run), Vec::<String>::new(), "dir left after exit");
}

#[test]
fn shell_bash_with_a_keyring_profile() {
    drive_shell(
        "bash",
        "shellkr",
        Pick::KeyringProfile,
        (
            ".bashrc",
            "PS1='user-prompt$ '\nexport DOCKER_HOST=tcp://127.0.0.1:9\n",
        ),
        false,
    );
}

#[test]
fn shell_zsh_with_a_file_profile_chosen_by_flag() {
    drive_shell(
        "zsh",
        "prod",
        Pick::FileProfile,
        (
            ".zshrc",
            "PROMPT='user-prompt%# '\nexport DOCKER_HOST=tcp://127.0.0.1:9\n",
        ),
        true,
    );
}

#[test]
fn shell_fish_with_a_docker_context() {
    drive_shell(
        "fish",
        "theirs",
        Pick::ForeignContext,
        (
            ".config/fish/config.fish",
            "function fish_prompt; printf 'user-prompt> '; end\nset -gx DOCKER_HOST tcp://127.0.0.1:9\nset -g fish_greeting\n",
        ),
        false,
    );
}

/// `dctx use` without a name on a terminal: a fuzzy picker. Typing filters,
/// Enter switches, Esc leaves everything as it was.
#[test]
fn use_without_a_name_picks_on_a_terminal() {
    let sb = Sandbox::new();
    for n in ["alpha", "bravo", "charlie"] {
        sb.ok(&["add", n, "--host", "tcp://127.0.0.1:2375"]);
    }
    sb.ok(&["use", "alpha"]);
    let dctx = env!("CARGO_BIN_EXE_dctx");
    let show = || {
        let out = sb.docker().args(["context", "show"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    {
        let t = Tmux::start(&sb, &[], &[dctx, "use"]);
        let s = t.wait_for("the picker", |s| {
            s.contains("bravo") && s.contains("charlie")
        });
        // The current one is marked, each with its endpoint and mode.
        assert!(
            s.lines().any(|l| l.contains("* alpha")
                && l.contains("tcp://127.0.0.1:2375")
                && l.contains("PLAINTEXT")),
            "{s}"
        );
        t.tmux(&["send-keys", "-l", "--", "char"]);
        t.wait_for("the filter", |s| !s.contains("bravo"));
        t.keys("Enter");
        let (status, _) = t.wait_dead(Duration::from_secs(60));
        assert_eq!(status, "0", "{}", t.screen());
    }
    assert_eq!(show(), "charlie");
    {
        let t = Tmux::start(&sb, &[], &[dctx, "use"]);
        t.wait_for("the picker", |s| s.contains("bravo"));
        t.keys("Escape");
        let (status, _) = t.wait_dead(Duration::from_secs(60));
        assert_eq!(status, "0", "{}", t.screen());
        assert!(t.screen().contains("nothing changed"));
    }
    assert_eq!(show(), "charlie");
}
