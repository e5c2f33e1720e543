//! ssh:// contexts (made with the real docker CLI) probed by `dctx check`
//! through a real sshd on loopback in front of the real test dockerd. Each
//! case asserts the finding code and that the docker CLI, through the same
//! `ssh`, works or fails the same way.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::snap::{Filters, text_snapshot};
use crate::support::sshd::{SshClient, Sshd, authorized, fingerprint, other_user};
use crate::support::{Sandbox, assert_success, dockerd, free_port, peers};

/// A sandbox with the ssh client set up.
fn client() -> (Sandbox, SshClient) {
    let mut sb = Sandbox::new();
    let c = SshClient::new(&mut sb);
    (sb, c)
}

/// `environment=` options pointing the remote docker at the test daemon.
fn to_test_daemon() -> (&'static str, String) {
    (
        "DOCKER_HOST",
        format!("unix://{}", dockerd().socket.display()),
    )
}

/// An sshd that lets our key in with `env`.
fn sshd_for(c: &SshClient, env: &[(&str, &str)]) -> Sshd {
    Sshd::start(&authorized(&c.key, env))
}

fn context(sb: &Sandbox, name: &str, host: &str) {
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            name,
            "--docker",
            &format!("host={host}"),
        ])
        .output()
        .unwrap();
    assert_success(&out, "docker context create");
}

/// `dctx check NAME --json` → (exit code, the row).
fn check(sb: &Sandbox, name: &str, timeout: &str) -> (i32, serde_json::Value) {
    run_json(sb, "check", name, timeout)
}

/// `dctx doctor NAME --json` → (exit code, the report with its steps).
fn doctor(sb: &Sandbox, name: &str, timeout: &str) -> (i32, serde_json::Value) {
    run_json(sb, "doctor", name, timeout)
}

fn run_json(sb: &Sandbox, cmd: &str, name: &str, timeout: &str) -> (i32, serde_json::Value) {
    let out = sb
        .dctx()
        .args([cmd, name, "--json", "--timeout", timeout])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let v = if cmd == "check" { v[0].clone() } else { v };
    (out.status.code().unwrap_or(-1), v)
}

/// The finding with `code`, failing with the whole report otherwise.
fn finding<'a>(r: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding:\n{r:#}"))
}

/// The finding `f` (message, fix), snapshotted as `name`; the keys in
/// play are named, not just redacted.
fn finding_snapshot(sb: &Sandbox, f: &serde_json::Value, name: &str, keys: &[(&str, &str)]) {
    let mut filters = Filters::sandbox(sb);
    for (fp, label) in keys {
        filters.literal(fp, label);
    }
    text_snapshot!(filters, name, format!("{f:#}"));
}

fn step<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name}:\n{r:#}"))
}

/// Assert a failing `check` row with `code` first; return doctor's report.
#[track_caller]
fn fails_with(sb: &Sandbox, name: &str, code: &str) -> serde_json::Value {
    let (exit, r) = check(sb, name, "10");
    assert_eq!(exit, 3, "{r:#}");
    assert_eq!(r["status"], "fail", "{r:#}");
    assert_eq!(r["findings"][0]["code"], code, "{r:#}");
    let (exit, d) = doctor(sb, name, "10");
    assert_eq!(exit, 3, "{d:#}");
    assert_eq!(d["findings"], r["findings"], "{d:#}");
    d
}

