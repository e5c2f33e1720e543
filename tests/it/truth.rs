//! One truth: every dctx command sees the endpoint docker will actually use.
//! Each case changes Docker's store with the real docker CLI, then asserts
//! what dctx prints and probes, and that docker agrees.

use std::process::Output;

use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, dockerd};

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `dctx ARGS --json`, asserting the exit status.
fn dctx_json(sb: &Sandbox, args: &[&str], code: i32) -> serde_json::Value {
    let out = sb.dctx().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "dctx {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

fn docker(sb: &Sandbox, args: &[&str]) -> Output {
    sb.docker().args(args).output().unwrap()
}

fn docker_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = docker(sb, args);
    assert_success(&out, &format!("docker {}", args.join(" ")));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn row<'a>(rows: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}: {rows:#}"))
}

#[test]
fn docker_context_update_is_drift_and_check_probes_what_docker_uses() {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("stage", &[]);
    assert_eq!(sb.context_server_version("stage"), d.version);
    // Nothing listens on port 1: docker now fails, and so must dctx.
    docker_ok(
        &sb,
        &[
            "context",
            "update",
            "stage",
            "--docker",
            "host=tcp://127.0.0.1:1",
        ],
    );
    assert!(
        !docker(&sb, &["--context", "stage", "version"])
            .status
            .success()
    );
    // Exit 3: connection-refused at docker's endpoint, and the drift.
    let f = Filters::sandbox(&sb);
    let out = dctx_snapshot!(
        f,
        sb.dctx_cmd(&["check", "stage", "--json"]),
        "host-drift-check"
    );
    assert_eq!(json(&out)[0]["endpoint"], "tcp://127.0.0.1:1");
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    let stage = row(&rows, "stage");
    assert_eq!(stage["endpoint"], "tcp://127.0.0.1:1");
    assert_eq!(stage["source"], "docker-context");
    assert_eq!(stage["drift"][0]["code"], "host");
    // Drift: docker's host vs the one dctx recorded, and (`docker context
    // update --docker host=…` also dropped the TLS files) the removed cert.
    dctx_snapshot!(f, sb.dctx_cmd(&["show", "stage"]), "host-drift-show");
    // Renewal without retyping the host keeps docker's current endpoint…
    let b = sb.client_bundle();
    sb.ok(&["add", "stage", "--bundle", b.to_str().unwrap(), "--replace"]);
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "stage")["endpoint"], "tcp://127.0.0.1:1");
    // …and `dctx set-host` changes it in both places: no drift, healthy.
    sb.ok(&["set-host", "stage", &d.host]);
    assert_eq!(sb.context_server_version("stage"), d.version);
    let r = dctx_json(&sb, &["check", "stage", "--json"], 0);
    assert_eq!(codes(&r[0]), Vec::<String>::new(), "{r:#}");
}

#[test]
fn replaced_tls_files_are_drift_and_probed_as_docker_sees_them() {
    let sb = Sandbox::new();
    sb.add_client_profile("stage", &[]);
    // Another CA in the context's ca.pem: docker no longer trusts the daemon.
    let other = crate::support::TestCa::new("an unrelated authority");
    let hash = hex_sha256("stage");
    let ca = sb
        .docker_config()
        .join("contexts/tls")
        .join(&hash)
        .join("docker/ca.pem");
    std::fs::write(&ca, &other.cert_pem).unwrap();
    let out = docker(&sb, &["--context", "stage", "version"]);
    assert!(!out.status.success());
    // Exit 3: unknown-ca (docker's files are probed) and the drift.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["check", "stage", "--json"]),
        "tls-changed-check"
    );
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "stage")["drift"][0]["code"], "tls-changed");
    // `adopt` accepts docker's version: the drift is gone (the CA is still wrong).
    sb.ok(&["adopt", "stage"]);
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "stage")["drift"], serde_json::json!([]));
    // TLS files removed by hand: drift again, and what docker does (no client cert).
    std::fs::remove_file(ca.with_file_name("cert.pem")).unwrap();
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "stage")["drift"][0]["code"], "tls-removed");
}

#[test]
fn a_context_removed_by_docker_is_reported_not_probed_from_a_stale_copy() {
    let sb = Sandbox::new();
    sb.add_client_profile("stage", &[]);
    docker_ok(&sb, &["context", "rm", "stage"]);
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "stage")["drift"][0]["code"], "context-removed");
    // Exit 3: invalid-profile ("removed outside dctx") and the drift.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["check", "stage", "--json"]),
        "context-removed-check"
    );
    // and it can be removed.
    sb.ok(&["rm", "stage"]);
    assert!(!sb.store().join("profiles/stage").exists());
}

