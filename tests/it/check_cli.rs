//! `dctx check` / `dctx doctor` end to end: profiles made with `dctx add`,
//! Docker contexts made with the docker CLI, real daemons and peers.

use std::time::{Duration, Instant};

use crate::support::snap::{Filters, dctx_snapshot, text_snapshot};
use crate::support::{Sandbox, assert_success, dockerd};

fn sandbox_with_prod() -> Sandbox {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    sb
}

/// Run dctx, assert its exit status (stderr shown on failure), parse stdout.
fn run_json(sb: &Sandbox, args: &[&str], code: i32) -> serde_json::Value {
    let out = sb.dctx().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn healthy_profile_is_ok_with_the_real_server_version() {
    let d = dockerd();
    let sb = sandbox_with_prod();
    let v = run_json(&sb, &["check", "--json"], 0);
    // docker's `default` comes first (as in `docker context ls`), here
    // through DOCKER_HOST at the same daemon's unix socket.
    let def = &v.as_array().unwrap()[0];
    assert_eq!(def["name"], "default");
    assert_eq!(def["status"], "ok", "{def:#}");
    assert_eq!(def["docker"]["version"], d.version.as_str());
    let r = &v.as_array().unwrap()[1];
    assert_eq!(r["name"], "prod");
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(r["docker"]["version"], d.version.as_str());
    assert!(r["client_cert"]["days_left"].as_i64().unwrap() > 300);
    assert!(
        r["server_cert"]["sans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "IP:127.0.0.1")
    );
    // The table has the documented columns and the version.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["check", "prod"]), "check-prod");
    // doctor: every layer, as text and as one JSON object.
    dctx_snapshot!(f, sb.dctx_cmd(&["doctor", "prod"]), "doctor-prod");
    let out = sb
        .dctx()
        .args(["doctor", "prod", "--json"])
        .output()
        .unwrap();
    assert_success(&out, "doctor --json");
    let v = json(&out);
    assert_eq!(v["status"], "ok");
    assert!(v["steps"].as_array().unwrap().len() >= 10);
}

#[test]
fn failing_daemons_give_exit_3_with_stable_codes() {
    let d = dockerd();
    let sb = sandbox_with_prod();
    let dead = crate::support::free_port();
    let dir = sb.path("bundle");
    sb.ok(&[
        "add",
        "dead",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &format!("tcp://127.0.0.1:{dead}"),
    ]);
    sb.ok(&["add", "plain", "--host", &d.host]);
    // A Docker context dctx did not create is probed too.
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            "foreign",
            "--docker",
            &format!("host=tcp://127.0.0.1:{dead}"),
        ])
        .output()
        .unwrap();
    assert_success(&out, "docker context create");
    // Exit 3, and each failure's stable code: connection-refused for dead
    // and foreign, tls-expected for plain.
    let f = Filters::sandbox(&sb);
    let out = dctx_snapshot!(f, sb.dctx_cmd(&["check", "--json"]), "check-json");
    let v = json(&out);
    let by = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("prod")["status"], "ok");
    assert_eq!(by("dead")["status"], "fail");
    // Only the named ones, and a healthy subset exits 0.
    let out = sb.dctx().args(["check", "prod"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    dctx_snapshot!(f, sb.dctx_cmd(&["doctor", "dead"]), "doctor-dead");
    dctx_snapshot!(f, sb.dctx_cmd(&["check", "nosuch"]), "check-unknown");
}

#[test]
fn a_silent_peer_cannot_hang_check() {
    let sb = sandbox_with_prod();
    // Accepts TCP and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let dir = sb.path("bundle");
    sb.ok(&[
        "add",
        "silent",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &format!("tcp://127.0.0.1:{port}"),
    ]);
    let t = Instant::now();
    let out = sb
        .dctx()
        .args(["check", "--json", "--timeout", "1"])
        .output()
        .unwrap();
    let took = t.elapsed();
    // The deadline is the feature; the margin is for a busy 2-core machine.
    assert!(took < Duration::from_secs(10), "check took {took:?}");
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    let silent = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "silent")
        .unwrap();
    let f = &silent["findings"][0];
    assert_eq!(f["code"], "timeout", "{silent:#}");
    assert_eq!(f["phase"], "handshake");
    let prod = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "prod")
        .unwrap();
    assert_eq!(prod["status"], "ok");
}