/// `docker --context NAME version` fails, and says `phrase`.
#[track_caller]
fn docker_fails_saying(sb: &Sandbox, name: &str, phrase: &str) {
    let out = sb
        .docker()
        .args([
            "--context",
            name,
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "docker --context {name} version worked"
    );
    assert!(err.contains(phrase), "docker said: {err}");
}

#[test]
fn healthy_ssh_context_reports_the_daemon() {
    let (sb, c) = client();
    let sshd = sshd_for(&c, &[(to_test_daemon().0, &to_test_daemon().1)]);
    c.trust(sshd.port, &sshd.host_key);
    context(
        &sb,
        "viassh",
        &format!("ssh://root@127.0.0.1:{}", sshd.port),
    );

    let (exit, r) = check(&sb, "viassh", "10");
    assert_eq!(exit, 0, "{r:#}\n{}", sshd.log());
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(r["docker"]["version"], dockerd().version.as_str(), "{r:#}");
    assert!(r["latency_ms"].is_u64(), "{r:#}");
    let (exit, r) = doctor(&sb, "viassh", "10");
    assert_eq!(exit, 0, "{r:#}");
    assert_eq!(step(&r, "ssh-handshake")["state"], "ok");
    assert!(
        step(&r, "ssh-handshake")["detail"]
            .as_str()
            .unwrap()
            .contains(&fingerprint(&sshd.host_key)),
        "{r:#}"
    );
    assert_eq!(step(&r, "ssh-auth")["state"], "ok");
    assert_eq!(step(&r, "dial-stdio")["state"], "ok");
    assert_eq!(step(&r, "info")["state"], "ok");
    assert!(
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["step"] != "tls-handshake"),
        "{r:#}"
    );
    // sshd saw the login and the command (not another path to the daemon).
    let log = sshd.log();
    assert!(log.contains("Accepted publickey for root"), "{log}");
    assert_eq!(sb.context_server_version("viassh"), dockerd().version);

    // doctor walks the ssh layers.
    let out = sb.dctx().args(["doctor", "viassh"]).output().unwrap();
    assert_success(&out, "dctx doctor viassh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("root logged in by publickey with"), "{text}");
    assert!(text.contains("✓ remote dial-stdio"), "{text}");
}

#[test]
fn unknown_host_key_says_how_to_add_it() {
    let (sb, c) = client();
    let sshd = sshd_for(&c, &[(to_test_daemon().0, &to_test_daemon().1)]);
    context(
        &sb,
        "newhost",
        &format!("ssh://root@127.0.0.1:{}", sshd.port),
    );
    let r = fails_with(&sb, "newhost", "ssh-host-key-unknown");
    // The host key's fingerprint, and how to add it (ssh-keyscan -p PORT
    // 127.0.0.1 >> ~/.ssh/known_hosts, then compare the fingerprint).
    let f = finding(&r, "ssh-host-key-unknown");
    let fp = fingerprint(&sshd.host_key);
    finding_snapshot(&sb, f, "host-key-unknown", &[(&fp, "[HOST_KEY_FP]")]);
    assert_eq!(step(&r, "ssh-handshake")["state"], "fail");
    assert_eq!(step(&r, "dial-stdio")["state"], "skip");
    docker_fails_saying(&sb, "newhost", "Host key verification failed");
}

#[test]
fn changed_host_key_is_a_warning_not_a_fix() {
    let (sb, c) = client();
    let sshd = sshd_for(&c, &[(to_test_daemon().0, &to_test_daemon().1)]);
    // known_hosts holds another key for this host:port.
    let other = crate::support::sshd::keygen(&sb.path("impostor"));
    c.trust(sshd.port, &other);
    context(&sb, "moved", &format!("ssh://root@127.0.0.1:{}", sshd.port));
    let r = fails_with(&sb, "moved", "ssh-host-key-changed");
    // A possible man-in-the-middle, the key it presents; the fix says not
    // to accept it blindly (no ssh-keyscan).
    let f = finding(&r, "ssh-host-key-changed");
    let fp = fingerprint(&sshd.host_key);
    finding_snapshot(&sb, f, "host-key-changed", &[(&fp, "[HOST_KEY_FP]")]);
    assert!(
        step(&r, "ssh-handshake")["detail"]
            .as_str()
            .unwrap()
            .contains("Offending"),
        "{r:#}"
    );
    docker_fails_saying(&sb, "moved", "REMOTE HOST IDENTIFICATION HAS CHANGED");
}

#[test]
fn unauthorized_key_names_the_keys_offered() {
    let (sb, c) = client();
    // sshd knows only somebody else's key.
    let stranger = crate::support::sshd::keygen(&sb.path("stranger"));
    let sshd = Sshd::start(&authorized(&stranger, &[]));
    c.trust(sshd.port, &sshd.host_key);
    context(&sb, "nokey", &format!("ssh://root@127.0.0.1:{}", sshd.port));
    let r = fails_with(&sb, "nokey", "ssh-auth-refused");
    // The key offered (ours), and ssh-copy-id -p PORT root@127.0.0.1.
    let f = finding(&r, "ssh-auth-refused");
    let fp = fingerprint(&c.key);
    finding_snapshot(&sb, f, "auth-refused", &[(&fp, "[CLIENT_KEY_FP]")]);
    assert_eq!(step(&r, "ssh-handshake")["state"], "ok", "{r:#}");
    assert!(
        step(&r, "ssh-auth")["detail"]
            .as_str()
            .unwrap()
            .contains("Permission denied (publickey)"),
        "{r:#}"
    );
    docker_fails_saying(&sb, "nokey", "Permission denied (publickey)");
}

#[test]
fn user_without_socket_access_gets_usermod() {
    let (sb, c) = client();
    let user = other_user();
    let sshd = sshd_for(&c, &[(to_test_daemon().0, &to_test_daemon().1)]);
    c.trust(sshd.port, &sshd.host_key);
    context(
        &sb,
        "nogroup",
        &format!("ssh://{user}@127.0.0.1:{}", sshd.port),
    );
    let r = fails_with(&sb, "nogroup", "ssh-socket-denied");
    // usermod -aG docker USER.
    let f = finding(&r, "ssh-socket-denied");
    finding_snapshot(&sb, f, "socket-denied", &[]);
    assert_eq!(step(&r, "ssh-auth")["state"], "ok", "{r:#}");
    assert!(
        step(&r, "dial-stdio")["detail"]
            .as_str()
            .unwrap()
            .contains("connect: permission denied"),
        "{r:#}"
    );
    // The docker CLI fails too, without saying why.
    docker_fails_saying(&sb, "nogroup", "Cannot connect to the Docker daemon");
}

#[test]
fn no_docker_on_the_remote_path() {
    let (sb, c) = client();
    let sshd = sshd_for(
        &c,
        &[
            (to_test_daemon().0, &to_test_daemon().1),
            ("PATH", "/nonexistent"),
        ],
    );
    c.trust(sshd.port, &sshd.host_key);
    context(
        &sb,
        "nodocker",
        &format!("ssh://root@127.0.0.1:{}", sshd.port),
    );
    let r = fails_with(&sb, "nodocker", "ssh-no-docker");
    assert!(
        step(&r, "dial-stdio")["detail"]
            .as_str()
            .unwrap()
            .contains("docker: command not found"),
        "{r:#}"
    );
    docker_fails_saying(&sb, "nodocker", "docker: command not found");
}

#[test]
fn remote_daemon_not_running() {
    let (sb, c) = client();
    let gone = format!("unix://{}", sb.path("no-daemon.sock").display());
    let sshd = sshd_for(&c, &[("DOCKER_HOST", &gone)]);
    c.trust(sshd.port, &sshd.host_key);
    context(
        &sb,
        "nodaemon",
        &format!("ssh://root@127.0.0.1:{}", sshd.port),
    );
    let r = fails_with(&sb, "nodaemon", "ssh-daemon-not-running");
    assert!(
        step(&r, "dial-stdio")["detail"]
            .as_str()
            .unwrap()
            .contains("connect: no such file or directory"),
        "{r:#}"
    );
    docker_fails_saying(&sb, "nodaemon", "Cannot connect to the Docker daemon");
}

#[test]
fn sshd_down_is_connection_refused() {
    let (sb, _c) = client();
    let port = free_port();
    context(&sb, "down", &format!("ssh://root@127.0.0.1:{port}"));
    let r = fails_with(&sb, "down", "connection-refused");
    // The fix: start sshd.
    finding_snapshot(&sb, finding(&r, "connection-refused"), "sshd-down", &[]);
    assert_eq!(step(&r, "connect")["state"], "fail", "{r:#}");
    assert!(
        step(&r, "connect")["detail"]
            .as_str()
            .unwrap()
            .starts_with("ssh: connect to host 127.0.0.1"),
        "{r:#}"
    );
    docker_fails_saying(&sb, "down", "Connection refused");
}

#[test]
fn unresolvable_host_is_a_dns_failure() {
    let (sb, _c) = client();
    context(&sb, "nodns", "ssh://root@dctx-ssh-test.invalid");
    let r = fails_with(&sb, "nodns", "dns-failure");
    // ssh's own words: Could not resolve hostname.
    let f = finding(&r, "dns-failure");
    finding_snapshot(&sb, f, "dns-failure", &[]);
    assert_eq!(step(&r, "resolve")["state"], "fail", "{r:#}");
    docker_fails_saying(&sb, "nodns", "Could not resolve hostname");
}

/// ssh processes whose command line mentions `port`.
fn ssh_children(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_ssh = args.first().is_some_and(|a| a.ends_with("ssh"));
        if is_ssh && args.iter().any(|a| a == &port.to_string()) {
            found.push(args.join(" "));
        }
    }
    found
}