#[test]
fn a_profile_never_silently_shares_a_name_with_another_context() {
    let d = dockerd();
    let sb = Sandbox::new();
    let socket = format!("unix://{}", d.socket.display());
    // An env-only profile first, then docker makes a context of that name.
    sb.ok(&["add", "twin", "--host", "tcp://127.0.0.1:1", "--no-context"]);
    docker_ok(
        &sb,
        &[
            "context",
            "create",
            "twin",
            "--docker",
            &format!("host={socket}"),
        ],
    );
    // One row, docker's endpoint, marked.
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    let twins: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "twin")
        .collect();
    assert_eq!(twins.len(), 1, "{rows:#}");
    assert_eq!(twins[0]["endpoint"], socket.as_str());
    assert_eq!(twins[0]["drift"][0]["code"], "shadowed");
    // check, env and use all go where docker goes.
    let r = dctx_json(&sb, &["check", "twin", "--json"], 0);
    assert_eq!(r[0]["endpoint"], socket.as_str());
    assert_eq!(r[0]["docker"]["version"], d.version.as_str());
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "twin", "--shell", "bash"]),
        "twin-env"
    );
    sb.ok(&["use", "twin"]);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "twin");
    // A new profile cannot take the name of an existing context.
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["add", "twin", "--host", "tcp://127.0.0.1:2", "--no-context"]),
        "twin-add"
    );
    // rm removes dctx's record only, and says so; --force takes the context too.
    dctx_snapshot!(f, sb.dctx_cmd(&["rm", "twin"]), "twin-rm-record");
    assert!(
        docker(&sb, &["context", "inspect", "twin"])
            .status
            .success()
    );
    dctx_snapshot!(f, sb.dctx_cmd(&["rm", "twin"]), "twin-rm-context");
    sb.ok(&["rm", "--force", "twin"]);
    assert!(
        !docker(&sb, &["context", "inspect", "twin"])
            .status
            .success()
    );
}

#[test]
fn default_is_first_class_via_docker_host_and_via_the_socket() {
    let d = dockerd();
    let sb = Sandbox::new();
    let socket = format!("unix://{}", d.socket.display());
    // Via DOCKER_HOST: ls marks it current and says why; check/doctor probe it.
    let mut f = Filters::sandbox(&sb);
    f.collapse_columns();
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["ls"]).env("DOCKER_HOST", &socket),
        "ls-docker-host"
    );
    let out = sb
        .dctx()
        .args(["doctor", "default", "--json"])
        .env("DOCKER_HOST", &socket)
        .output()
        .unwrap();
    assert_success(&out, "doctor default");
    let r = json(&out);
    assert_eq!(r["docker"]["version"], d.version.as_str());
    // Via the local socket: dctx and docker agree on whether it answers.
    let docker_ok = docker(&sb, &["--context", "default", "version"])
        .status
        .success();
    let out = sb
        .dctx()
        .args(["check", "default", "--json"])
        .output()
        .unwrap();
    let r = json(&out);
    assert_eq!(r[0]["endpoint"], "unix:///var/run/docker.sock");
    assert_eq!(
        out.status.code(),
        Some(if docker_ok { 0 } else { 3 }),
        "{r:#}"
    );
    if !docker_ok {
        assert_eq!(codes(&r[0]), vec!["connection-refused"], "{r:#}");
    }
    // `current` and `env default` follow docker's precedence.
    assert_eq!(sb.ok(&["current"]), "default\n");
    let out = sb
        .dctx()
        .args(["current", "--json"])
        .env("DOCKER_CONTEXT", "x1")
        .output()
        .unwrap();
    assert_eq!(
        json(&out),
        serde_json::json!({"name": "x1", "source": "docker-context"})
    );
    let out = sb
        .dctx()
        .args(["current", "--json"])
        .env("DOCKER_CONTEXT", "x1")
        .env("DOCKER_HOST", &socket)
        .output()
        .unwrap();
    assert_eq!(
        json(&out),
        serde_json::json!({"name": "default", "source": "docker-host"})
    );
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["env", "default", "--shell", "bash"]),
        "env-default"
    );
}

