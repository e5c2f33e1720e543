//! Startup discipline: `env`, `ls`, `use`, `completions` and dynamic
//! completion run in shell rc files, prompts and on TAB. Traced with strace,
//! they must not create a socket or connect anywhere, must not start a thread
//! (an async runtime would), and `env` / `use` / completion must not parse any
//! profile but the one they name. A positive control (`dctx check`) proves the
//! trace sees sockets and runtime threads when they happen.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use crate::support::{Sandbox, assert_success};

/// The syscalls `cmd` made (names, across all threads), and every path it opened.
fn trace_any(sb: &Sandbox, cmd: Command, what: &str) -> (Output, BTreeSet<String>, Vec<String>) {
    let log = sb.path(&format!("strace-{}.txt", what.replace(' ', "_")));
    let mut st = Command::new("strace");
    st.args([
        "-f",
        "-qq",
        "-e",
        "trace=network,clone,clone3,fork,vfork,openat,open",
        "-o",
    ])
    .arg(&log)
    .arg(cmd.get_program())
    .args(cmd.get_args());
    st.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            st.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        st.current_dir(dir);
    }
    let out = match st.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run strace ({e}): install it (.ci/test does)"),
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let mut calls = BTreeSet::new();
    let mut opened = Vec::new();
    for line in text.lines() {
        // "PID name(args…) = ret", or "PID <... name resumed>…"
        let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        calls.insert(name.to_string());
        if (name == "openat" || name == "open")
            && let Some(path) = args.split('"').nth(1)
        {
            opened.push(path.to_string());
        }
    }
    (out, calls, opened)
}

/// `trace_any`, expecting success.
fn trace(sb: &Sandbox, cmd: Command, what: &str) -> (BTreeSet<String>, Vec<String>) {
    let (out, calls, opened) = trace_any(sb, cmd, what);
    assert_success(&out, what);
    (calls, opened)
}

fn dctx(sb: &Sandbox, args: &[&str]) -> Command {
    let mut c = sb.dctx();
    c.args(args);
    c
}

fn assert_quiet(calls: &BTreeSet<String>, what: &str) {
    for bad in [
        "socket", "connect", "clone", "clone3", "fork", "vfork", "sendto", "bind",
    ] {
        assert!(
            !calls.contains(bad),
            "`{what}` made a {bad}() call; it must stay off the network and single-threaded: {calls:?}"
        );
    }
}

fn profile_jsons(opened: &[String]) -> Vec<&str> {
    opened
        .iter()
        .map(String::as_str)
        .filter(|p| p.ends_with("profile.json"))
        .collect()
}

