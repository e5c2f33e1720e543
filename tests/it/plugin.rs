//! `docker ctx …`: dctx linked as a Docker CLI plugin, run by the real docker
//! CLI (which finds it, asks for its metadata, and passes its own global
//! options through).

use std::path::Path;
use std::process::Output;

use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, dockerd, free_port};

fn docker(sb: &Sandbox, args: &[&str]) -> Output {
    sb.docker().args(args).output().unwrap()
}

fn docker_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = docker(sb, args);
    assert_success(&out, &format!("docker {}", args.join(" ")));
    String::from_utf8(out.stdout).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The plugins `docker info` reports (name → entry).
fn docker_info_plugins(sb: &Sandbox) -> Vec<serde_json::Value> {
    let out = docker(sb, &["info", "--format", "{{json .ClientInfo.Plugins}}"]);
    assert_success(&out, "docker info");
    json(&out).as_array().cloned().unwrap_or_default()
}

/// A sandbox with `prod` (the healthy shared daemon), `down` (nothing
/// listens) and the plugin installed for the user.
fn sandbox_with_plugin() -> Sandbox {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &[]);
    let dir = sb.client_bundle_named("down-bundle", ["ca.pem", "cert.pem", "key.pem"]);
    let dead = format!("tcp://127.0.0.1:{}", free_port());
    sb.ok(&[
        "add",
        "down",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &dead,
    ]);
    let printed = sb.ok(&["plugin", "install"]);
    let link = sb.docker_config().join("cli-plugins/docker-ctx");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::fs::canonicalize(env!("CARGO_BIN_EXE_dctx")).unwrap(),
        "{printed}"
    );
    sb
}

#[test]
fn docker_lists_the_plugin_with_its_metadata() {
    let sb = Sandbox::new();
    let link = sb.docker_config().join("cli-plugins/docker-ctx");
    let link = link.to_str().unwrap();
    // tests/it/deb.rs may have a system-wide docker-ctx installed meanwhile:
    // only this HOME's plugin is asserted on.
    let ours = |sb: &Sandbox| {
        docker_info_plugins(sb)
            .into_iter()
            .find(|p| p["Path"] == link)
    };
    assert!(ours(&sb).is_none());

    sb.ok(&["plugin", "install", "--user"]);
    let help = docker_ok(&sb, &["--help"]);
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("ctx*"))
        .unwrap_or_else(|| panic!("docker --help lists no ctx* plugin:\n{help}"));
    assert!(line.contains("check and doctor daemons"), "{line}");
    let ctx = ours(&sb).unwrap_or_else(|| panic!("docker info: {:?}", docker_info_plugins(&sb)));
    assert!(ctx.get("Err").is_none(), "{ctx}");
    assert_eq!(ctx["Name"], "ctx");
    assert_eq!(ctx["SchemaVersion"], "0.1.0");
    assert_eq!(ctx["Vendor"], "dctx");
    assert_eq!(ctx["Version"], env!("CARGO_PKG_VERSION"));

    // Installing again is a no-op; uninstall removes the link and docker forgets it.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["plugin", "install"]),
        "install-again"
    );
    sb.ok(&["plugin", "uninstall"]);
    assert!(Path::new(link).symlink_metadata().is_err());
    assert!(ours(&sb).is_none());
}