#[test]
fn a_foreign_tls_context_works_through_env_in_real_shells() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.client_bundle();
    let spec = format!(
        "host={},ca={},cert={},key={}",
        d.host,
        dir.join("ca.pem").display(),
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    docker_ok(&sb, &["context", "create", "theirs", "--docker", &spec]);
    let fmt = "{{.Server.Version}}";
    for (shell, script) in [
        (
            "bash",
            format!(
                "eval \"$(dctx env theirs --shell bash)\" && docker version --format '{fmt}' && echo \"$DCTX_PROFILE\""
            ),
        ),
        (
            "zsh",
            format!(
                "eval \"$(dctx env theirs --shell zsh)\" && docker version --format '{fmt}' && echo \"$DCTX_PROFILE\""
            ),
        ),
        (
            "fish",
            format!(
                "dctx env theirs --shell fish | source; and docker version --format '{fmt}'; and echo $DCTX_PROFILE"
            ),
        ),
    ] {
        let out = sb
            .cmd(shell)
            .args(["-c", &script])
            .env("PATH", path_with_dctx())
            .output()
            .unwrap();
        assert_success(&out, shell);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}\ntheirs\n", d.version),
            "{shell}"
        );
    }
    // show and check read docker's files.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["show", "theirs"]),
        "show-foreign-tls"
    );
    let r = dctx_json(&sb, &["check", "theirs", "--json"], 0);
    assert_eq!(r[0]["status"], "ok", "{r:#}");
}

#[test]
fn ssh_contexts_are_labelled_ssh_never_plaintext() {
    let sb = Sandbox::new();
    docker_ok(
        &sb,
        &[
            "context",
            "create",
            "viassh",
            "--docker",
            "host=ssh://someone@127.0.0.1:1",
        ],
    );
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "viassh")["tls"], "ssh");
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-ssh");
    // Probed through ssh like docker does: nothing listens on port 1
    // (connection-refused, no plaintext-endpoint).
    dctx_snapshot!(f, sb.dctx_cmd(&["check", "viassh", "--json"]), "check-ssh");
    // dctx add makes them too (no TLS material allowed).
    sb.ok(&["add", "mine", "--host", "ssh://me@127.0.0.1:2"]);
    assert_eq!(
        docker_ok(
            &sb,
            &[
                "context",
                "inspect",
                "mine",
                "--format",
                "{{.Endpoints.docker.Host}}"
            ]
        )
        .trim(),
        "ssh://me@127.0.0.1:2"
    );
    let dir = sb.client_bundle();
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&[
            "add",
            "bad",
            "--host",
            "ssh://me@h",
            "--bundle",
            dir.to_str().unwrap(),
        ]),
        "add-ssh-with-tls"
    );
}

/// PATH with the dctx under test first (shells run `dctx` by name).
pub fn path_with_dctx() -> String {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_dctx"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

pub fn hex_sha256(s: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes()).as_ref())
}

/// What the bash registration script prints on TAB for `words` (the last
/// one being completed).
fn complete(sb: &Sandbox, words: &[&str]) -> Vec<String> {
    let mut args = vec!["--", "dctx"];
    args.extend_from_slice(words);
    let out = sb
        .dctx()
        .args(&args)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", words.len().to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && (l == "-" || !l.starts_with('-')))
        .collect();
    v.sort();
    v
}

#[test]
fn completion_offers_what_each_command_accepts() {
    let sb = Sandbox::new();
    sb.ok(&["add", "ctxone", "--host", "tcp://127.0.0.1:2375"]);
    sb.ok(&[
        "add",
        "envonly",
        "--host",
        "tcp://127.0.0.1:2375",
        "--no-context",
    ]);
    docker_ok(
        &sb,
        &[
            "context",
            "create",
            "theirs",
            "--docker",
            "host=tcp://127.0.0.1:2375",
        ],
    );
    // use: contexts, default and `-`; never an env-only profile.
    assert_eq!(
        complete(&sb, &["use", ""]),
        ["-", "ctxone", "default", "theirs"]
    );
    // env / show / check: everything with an endpoint.
    let all = ["ctxone", "default", "envonly", "theirs"];
    assert_eq!(complete(&sb, &["env", ""]), all);
    assert_eq!(complete(&sb, &["show", ""]), all);
    // rm and its alias: what rm removes (not default).
    let removable = ["ctxone", "envonly", "theirs"];
    assert_eq!(complete(&sb, &["rm", ""]), removable);
    assert_eq!(complete(&sb, &["remove", ""]), removable);
    assert_eq!(complete(&sb, &["adopt", ""]), ["theirs"]);
    // ls -q prints the same names as `docker context ls -q` plus env-only ones.
    assert_eq!(sb.ok(&["ls", "-q"]), "default\nctxone\nenvonly\ntheirs\n");
    // A typo gets a suggestion.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["show", "ctxon"]),
        "show-typo"
    );
}

