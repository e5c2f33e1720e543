//! Keys out of plain files: the OS keyring store (a real Secret Service),
//! `dctx exec`, `dctx key move`, and "no key bytes ever printed".

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use crate::support::snap::{Filters, dctx_snapshot, output_snapshot};
use crate::support::{self, Sandbox, assert_success, dockerd};

/// Base64 body of the shared client key: must never show up in output.
fn key_marker() -> String {
    dockerd()
        .client
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()[..32]
        .to_string()
}

fn assert_no_key(out: &std::process::Output, what: &str) {
    let marker = key_marker();
    for s in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(s).replace('\n', "");
        assert!(
            !text.contains(&marker),
            "{what}: private key bytes in output"
        );
    }
}

fn secret_tool_lookup(sb: &Sandbox, name: &str) -> Option<String> {
    sb.keyring_lookup(name)
}

fn runtime_leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dctx-exec-"))
        .collect()
}

#[test]
fn keyring_profiles_keep_the_key_off_disk_and_exec_reaches_the_daemon() {
    let d = dockerd();
    let sb = Sandbox::new().with_keyring();
    let b = sb.client_bundle().display().to_string();
    let out = sb
        .dctx()
        .args([
            "add",
            "vault",
            "--bundle",
            &b,
            "--host",
            &d.host,
            "--key-store",
            "keyring",
        ])
        .output()
        .unwrap();
    assert_success(&out, "add --key-store keyring");
    assert_no_key(&out, "add");
    // The key is in the Secret Service, and nowhere under HOME.
    let stored = secret_tool_lookup(&sb, "vault").expect("key not in the keyring");
    assert!(stored.contains("PRIVATE KEY"));
    let marker = key_marker();
    for (rel, _) in support::snapshot(&sb.home) {
        let p = sb.home.join(&rel);
        if p.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).replace('\n', "");
            assert!(!text.contains(&marker), "key bytes in {rel}");
        }
    }
    assert!(
        !sb.docker_config().join("contexts").exists(),
        "keyring profile wrote a Docker context"
    );
    // ls / show say where the key lives (keyring, OS keyring).
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-keyring");
    dctx_snapshot!(f, sb.dctx_cmd(&["show", "vault"]), "show-keyring");
    // env refuses rather than writing the key somewhere permanent, and
    // points at `dctx exec`.
    dctx_snapshot!(f, sb.dctx_cmd(&["env", "vault"]), "env-keyring");
    // exec materialises the key in a private runtime dir, then removes it.
    let runtime = sb.path("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec", "vault", "--", "sh", "-c"])
        .arg("stat -c %a \"$DOCKER_CERT_PATH\" \"$DOCKER_CERT_PATH/key.pem\"; docker version --format '{{.Server.Version}}'")
        .output()
        .unwrap();
    assert_success(&out, "dctx exec");
    assert_no_key(&out, "exec");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, ["700", "600", d.version.as_str()]);
    assert!(
        runtime_leftovers(&runtime).is_empty(),
        "exec left its dir behind"
    );
    // Move to a file and back; never two copies, never a stale one.
    sb.ok(&["key", "move", "vault", "--to", "file"]);
    assert!(
        secret_tool_lookup(&sb, "vault").is_none(),
        "key left in the keyring"
    );
    assert_eq!(sb.context_server_version("vault"), d.version);
    sb.ok(&["key", "move", "vault", "--to", "keyring"]);
    assert!(secret_tool_lookup(&sb, "vault").is_some());
    assert!(!sb.store().join("profiles/vault/key.pem").exists());
    assert!(
        !sb.docker_config()
            .join("contexts/meta")
            .read_dir()
            .map(|mut r| r.next().is_some())
            .unwrap_or(false),
        "stale context after move to keyring"
    );
    // rm also clears the keyring entry.
    sb.ok(&["rm", "vault"]);
    assert!(secret_tool_lookup(&sb, "vault").is_none());
}

#[test]
fn keyring_unavailable_fails_clearly_and_writes_nothing() {
    let sb = Sandbox::new();
    let b = sb.client_bundle().display().to_string();
    let before = sb.snapshot();
    let out = sb
        .dctx()
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", sb.path("no-bus").display()),
        )
        .args([
            "add",
            "vault",
            "--bundle",
            &b,
            "--host",
            "tcp://127.0.0.1:2376",
            "--key-store",
            "keyring",
        ])
        .output()
        .unwrap();
    // Refused: no keyring, and --key-store file named as the way out.
    output_snapshot!(Filters::sandbox(&sb), out, "add-keyring-unavailable");
    assert_eq!(before, sb.snapshot());
}

