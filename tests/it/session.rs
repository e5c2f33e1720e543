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

/// Any signal that would kill dctx, sent to `dctx exec` (not to the
/// command): dctx relays it, the command dies of it, the key dir is gone,
/// and dctx dies of it too. These used to kill dctx alone (issue 19 #10):
/// the key dir stayed and the command ran on as an orphan. SIGSEGV twice:
/// Rust's runtime used to swallow the first and die of the second.
#[test]
fn any_fatal_signal_to_exec_removes_the_dir_and_stops_the_command() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = runtime_dir(&sb);
    let mut sigs = vec![
        (libc::SIGXCPU, 1),
        (libc::SIGVTALRM, 1),
        (libc::SIGPROF, 1),
        (libc::SIGSYS, 1),
        (libc::SIGTRAP, 1),
        (libc::SIGSEGV, 2),
        (libc::SIGTERM, 1),
    ];
    #[cfg(target_os = "linux")]
    sigs.extend([
        (libc::SIGPWR, 1),
        (libc::SIGIO, 1),
        (libc::SIGRTMIN() + 3, 1),
    ]);
    for (sig, times) in sigs {
        let pidfile = sb.path(&format!("child-{sig}.pid"));
        let script = format!("echo $$ > '{}'; exec sleep 300", pidfile.display());
        let mut dctx = sb
            .dctx()
            .args(["exec", "prod", "--", "sh", "-c", &script])
            .env("XDG_RUNTIME_DIR", &run)
            .spawn()
            .unwrap();
        let child = read_pid(&pidfile);
        assert_eq!(leftovers(&run).len(), 1, "signal {sig}: no private dir");
        for _ in 0..times {
            unsafe { libc::kill(dctx.id() as i32, sig) };
        }
        let status = dctx.wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "signal {sig}: {status:?}");
        assert!(!alive(child), "signal {sig}: the command runs on");
        assert_eq!(
            leftovers(&run),
            Vec::<String>::new(),
            "signal {sig}: dir left"
        );
    }
}

/// `cmd` under `ulimit -c unlimited`, in `dir` (where a core would go).
fn unlimited_core(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir);
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
    cmd
}

/// Poll `ready` (a condition, not a delay) for up to a minute.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `pid` has exec'd (before that it is a fork of this test, whose core
/// the control must not be mistaken for).
fn exec_d(pid: u32) -> bool {
    let me = std::env::current_exe().unwrap();
    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e != me)
}

/// `pid` holds a TCP connection to 127.0.0.1:`port`.
fn connected_to(pid: u32, port: u16) -> bool {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let remote = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .any(|f| f.len() > 9 && f[2] == remote && inodes.iter().any(|i| i == f[9]))
}

/// Core files in `dir`.
fn cores(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect()
}

/// SIGABRT (default action: core; Rust's runtime catches a sent SIGSEGV
/// once) to `child`; whether the kernel dumped its core.
fn abort(mut child: std::process::Child) -> bool {
    unsafe { libc::kill(child.id() as i32, libc::SIGABRT) };
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
    status.core_dumped()
}

/// Every dctx process that holds key material is undumpable (issue 19 #6):
/// `doctor` with the client key loaded, `proxy` serving, `metrics`
/// serving, `pki client --p12` holding the decrypted CA key while it waits
/// for the export password. Each gets SIGABRT under `ulimit -c unlimited`;
/// a plain `sleep` treated the same way shows that a core would be written.
#[test]
fn no_process_holding_key_material_dumps_core() {
    let sb = Sandbox::new();
    let dir = sb.path("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();

    // Positive control: the same limit and directory dump a process that
    // does not harden itself.
    let mut cmd = sb.cmd("sleep");
    cmd.arg("300");
    let sleep = unlimited_core(cmd, &dir).spawn().unwrap();
    wait_until("sleep exec'd", || exec_d(sleep.id()));
    assert!(
        abort(sleep),
        "the control did not dump core: is core_pattern {pattern:?} usable?"
    );
    if !pattern.starts_with('|') {
        assert_eq!(cores(&dir).len(), 1, "the control's core file");
    }
    for c in cores(&dir) {
        std::fs::remove_file(dir.join(c)).unwrap();
    }

    // doctor, connected to a peer that never answers (the key is loaded).
    let port = crate::support::peers::silent();
    let bundle = sb.client_bundle().display().to_string();
    let host = format!("tcp://127.0.0.1:{port}");
    sb.ok(&[
        "add",
        "mute",
        "--bundle",
        &bundle,
        "--host",
        &host,
        "--no-context",
    ]);
    let mut cmd = sb.dctx();
    cmd.args(["doctor", "mute", "--timeout", "60"]);
    let doctor = unlimited_core(cmd, &dir).spawn().unwrap();
    wait_until("doctor connected", || connected_to(doctor.id(), port));
    assert!(!abort(doctor), "dctx doctor dumped core");

    // proxy, serving (it loaded the key before printing DOCKER_HOST).
    sb.add_client_profile("prod", &[]);
    let mut cmd = sb.dctx();
    cmd.args(["proxy", "prod", "--socket"])
        .arg(sb.path("p.sock"))
        .stdout(std::process::Stdio::piped());
    let mut proxy = unlimited_core(cmd, &dir).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(proxy.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("export DOCKER_HOST="), "{line:?}");
    assert!(!abort(proxy), "dctx proxy dumped core");

    // metrics, serving.
    let mut cmd = sb.dctx();
    cmd.args(["metrics", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut metrics = unlimited_core(cmd, &dir).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(metrics.stderr.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.contains("serving metrics"), "{line:?}");
    assert!(!abort(metrics), "dctx metrics dumped core");

    // pki client --p12: the CA key decrypted, waiting for the export password.
    let out = sb.with_stdin(
        &["pki", "init", "--encrypt-ca-key", "--password-stdin"],
        b"ca pass\n",
    );
    assert_success(&out, "pki init --encrypt-ca-key");
    let mut cmd = sb.dctx();
    cmd.args([
        "pki",
        "client",
        "alice",
        "--p12",
        "alice.p12",
        "--password-stdin",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let mut pki = unlimited_core(cmd, &dir).spawn().unwrap();
    let mut stdin = pki.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"ca pass\n").unwrap();
    let pid = pki.id();
    wait_until("pki waiting for the export password", || {
        let mut queued: libc::c_int = 0;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stdin);
        assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) }, 0);
        // The line is read and dctx sleeps in the next read of the pipe.
        queued == 0
            && exec_d(pid)
            && std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("pipe_read"))
    });
    assert!(!abort(pki), "dctx pki dumped core");
    assert!(!dir.join("alice.p12").exists());
    assert_eq!(cores(&dir), Vec::<String>::new(), "core files");
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