#[test]
fn use_history_survives_repeating_the_current_one() {
    let sb = Sandbox::new();
    for n in ["alice", "prodx"] {
        sb.ok(&["add", n, "--host", "tcp://127.0.0.1:2375"]);
    }
    sb.ok(&["use", "alice"]);
    sb.ok(&["use", "prodx"]);
    assert_eq!(
        sb.ok(&["use", "prodx"]),
        "Current context is already \"prodx\"\n"
    );
    sb.ok(&["use", "-"]);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "alice");
    sb.ok(&["use", "-"]);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "prodx");
    // Not on a terminal, `use` without a name lists what it accepts.
    assert_eq!(sb.ok(&["use"]), "alice\ndefault\nprodx\n");
}

#[test]
fn mv_renames_everything_docker_and_the_keyring_see() {
    let d = dockerd();
    let sb = Sandbox::new().with_keyring();
    sb.add_client_profile("alpha", &["--use"]);
    sb.ok(&["use", "default"]);
    sb.ok(&["use", "alpha"]);
    sb.ok(&["mv", "alpha", "beta"]);
    assert!(
        !docker(&sb, &["context", "inspect", "alpha"])
            .status
            .success()
    );
    assert_eq!(sb.context_server_version("beta"), d.version);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "beta");
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "beta")["drift"], serde_json::json!([]));
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "alpha")
    );
    // The history follows the rename.
    sb.ok(&["use", "default"]);
    sb.ok(&["use", "-"]);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "beta");
    // A keyring profile's entry moves with it.
    let b = sb.client_bundle();
    sb.ok(&[
        "add",
        "kone",
        "--bundle",
        b.to_str().unwrap(),
        "--host",
        &d.host,
        "--key-store",
        "keyring",
    ]);
    sb.ok(&["mv", "kone", "ktwo"]);
    assert_eq!(sb.keyring_lookup("kone"), None);
    assert!(sb.keyring_lookup("ktwo").is_some());
    let r = dctx_json(&sb, &["check", "ktwo", "--json"], 0);
    assert_eq!(r[0]["docker"]["version"], d.version.as_str());
    // Taken names and docker's default are refused.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["mv", "beta", "ktwo"]), "mv-taken");
    dctx_snapshot!(f, sb.dctx_cmd(&["mv", "default", "x1"]), "mv-default");
}

#[test]
fn a_docker_context_export_pipes_into_add_from_stdin() {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("orig", &[]);
    let export = docker(&sb, &["context", "export", "orig", "-"]);
    assert_success(&export, "docker context export");
    let out = sb.with_stdin(&["add", "copy", "-b", "-"], &export.stdout);
    assert_success(&out, "dctx add copy -b -");
    assert_eq!(sb.context_server_version("copy"), d.version);
    let show = sb.ok(&["show", "copy"]);
    assert!(show.contains(&format!("Endpoint:  {}", d.host)), "{show}");
    // Adopting a foreign context leaves its meta.json byte for byte.
    docker_ok(
        &sb,
        &[
            "context",
            "create",
            "hand",
            "--docker",
            &format!("host={}", d.host),
        ],
    );
    let meta = sb
        .docker_config()
        .join("contexts/meta")
        .join(hex_sha256("hand"))
        .join("meta.json");
    let before = std::fs::read(&meta).unwrap();
    sb.ok(&["adopt", "hand"]);
    assert_eq!(std::fs::read(&meta).unwrap(), before);
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "hand")["kind"], "profile");
}

#[test]
fn a_ca_only_bundle_makes_a_tls_profile_without_client_cert() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.path("caonly");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), &d.ca.cert_pem).unwrap();
    sb.ok(&[
        "add",
        "onlyca",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
    ]);
    let rows = dctx_json(&sb, &["ls", "--json"], 0);
    assert_eq!(row(&rows, "onlyca")["tls"], "server-only");
    let tls = sb
        .docker_config()
        .join("contexts/tls")
        .join(hex_sha256("onlyca"))
        .join("docker");
    assert!(tls.join("ca.pem").exists() && !tls.join("cert.pem").exists());
    // This daemon requires a client certificate: docker and dctx both say no.
    assert!(
        !docker(&sb, &["--context", "onlyca", "version"])
            .status
            .success()
    );
    let r = dctx_json(&sb, &["check", "onlyca", "--json"], 3);
    assert!(
        codes(&r[0]).contains(&"client-cert-missing".into()),
        "{r:#}"
    );
}