#[test]
fn hot_path_commands_start_no_runtime_touch_no_network_parse_one_profile() {
    let sb = Sandbox::new();
    // Nothing listens on port 1 of 127.0.0.1: the control probe is refused at once.
    sb.ok(&["add", "prod", "--host", "tcp://127.0.0.1:1"]);
    sb.ok(&["add", "other", "--host", "tcp://127.0.0.1:1"]);

    // Positive control: `check` does open a socket and start runtime threads.
    let (out, calls, _) = trace_any(&sb, dctx(&sb, &["check", "prod"]), "check prod");
    // Exit 3: the daemon is unreachable, which is the point.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        calls.contains("socket") && calls.contains("connect"),
        "{calls:?}"
    );
    assert!(
        calls.contains("clone3") || calls.contains("clone"),
        "{calls:?}"
    );

    // `ls` parses every profile (it lists them) but stays local and single-threaded.
    let (calls, _) = trace(&sb, dctx(&sb, &["ls"]), "ls");
    assert_quiet(&calls, "dctx ls");
    let (calls, _) = trace(&sb, dctx(&sb, &["ls", "--json"]), "ls --json");
    assert_quiet(&calls, "dctx ls --json");

    // From here on another profile is corrupt: whoever parses it fails.
    let store = sb.store();
    std::fs::write(store.join("profiles/other/profile.json"), "{corrupt").unwrap();
    let prod_json = store.join("profiles/prod/profile.json");

    for args in [
        &["env", "prod"][..],
        &["env", "prod", "--shell", "fish"][..],
        &["env", "--unset"][..],
    ] {
        let what = format!("dctx {}", args.join(" "));
        let (calls, opened) = trace(&sb, dctx(&sb, args), &what);
        assert_quiet(&calls, &what);
        let want: Vec<&str> = if args.contains(&"--unset") {
            vec![]
        } else {
            vec![prod_json.to_str().unwrap()]
        };
        assert_eq!(profile_jsons(&opened), want, "{what} opened {opened:#?}");
        assert!(
            !opened.iter().any(|p| p.ends_with(".pem")),
            "{what} read certificate files: {opened:#?}"
        );
    }

    // A foreign TLS context: `env` reads its meta.json (and the TLS files'
    // presence), nothing else: no other context, no PEM, no profile.
    let b = sb.client_bundle();
    let spec = format!(
        "host=tcp://127.0.0.1:1,ca={},cert={},key={}",
        b.join("ca.pem").display(),
        b.join("cert.pem").display(),
        b.join("key.pem").display()
    );
    let out = sb
        .docker()
        .args(["context", "create", "theirs", "--docker", &spec])
        .output()
        .unwrap();
    assert_success(&out, "docker context create theirs");
    let (calls, opened) = trace(&sb, dctx(&sb, &["env", "theirs"]), "env theirs");
    assert_quiet(&calls, "dctx env theirs");
    let metas: Vec<&String> = opened.iter().filter(|p| p.ends_with("meta.json")).collect();
    assert_eq!(metas.len(), 1, "{opened:#?}");
    assert!(profile_jsons(&opened).is_empty(), "{opened:#?}");
    assert!(!opened.iter().any(|p| p.ends_with(".pem")), "{opened:#?}");

    // `current` (prompts): config.json at most, nothing else of the stores.
    let (calls, opened) = trace(&sb, dctx(&sb, &["current"]), "current");
    assert_quiet(&calls, "dctx current");
    let store_files: Vec<&String> = opened
        .iter()
        .filter(|p| p.contains("home dir") && !p.ends_with("config.json"))
        .collect();
    assert!(store_files.is_empty(), "{store_files:#?}");
    // In a `dctx env prod` shell: prod's two files, nothing else.
    let mut cur = dctx(&sb, &["current"]);
    cur.env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .env("DCTX_PROFILE", "prod");
    let (out, calls, opened) = trace_any(&sb, cur, "current in dctx env");
    assert_success(&out, "current in dctx env");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "prod\n");
    assert_quiet(&calls, "dctx current (dctx env)");
    assert_eq!(
        profile_jsons(&opened),
        [prod_json.to_str().unwrap()],
        "{opened:#?}"
    );
    assert!(!opened.iter().any(|p| p.ends_with(".pem")), "{opened:#?}");

    let (calls, opened) = trace(&sb, dctx(&sb, &["use", "prod"]), "use prod");
    assert_quiet(&calls, "dctx use prod");
    assert!(profile_jsons(&opened).is_empty(), "{opened:#?}");
    let (calls, _) = trace(&sb, dctx(&sb, &["use", "-"]), "use -");
    assert_quiet(&calls, "dctx use -");

    let (calls, _) = trace(&sb, dctx(&sb, &["completions", "bash"]), "completions bash");
    assert_quiet(&calls, "dctx completions bash");

    // What the bash registration script runs on TAB after `dctx env pr`.
    let mut tab = dctx(&sb, &["--", "dctx", "env", "pr"]);
    tab.env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n");
    let (calls, opened) = trace(&sb, tab, "dynamic completion");
    assert_quiet(&calls, "COMPLETE=bash dctx -- dctx env pr");
    assert!(profile_jsons(&opened).is_empty(), "{opened:#?}");
}