#[test]
fn exec_forwards_exit_status_and_signals_and_always_cleans_up() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let runtime = sb.path("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let out = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec", "prod", "--", "sh", "-c", "exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let out = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec", "prod", "--", "/nonexistent/cmd"])
        .output()
        .unwrap();
    // Like a shell: 127 for a command that does not exist.
    output_snapshot!(Filters::sandbox(&sb), out, "exec-missing-command");
    // SIGTERM to dctx reaches the child; dctx cleans up, then dies of the
    // same signal (the caller sees a signal death, as without dctx).
    let mut child = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec", "prod", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while runtime_leftovers(&runtime).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "exec never created its dir"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(
        runtime_leftovers(&runtime).is_empty(),
        "dir left after SIGTERM"
    );
    // Without XDG_RUNTIME_DIR it falls back to the temp dir.
    let tmp = sb.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = sb
        .dctx()
        .env("TMPDIR", &tmp)
        .args(["exec", "prod", "--", "sh", "-c", "echo $DOCKER_CERT_PATH"])
        .output()
        .unwrap();
    assert_success(&out, "exec with TMPDIR");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(tmp.to_str().unwrap()));
    assert!(runtime_leftovers(&tmp).is_empty());
}

/// Every command that touches a TLS profile, scanned for key bytes, and the
/// key-bearing files and dirs checked for 0600/0700 after each kind of write.
#[test]
fn no_command_prints_the_key_and_every_write_keeps_modes_private() {
    let d = dockerd();
    let sb = Sandbox::new().with_local_daemon();
    let b = sb.client_bundle().display().to_string();
    let runs: Vec<Vec<String>> = vec![
        vec![
            "add".into(),
            "prod".into(),
            "--bundle".into(),
            b.clone(),
            "--host".into(),
            d.host.clone(),
        ],
        vec![
            "add".into(),
            "prod".into(),
            "--bundle".into(),
            b.clone(),
            "--host".into(),
            d.host.clone(),
            "--replace".into(),
            "--json".into(),
        ],
        vec!["ls".into()],
        vec!["ls".into(), "--json".into()],
        vec!["show".into(), "prod".into()],
        vec!["show".into(), "prod".into(), "--json".into()],
        vec!["env".into(), "prod".into()],
        vec!["use".into(), "prod".into()],
        vec!["check".into(), "--json".into()],
        vec!["check".into()],
        vec!["doctor".into(), "prod".into()],
        vec!["doctor".into(), "prod".into(), "--json".into()],
        vec!["exec".into(), "prod".into(), "--".into(), "true".into()],
        vec!["use".into(), "-".into()],
    ];
    for args in &runs {
        let out = sb.dctx().args(args).output().unwrap();
        assert_success(&out, &args.join(" "));
        assert_no_key(&out, &args.join(" "));
        for root in [
            sb.store().join("profiles"),
            sb.docker_config().join("contexts/tls"),
        ] {
            for (rel, v) in support::snapshot(&root) {
                let mode = v.split(':').next().unwrap();
                let want = if v.ends_with(":dir") { "700" } else { "600" };
                assert_eq!(mode, want, "{rel} after `dctx {}`", args.join(" "));
            }
        }
        let cfg = sb.docker_config().join("config.json");
        if cfg.exists() {
            let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "config.json after `dctx {}`", args.join(" "));
        }
    }
    let store_root = std::fs::metadata(sb.store()).unwrap().permissions().mode() & 0o777;
    assert_eq!(store_root, 0o700);
}