#[test]
fn each_command_runs_through_docker_ctx() {
    let sb = sandbox_with_plugin();
    let d = dockerd();

    // ls and version print exactly what dctx prints.
    assert_eq!(docker_ok(&sb, &["ctx", "ls"]), sb.ok(&["ls"]));
    assert_eq!(docker_ok(&sb, &["ctx", "ls", "-q"]), sb.ok(&["ls", "-q"]));
    assert_eq!(
        docker_ok(&sb, &["ctx", "version"]),
        format!("dctx {}\n", env!("CARGO_PKG_VERSION"))
    );

    // check: the healthy daemon is ok, the dead one fails with dctx's exit 3.
    let out = docker(&sb, &["ctx", "check", "prod", "--json"]);
    assert_success(&out, "docker ctx check prod");
    assert_eq!(json(&out)[0]["status"], "ok");
    assert_eq!(json(&out)[0]["docker"]["version"], d.version.as_str());
    let out = docker(&sb, &["ctx", "check", "down", "prod"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // doctor NAME.
    let out = docker(&sb, &["ctx", "doctor", "prod", "--json"]);
    assert_success(&out, "docker ctx doctor prod");
    assert_eq!(json(&out)["name"], "prod");
    assert_eq!(json(&out)["status"], "ok");

    // add: the new context works for docker itself.
    let bundle = sb.client_bundle();
    docker_ok(
        &sb,
        &[
            "ctx",
            "add",
            "staging",
            "--bundle",
            bundle.to_str().unwrap(),
            "--host",
            &d.host,
        ],
    );
    assert_eq!(sb.context_server_version("staging"), d.version);

    // use: docker's current context changes.
    docker_ok(&sb, &["ctx", "use", "staging"]);
    assert_eq!(docker_ok(&sb, &["context", "show"]).trim(), "staging");

    // Help names the command as the user typed it.
    let help = docker_ok(&sb, &["ctx", "doctor", "--help"]);
    assert!(help.contains("Usage: docker ctx doctor"), "{help}");
}

#[test]
fn docker_global_options_pass_through() {
    let sb = sandbox_with_plugin();
    // doctor without a name: docker's --context, in every pflag spelling.
    for ctx in [
        &["--context", "prod"][..],
        &["-c", "prod"],
        &["--context=prod"],
    ] {
        let mut args = ctx.to_vec();
        args.extend(["ctx", "doctor", "--json"]);
        let out = docker(&sb, &args);
        assert_success(&out, &format!("docker {}", args.join(" ")));
        assert_eq!(json(&out)["name"], "prod", "{args:?}");
        assert_eq!(json(&out)["status"], "ok", "{args:?}");
    }
    let out = docker(&sb, &["--context", "down", "ctx", "doctor", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(json(&out)["name"], "down");
    // An explicit name wins over --context.
    let out = docker(
        &sb,
        &["--context", "down", "ctx", "doctor", "prod", "--json"],
    );
    assert_success(&out, "doctor prod under --context down");
    assert_eq!(json(&out)["name"], "prod");
    // check with --context and no names probes that one context only.
    let out = docker(&sb, &["--context", "prod", "ctx", "check", "--json"]);
    assert_success(&out, "docker --context prod ctx check");
    let names: Vec<_> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["prod"]);
    // current reports what docker itself resolves.
    assert_eq!(
        docker_ok(&sb, &["--context", "down", "ctx", "current"]).trim(),
        "down"
    );
    // No name, no --context: the context docker uses now.
    sb.ok(&["use", "down"]);
    let out = docker(&sb, &["ctx", "doctor", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(json(&out)["name"], "down");
    // docker --config DIR is another Docker config, without a current context.
    let other = sb.path("other-config");
    std::fs::create_dir_all(other.join("cli-plugins")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_dctx"),
        other.join("cli-plugins/docker-ctx"),
    )
    .unwrap();
    let other = other.to_str().unwrap();
    assert_eq!(docker_ok(&sb, &["ctx", "current"]).trim(), "down");
    assert_eq!(
        docker_ok(&sb, &["--config", other, "ctx", "current"]).trim(),
        "default"
    );
}

#[test]
fn install_respects_docker_config_and_never_clobbers() {
    let mut sb = Sandbox::new();
    let cfg = sb.path("docker config");
    sb.env
        .push(("DOCKER_CONFIG".into(), cfg.to_str().unwrap().into()));
    sb.ok(&["plugin", "install"]);
    assert!(cfg.join("cli-plugins/docker-ctx").exists());
    assert!(!sb.home.join(".docker/cli-plugins").exists());
    let link = cfg.join("cli-plugins/docker-ctx");
    assert!(
        docker_info_plugins(&sb)
            .iter()
            .any(|p| p["Name"] == "ctx" && p["Path"] == link.to_str().unwrap())
    );

    // Someone else's docker-ctx is neither replaced nor removed without --force.
    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, "#!/bin/sh\n").unwrap();
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["plugin", "install"]),
        "install-over-foreign"
    );
    let (code, _) = sb.fails(&["plugin", "uninstall"]);
    assert_eq!(code, 1);
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "#!/bin/sh\n");
    sb.ok(&["plugin", "install", "--force"]);
    assert!(std::fs::read_link(&link).is_ok());
    // --user and --system are exclusive.
    let (code, _) = sb.fails(&["plugin", "install", "--user", "--system"]);
    assert_eq!(code, 2);
}