/// bash running `script` with dctx on PATH, in the sandbox's environment
/// (no DOCKER_* of the test's own); returns stdout, asserting success.
fn bash(sb: &Sandbox, script: &str, extra: &[(&str, &str)]) -> String {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_dctx"))
        .parent()
        .unwrap();
    let mut c = sb.cmd("bash");
    c.args(["--norc", "--noprofile", "-c", script]).env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert_success(&out, script);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `current` after `eval "$(dctx env prod)"` is prod (source dctx-env), as
/// docker's target is prod's daemon; one variable changed by hand and it is
/// docker's `default` again (DOCKER_HOST decides).
#[test]
fn current_tells_the_truth_after_dctx_env() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let out = bash(
        &sb,
        r#"eval "$(dctx env prod)"
           docker version --format '{{.Server.Version}}'
           dctx current
           dctx current --json"#,
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    // docker really talks to prod's daemon in this shell.
    assert_eq!(lines[0], dockerd().version, "{out}");
    assert_eq!(lines[1], "prod", "{out}");
    let v: serde_json::Value = serde_json::from_str(&lines[2..].join("\n")).unwrap();
    assert_eq!(v["name"], "prod");
    assert_eq!(v["source"], "dctx-env");
    // One variable differs: not what dctx set, docker's answer stands.
    for tweak in [
        "export DOCKER_HOST=tcp://127.0.0.1:1",
        "unset DOCKER_TLS_VERIFY",
        "export DOCKER_CERT_PATH=/tmp",
        "export DOCKER_TLS=1",
    ] {
        let out = bash(
            &sb,
            &format!("eval \"$(dctx env prod)\"; {tweak}; dctx current --json"),
            &[],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["name"], "default", "{tweak}: {v}");
        assert_eq!(v["source"], "docker-host", "{tweak}: {v}");
    }
    // `dctx env --unset` clears it all: config.json decides again.
    let out = bash(
        &sb,
        r#"eval "$(dctx env prod)"; eval "$(dctx env --unset)"; dctx current"#,
        &[],
    );
    assert_eq!(out.trim(), "default");
}

/// Inside `dctx shell prod` (its files in a private dir), `current` is prod.
#[test]
fn current_tells_the_truth_inside_dctx_shell() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let run = sb.path("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run_s = run.display().to_string();
    let out = bash(
        &sb,
        r#"printf '%s\n' "docker version --format '{{.Server.Version}}'" 'dctx current --json' 'export DOCKER_CERT_PATH=/tmp; dctx current' | dctx shell prod --shell bash"#,
        &[("XDG_RUNTIME_DIR", &run_s)],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], dockerd().version, "{out}");
    let (last, json) = lines[1..].split_last().unwrap();
    let v: serde_json::Value = serde_json::from_str(&json.join("\n")).unwrap();
    assert_eq!(v["name"], "prod", "{out}");
    assert_eq!(v["source"], "dctx-env", "{out}");
    assert_eq!(*last, "default", "{out}");
}

/// Every drift of an entry is reported by `check` (it used to keep only the
/// first), each kind once in `ls` ("tls-removed" once for two files), and
/// `adopt` says which files the context lost.
#[test]
fn every_drift_is_reported_once_and_adopt_names_lost_files() {
    let sb = Sandbox::new();
    sb.add_client_profile("stage", &[]);
    let tls = sb
        .docker_config()
        .join("contexts/tls")
        .join(hex_sha256("stage"))
        .join("docker");
    std::fs::remove_file(tls.join("ca.pem")).unwrap();
    std::fs::remove_file(tls.join("key.pem")).unwrap();
    // Exit 3, a drift finding for ca.pem and one for key.pem.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["check", "stage", "--json"]),
        "two-files-removed-check"
    );
    // ls: "drift: tls-removed" once.
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "two-files-removed-ls");
    // adopt succeeds and says the context lost ca.pem, key.pem.
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["adopt", "stage"]),
        "two-files-removed-adopt"
    );
}