/// Shells' conventions: 127 when the command is not found (on PATH or by
/// path), 126 when it exists but cannot be executed; a message on stderr.
#[test]
fn exec_exits_127_for_a_missing_command_and_126_for_a_non_executable_one() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    let plain = sb.path("plain-file");
    std::fs::write(&plain, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir = sb.path("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, i32, &str); 4] = [
        ("no-such-program-on-path", 127, "command not found"),
        ("/nonexistent/cmd", 127, "command not found"),
        (plain.to_str().unwrap(), 126, "cannot execute"),
        (dir.to_str().unwrap(), 126, "cannot execute"),
    ];
    for (program, code, phrase) in cases {
        let out = sb
            .dctx()
            .env("XDG_RUNTIME_DIR", &run)
            .args(["exec", "prod", "--", program])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{program}: {err}");
        assert!(err.contains(phrase), "{program}: {err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
        assert!(runtime_leftovers(&run).is_empty(), "{program}: dir left");
    }
}

/// The pid a test command wrote to `file` (`echo $$ > file`).
fn read_pid(file: &std::path::Path) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(p) = std::fs::read_to_string(file)
            && let Ok(p) = p.trim().parse()
        {
            return p;
        }
        assert!(std::time::Instant::now() < deadline, "no child pid");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_dir(run: &std::path::Path) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(d) = runtime_leftovers(run).pop() {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "exec never created its dir"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGHUP and SIGUSR1 sent to dctx alone reach the command; dctx removes
/// the dir and dies of the same signal (SIGUSR1 used to kill dctx on the
/// spot and leave the key behind).
#[test]
fn exec_relays_hup_and_usr1_and_cleans_up() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    for sig in [libc::SIGHUP, libc::SIGUSR1] {
        let pidfile = sb.path(&format!("child-{sig}.pid"));
        let mut child = sb
            .dctx()
            .env("XDG_RUNTIME_DIR", &run)
            .args(["exec", "prod", "--", "sh", "-c"])
            .arg(format!("echo $$ > '{}'; exec sleep 300", pidfile.display()))
            .spawn()
            .unwrap();
        wait_for_dir(&run);
        let inner = read_pid(&pidfile);
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(sig), "{status:?}");
        assert!(runtime_leftovers(&run).is_empty(), "dir left after {sig}");
        // The command got it too: it is gone, not orphaned.
        let stat = std::fs::read_to_string(format!("/proc/{inner}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .trim_start()
                    .starts_with('Z'),
            "command survived signal {sig}: {stat}"
        );
    }
}

/// SIGTERM at any moment of start-up (before, while and after the dir is
/// made and the command spawned) ends dctx promptly, leaves no dir and no
/// orphaned command. It used to be dropped when it arrived before the
/// child's pid was stored (dctx then waited for the whole command).
#[test]
fn exec_sigterm_at_any_moment_of_start_up_leaves_nothing() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    for step in 0..30u64 {
        let pidfile = sb.path(&format!("early-{step}.pid"));
        let mut child = sb
            .dctx()
            .env("XDG_RUNTIME_DIR", &run)
            .args(["exec", "prod", "--", "sh", "-c"])
            .arg(format!("echo $$ > '{}'; exec sleep 300", pidfile.display()))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(step * 700));
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("step {step}: dctx still runs 30 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.signal(), Some(libc::SIGTERM), "step {step}");
        assert!(runtime_leftovers(&run).is_empty(), "step {step}: dir left");
        if let Ok(p) = std::fs::read_to_string(&pidfile)
            && let Ok(p) = p.trim().parse::<i32>()
        {
            std::thread::sleep(Duration::from_millis(50));
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            assert!(
                stat.is_empty()
                    || stat
                        .rsplit(')')
                        .next()
                        .unwrap()
                        .trim_start()
                        .starts_with('Z'),
                "step {step}: command orphaned: {stat}"
            );
        }
    }
}

/// kill -9 cannot be caught: the dir stays, and the next `dctx exec` sweeps
/// it (its pid is dead). Dirs of live processes are left alone.
#[test]
fn exec_sweeps_dirs_left_by_a_killed_dctx() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    let pidfile = sb.path("killed.pid");
    let mut child = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &run)
        .args(["exec", "prod", "--", "sh", "-c"])
        .arg(format!("echo $$ > '{}'; exec sleep 300", pidfile.display()))
        .spawn()
        .unwrap();
    let left = wait_for_dir(&run);
    let inner = read_pid(&pidfile);
    child.kill().unwrap();
    child.wait().unwrap();
    unsafe { libc::kill(inner, libc::SIGKILL) };
    assert!(run.join(&left).join("key.pem").exists());
    // A live process's dir (this test's own pid) must survive the sweep.
    let live = format!("dctx-exec-{}-0000beef", std::process::id());
    std::fs::create_dir(run.join(&live)).unwrap();
    let out = sb
        .dctx()
        .env("XDG_RUNTIME_DIR", &run)
        .args(["exec", "prod", "--", "true"])
        .output()
        .unwrap();
    assert_success(&out, "exec after kill -9");
    assert_eq!(runtime_leftovers(&run), vec![live.clone()]);
    std::fs::remove_dir(run.join(&live)).unwrap();
}
