//! What each command prints, whole: exit status, stdout and stderr of `ls`,
//! `show`, `check`, `doctor` (text and JSON), `env` in every shell syntax,
//! `pki` and the main errors, as insta snapshots (tests/it/snapshots/,
//! support::snap). A changed word, column or exit code is a reviewed diff.

use crate::support::snap::{Filters, dctx_snapshot, text_snapshot};
use crate::support::{Leaf, Sandbox, TestCa, dockerd, free_port};

/// A bundle dir `rel` of `ca` + `leaf`.
fn bundle(sb: &Sandbox, rel: &str, ca: &str, leaf: &crate::support::Issued) -> String {
    let dir = sb.path(rel);
    crate::support::write_bundle(&dir, ca, leaf);
    dir.to_str().unwrap().to_string()
}

/// The shared daemon reached four ways: `prod` healthy (current), `expired`
/// with a client cert expired 3.5 days ago, `wrong-ca` with a client cert
/// of a CA the daemon does not trust, `down` where nothing listens; plus
/// `env-only` (no Docker context) and `foreign`, a context the docker CLI
/// made.
fn fleet() -> Sandbox {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--use"]);
    // Half a day off a day boundary: the same day count whenever it runs.
    let mut old = Leaf::client("old-client").days(-3);
    old.not_after -= time::Duration::hours(12);
    let old = d.ca.issue(&old);
    let dir = bundle(&sb, "expired", &d.ca.cert_pem, &old);
    sb.ok(&[
        "add", "expired", "--bundle", &dir, "--host", &d.host, "--force",
    ]);
    let other = TestCa::new("stranger CA");
    let stranger = other.client("stranger-client");
    // The daemon's CA to verify the daemon, a client cert it never issued.
    let dir = sb.path("wrong-ca");
    crate::support::write_bundle(&dir, &d.ca.cert_pem, &stranger);
    sb.ok(&[
        "add",
        "wrong-ca",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
        "--force",
    ]);
    let bundle = sb.client_bundle();
    sb.ok(&[
        "add",
        "down",
        "--bundle",
        bundle.to_str().unwrap(),
        "--host",
        &format!("tcp://127.0.0.1:{}", free_port()),
    ]);
    sb.add_client_profile("env-only", &["--no-context"]);
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
    sb
}

fn dctx(sb: &Sandbox, args: &[&str]) -> std::process::Command {
    let mut c = sb.dctx();
    c.args(args);
    c
}

#[test]
fn ls_and_show() {
    let sb = fleet();
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, dctx(&sb, &["ls"]), "ls");
    dctx_snapshot!(f, dctx(&sb, &["ls", "--json"]), "ls-json");
    for name in ["prod", "expired", "foreign", "env-only"] {
        dctx_snapshot!(f, dctx(&sb, &["show", name]), format!("show-{name}"));
        dctx_snapshot!(
            f,
            dctx(&sb, &["show", name, "--json"]),
            format!("show-{name}-json")
        );
    }
}

#[test]
fn check_text_and_json() {
    let sb = fleet();
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, dctx(&sb, &["check", "--timeout", "10"]), "check");
    dctx_snapshot!(
        f,
        dctx(&sb, &["check", "--timeout", "10", "--json"]),
        "check-json"
    );
    dctx_snapshot!(f, dctx(&sb, &["check", "prod"]), "check-prod");
}

#[test]
fn doctor_healthy_and_faults() {
    let sb = fleet();
    let f = Filters::sandbox(&sb);
    for name in ["prod", "expired", "wrong-ca", "down"] {
        dctx_snapshot!(
            f,
            dctx(&sb, &["doctor", name, "--timeout", "10"]),
            format!("doctor-{name}")
        );
        dctx_snapshot!(
            f,
            dctx(&sb, &["doctor", name, "--timeout", "10", "--json"]),
            format!("doctor-{name}-json")
        );
    }
}

#[test]
fn env_in_every_shell_syntax() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--no-context"]);
    let f = Filters::sandbox(&sb);
    for shell in [
        "bash",
        "zsh",
        "sh",
        "fish",
        "powershell",
        "cmd",
        "nu",
        "tcsh",
    ] {
        dctx_snapshot!(
            f,
            dctx(&sb, &["env", "prod", "--shell", shell]),
            format!("env-{shell}")
        );
        dctx_snapshot!(
            f,
            dctx(&sb, &["env", "--unset", "--shell", shell]),
            format!("env-unset-{shell}")
        );
    }
}