fn spawn_docker_version(sb: &Sandbox, name: &str) -> Child {
    sb.docker()
        .args([
            "--context",
            name,
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn silent_peer_times_out_and_ssh_is_reaped() {
    let (sb, _c) = client();
    let port = peers::silent();
    context(&sb, "silent", &format!("ssh://root@127.0.0.1:{port}"));
    let mut docker = spawn_docker_version(&sb, "silent");
    let t0 = Instant::now();
    // ssh's own ConnectTimeout is then 3 s: a leaked ssh would still be
    // alive when check returns.
    let (exit, r) = check(&sb, "silent", "2.5");
    let took = t0.elapsed();
    assert!(
        ssh_children(port).iter().all(|c| !c.contains("-v")),
        "{:?}",
        ssh_children(port)
    );
    assert_eq!(exit, 3, "{r:#}");
    let f = finding(&r, "timeout");
    assert_eq!(f["phase"], "ssh-handshake", "{r:#}");
    // The deadline is the feature: generous margin on a busy machine.
    assert!(took < Duration::from_secs(7), "check took {took:?}");
    let (exit, r) = doctor(&sb, "silent", "2.5");
    assert_eq!(exit, 3, "{r:#}");
    assert_eq!(step(&r, "connect")["state"], "ok", "{r:#}");
    assert_eq!(step(&r, "ssh-handshake")["state"], "fail", "{r:#}");
    // The docker CLI does not get an answer either (it hangs: docker/cli#1739).
    assert!(
        !matches!(docker.try_wait(), Ok(Some(s)) if s.success()),
        "docker --context silent version worked"
    );
    let _ = docker.kill();
    let _ = docker.wait();
}

#[test]
fn mixed_fleet_is_probed_in_parallel() {
    let (sb, c) = client();
    // A TLS profile next to the ssh contexts.
    sb.add_client_profile("tls", &[]);
    let sshd = sshd_for(&c, &[(to_test_daemon().0, &to_test_daemon().1)]);
    c.trust(sshd.port, &sshd.host_key);
    context(
        &sb,
        "ssh-ok",
        &format!("ssh://root@127.0.0.1:{}", sshd.port),
    );
    for n in ["ssh-hang-1", "ssh-hang-2", "ssh-hang-3"] {
        context(&sb, n, &format!("ssh://root@127.0.0.1:{}", peers::silent()));
    }
    let t0 = Instant::now();
    let out = sb
        .dctx()
        .args(["check", "--json", "--timeout", "5"])
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("no row {n}: {v:#}"))
            .clone()
    };
    assert_eq!(row("tls")["status"], "ok", "{v:#}");
    assert_eq!(row("ssh-ok")["status"], "ok", "{v:#}");
    for n in ["ssh-hang-1", "ssh-hang-2", "ssh-hang-3"] {
        assert_eq!(row(n)["findings"][0]["code"], "timeout", "{v:#}");
    }
    // Three 5 s deadlines in sequence would take 15 s.
    assert!(took < Duration::from_secs(12), "check took {took:?}");
}