#[test]
fn keyring_profiles_are_probed_with_the_key_in_memory() {
    let d = dockerd();
    let sb = Sandbox::new().with_keyring();
    sb.add_client_profile("vault", &["--key-store", "keyring"]);
    let v = run_json(&sb, &["check", "--json", "vault"], 0);
    assert_eq!(v[0]["docker"]["version"], d.version.as_str());
    sb.ok(&["rm", "vault"]);
}

#[test]
fn weaker_modes_are_flagged_by_check() {
    let d = dockerd();
    let sb = Sandbox::new().with_local_daemon();
    let dir = sb.client_bundle();
    sb.add_client_profile("unverified", &["--skip-verify"]);
    let socket = format!("unix://{}", d.socket.display());
    sb.ok(&["add", "local", "--host", &socket]);
    let v: serde_json::Value = serde_json::from_str(&sb.ok(&["check", "--json"])).unwrap();
    let unverified = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "unverified")
        .unwrap();
    assert_eq!(unverified["status"], "warn", "{unverified:#}");
    assert!(
        unverified["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "skip-verify")
    );
    assert_eq!(unverified["docker"]["version"], d.version.as_str());
    let local = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "local")
        .unwrap();
    assert_eq!(local["status"], "ok", "{local:#}");
    assert_eq!(local["docker"]["version"], d.version.as_str());
    // The docker CLI agrees with the skip-verify context dctx wrote.
    assert_eq!(sb.context_server_version("unverified"), d.version);
    // And with the env profile (DOCKER_TLS, not DOCKER_TLS_VERIFY).
    let dctx = env!("CARGO_BIN_EXE_dctx");
    let out = sb
        .cmd("bash")
        .arg("-c")
        .arg(format!("eval \"$({dctx} env unverified --shell bash)\"; test -z \"$DOCKER_TLS_VERIFY\" && docker version --format '{{{{.Server.Version}}}}'"))
        .output()
        .unwrap();
    assert_success(&out, "env skip-verify");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), d.version);

    // System roots: our test CA is not among them, so the daemon is unknown,
    // and the docker CLI (via env) must fail on trust, not on a missing ca.pem.
    sb.ok(&[
        "add",
        "public",
        "--cert",
        dir.join("cert.pem").to_str().unwrap(),
        "--key",
        dir.join("key.pem").to_str().unwrap(),
        "--host",
        &d.host,
        "--system-roots",
    ]);
    let out = sb
        .dctx()
        .args(["check", "--json", "public"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "unknown-ca"),
        "{v:#}"
    );
    let out = sb
        .cmd("bash")
        .arg("-c")
        .arg(format!(
            "eval \"$({dctx} env public --shell bash)\"; docker version"
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown authority") && !err.contains("no such file"),
        "{err}"
    );
    // ls says which profiles verify the daemon how (NOT verified, system
    // roots); `local`'s socket path is as wide as the machine's temp dir.
    let mut f = Filters::sandbox(&sb);
    f.collapse_columns();
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-weaker-modes");
}