#[test]
fn pki_subcommands() {
    let sb = Sandbox::new();
    let f = Filters::sandbox(&sb);
    let pki = |args: &[&str]| {
        let mut c = sb.dctx();
        c.arg("pki").args(args);
        c
    };
    dctx_snapshot!(f, pki(&["init", "--cn", "snap CA"]), "pki-init");
    dctx_snapshot!(f, pki(&["init", "--cn", "again"]), "pki-init-exists");
    dctx_snapshot!(
        f,
        pki(&[
            "server",
            "--host",
            "docker.example.com",
            "--host",
            "10.0.0.5",
            "--out",
            "srv",
        ]),
        "pki-server"
    );
    dctx_snapshot!(
        f,
        pki(&["client", "alice", "--out", "alice.tar"]),
        "pki-client"
    );
    dctx_snapshot!(
        f,
        pki(&[
            "daemon-config",
            "--listen",
            "tcp://0.0.0.0:2376",
            "--cert-dir",
            "/etc/docker/tls",
        ]),
        "pki-daemon-config"
    );
    dctx_snapshot!(f, pki(&["ls"]), "pki-ls");
    dctx_snapshot!(f, pki(&["ls", "--json"]), "pki-ls-json");
    dctx_snapshot!(
        f,
        pki(&["renew", "alice", "--out", "alice2.tar"]),
        "pki-renew"
    );
    dctx_snapshot!(
        f,
        pki(&["revoke", "alice", "--reason", "key-compromise"]),
        "pki-revoke"
    );
    dctx_snapshot!(f, pki(&["crl", "-o", "ca.crl"]), "pki-crl");
    dctx_snapshot!(f, pki(&["crl", "--check", "ca.crl"]), "pki-crl-check");
    dctx_snapshot!(
        f,
        pki(&["server", "--host", "bad host!", "--out", "x"]),
        "pki-server-bad-host"
    );
}

/// The errors people meet first, with their exit codes: 1 for a refused
/// request, 2 for a usage mistake.
#[test]
fn main_error_messages() {
    let sb = Sandbox::new();
    sb.ok(&["add", "prod-eu", "--host", "tcp://127.0.0.1:2375"]);
    let f = Filters::sandbox(&sb);
    for (name, args) in [
        ("err-show-unknown", &["show", "prod-us"][..]),
        ("err-use-unknown", &["use", "nosuch"]),
        ("err-env-unknown", &["env", "nosuch", "--shell", "bash"]),
        ("err-check-unknown", &["check", "nosuch"]),
        ("err-rm-unknown", &["rm", "nosuch"]),
        (
            "err-add-bad-scheme",
            &["add", "xy", "--host", "htp://127.0.0.1:2376"],
        ),
        (
            "err-add-bad-port",
            &["add", "xy", "--host", "tcp://127.0.0.1:123456"],
        ),
        ("err-add-no-host", &["add", "xy", "--host", "tcp://"]),
        (
            "err-add-missing-bundle",
            &["add", "xy", "--bundle", "nosuch.tar"],
        ),
        (
            "err-add-missing-ca",
            &[
                "add",
                "xy",
                "--ca",
                "nosuch.pem",
                "--host",
                "tcp://127.0.0.1:2376",
            ],
        ),
        (
            "err-add-exists",
            &["add", "prod-eu", "--host", "tcp://127.0.0.1:2376"],
        ),
        (
            "err-add-bad-name",
            &["add", "a/b", "--host", "tcp://127.0.0.1:2376"],
        ),
        ("err-usage-unknown-flag", &["ls", "--bogus"]),
        ("err-usage-unknown-command", &["lss"]),
        ("err-usage-missing-arg", &["show"]),
        ("err-usage-bad-shell", &["env", "prod-eu", "--shell", "ksh"]),
        ("err-explain-unknown", &["explain", "unknown-cert"]),
    ] {
        dctx_snapshot!(f, dctx(&sb, args), name);
    }
}

/// A fixed text against a committed snapshot; the environment can change
/// the text or the name, for `ci_never_accepts_a_snapshot` to run it as a
/// child test.
#[test]
fn snapshot_probe() {
    let text = std::env::var("DCTX_SNAP_PROBE").unwrap_or_else(|_| "as committed\n".into());
    let name = std::env::var("DCTX_SNAP_PROBE_NAME").unwrap_or_else(|_| "probe".into());
    text_snapshot!(Filters::default(), name, text);
}

/// Under CI a changed output or a missing snapshot file fails, whatever
/// INSTA_* says, and no snapshot file is written or changed.
#[test]
fn ci_never_accepts_a_snapshot() {
    let probe = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "outputs::snapshot_probe", "--test-threads", "1"])
            .env_remove("INSTA_UPDATE")
            .env_remove("INSTA_FORCE_PASS")
            .env("CI", "true")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        out.status.success()
    };
    let ours = || -> Vec<(String, String)> {
        crate::support::snapshot(std::path::Path::new(crate::support::snap::DIR))
            .into_iter()
            .filter(|(k, _)| k.starts_with("it__outputs__probe") || k.contains("no-such"))
            .collect()
    };
    let before = ours();
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(probe(&[]), "the unchanged probe must pass");
    let changed = ("DCTX_SNAP_PROBE", "changed\n");
    assert!(!probe(&[changed]), "a changed output passed under CI");
    for shortcut in [
        ("INSTA_FORCE_PASS", "1"),
        ("INSTA_UPDATE", "always"),
        ("INSTA_UPDATE", "force"),
        ("INSTA_UPDATE", "unseen"),
        ("INSTA_UPDATE", "new"),
        ("DCTX_UPDATE_SNAPSHOTS", "1"),
    ] {
        assert!(
            !probe(&[changed, shortcut]),
            "{shortcut:?} passed a changed output under CI"
        );
    }
    assert!(
        !probe(&[("DCTX_SNAP_PROBE_NAME", "no-such")]),
        "a missing snapshot file passed under CI"
    );
    assert_eq!(ours(), before, "a snapshot file was written under CI");
}