/// On a terminal (a real pty via util-linux `script`) `check` shows progress
/// on stderr and draws a table; piped, it shows neither progress nor colour.
#[test]
fn progress_and_colour_only_on_a_terminal() {
    let sb = sandbox_with_prod();
    let dctx = env!("CARGO_BIN_EXE_dctx");
    let out = sb
        .cmd("script")
        .args(["-qec", &format!("{dctx} check"), "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert_success(&out, "script dctx check");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("probing… 1/2") || tty.contains("probing… 2/2"),
        "{tty:?}"
    );
    assert!(tty.contains("\x1b["), "no terminal styling: {tty:?}");
    assert!(tty.contains("prod"), "{tty:?}");
    let piped = sb.dctx().args(["check"]).output().unwrap();
    let all = [piped.stdout, piped.stderr].concat();
    let piped = String::from_utf8_lossy(&all);
    assert!(
        !piped.contains("probing") && !piped.contains('\x1b'),
        "{piped:?}"
    );
}

/// Naming a profile reads only that profile: a broken neighbour (here a
/// corrupt profile.json) does not stop `check prod` or `exec prod`.
#[test]
fn named_targets_ignore_unrelated_profiles() {
    let d = dockerd();
    let sb = sandbox_with_prod();
    sb.ok(&["add", "other", "--host", "tcp://127.0.0.1:2375"]);
    std::fs::write(sb.store().join("profiles/other/profile.json"), "{oops").unwrap();
    let v = run_json(&sb, &["check", "--json", "prod"], 0);
    assert_eq!(v[0]["docker"]["version"], d.version.as_str());
    let out = sb
        .dctx()
        .args(["exec", "prod", "--", "true"])
        .output()
        .unwrap();
    assert_success(&out, "exec prod next to a corrupt profile");
    // Checking everything reports the corrupt one as one failing row; the
    // others are still probed.
    let v = run_json(&sb, &["check", "--json"], 3);
    let rows = v.as_array().unwrap();
    let other = rows.iter().find(|r| r["name"] == "other").unwrap();
    assert_eq!(other["status"], "fail");
    // Its invalid-profile finding says the record is corrupt, and where.
    let finding = other["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "invalid-profile")
        .unwrap_or_else(|| panic!("{other:#}"));
    let mut f = Filters::sandbox(&sb);
    text_snapshot!(f, "corrupt-profile-finding", format!("{finding:#}"));
    let prod = rows.iter().find(|r| r["name"] == "prod").unwrap();
    assert_eq!(prod["status"], "ok");
    // ls shows it as one failing row too ("unreadable record"), and rm
    // removes it.
    f.collapse_columns();
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-corrupt-profile");
    sb.ok(&["rm", "other"]);
    assert!(!sb.store().join("profiles/other").exists());
}

/// A fresh workstation: no DOCKER_HOST, no /var/run/docker.sock, no
/// contexts. `default` is absent (not failed), the exit status is 0 and the
/// next step is printed; named, it is probed and fails.
#[test]
fn unconfigured_default_is_absent_and_the_next_step_is_shown() {
    assert!(
        !std::path::Path::new("/var/run/docker.sock").exists(),
        "this test needs a machine without a local docker socket"
    );
    let sb = Sandbox::new();
    let v = run_json(&sb, &["check", "--json"], 0);
    assert_eq!(v[0]["name"], "default");
    assert_eq!(v[0]["status"], "absent", "{v:#}");
    // Exit 0, the next step (`dctx add NAME --bundle FILE --host
    // tcp://HOST:2376`) and no `dctx doctor default`.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["check"]),
        "check-unconfigured"
    );
    // Asked for by name, it is probed like anything else.
    let v = run_json(&sb, &["check", "default", "--json"], 3);
    assert_eq!(v[0]["status"], "fail", "{v:#}");
    // Metrics: no dctx_up series for it unless named.
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let path = sb.path("m.prom");
    sb.ok(&["metrics", "--textfile", path.to_str().unwrap()]);
    let m = std::fs::read_to_string(&path).unwrap();
    assert!(m.contains("dctx_up{context=\"prod\""), "{m}");
    assert!(!m.contains("context=\"default\""), "{m}");
    sb.ok(&["metrics", "default", "--textfile", path.to_str().unwrap()]);
    let m = std::fs::read_to_string(&path).unwrap();
    assert!(m.contains("dctx_up{context=\"default\""), "{m}");
}

/// `--exclude NAME` leaves a name out of "all" for check and metrics.
#[test]
fn exclude_leaves_a_name_out() {
    let sb = sandbox_with_prod();
    let dead = crate::support::free_port();
    sb.add_client_profile("down", &[]);
    sb.ok(&["set-host", "down", &format!("tcp://127.0.0.1:{dead}")]);
    let out = sb.dctx().args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v = run_json(&sb, &["check", "--json", "--exclude", "down"], 0);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "prod"]);
    let path = sb.path("m.prom");
    sb.ok(&[
        "metrics",
        "--exclude",
        "down",
        "--textfile",
        path.to_str().unwrap(),
    ]);
    let m = std::fs::read_to_string(&path).unwrap();
    assert!(m.contains("dctx_up{context=\"prod\""), "{m}");
    assert!(!m.contains("context=\"down\""), "{m}");
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["check", "--exclude", "nosuch"]),
        "check-exclude-unknown"
    );
}

/// A unix socket has no TCP and no TLS: doctor says "connect" and lists no
/// TLS layer.
#[test]
fn doctor_on_a_unix_socket_lists_no_tls_steps() {
    let sb = Sandbox::new().with_local_daemon();
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["doctor", "default"]),
        "doctor-unix-socket"
    );
}
