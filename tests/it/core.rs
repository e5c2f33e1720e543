//! The everyday workflow against real parts: bundles in every format are
//! imported, the real docker CLI uses the contexts dctx writes to reach a
//! real --tlsverify dockerd, and real shells eval what `dctx env` prints.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{self, Sandbox, assert_success, dockerd, write_tree};

/// ca / cert / key of a valid client for the shared dockerd.
fn client_files() -> (String, String, String) {
    let d = dockerd();
    (
        d.ca.cert_pem.clone(),
        d.client.cert_pem.clone(),
        d.client.key_pem.clone(),
    )
}

fn tar_of(dir: &Path, out: &Path, gzip: bool) {
    let status = Command::new("tar")
        .arg(if gzip { "-czf" } else { "-cf" })
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
}

fn zip_of(dir: &Path, out: &Path) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                w.start_file(rel, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(&std::fs::read(&p).unwrap()).unwrap();
            }
        }
    }
    w.finish().unwrap();
}

fn p12_of(sb: &Sandbox, out: &Path, password: &str, legacy: bool) {
    let (ca, cert, key) = client_files();
    let dir = sb.path("p12src");
    write_tree(
        &dir,
        &[("ca.pem", &ca), ("cert.pem", &cert), ("key.pem", &key)],
    );
    let mut cmd = Command::new("openssl");
    cmd.args(["pkcs12", "-export", "-inkey"])
        .arg(dir.join("key.pem"))
        .arg("-in")
        .arg(dir.join("cert.pem"))
        .arg("-certfile")
        .arg(dir.join("ca.pem"))
        .arg("-out")
        .arg(out)
        .arg("-passout")
        .arg(format!("pass:{password}"));
    if legacy {
        cmd.arg("-legacy");
    }
    let out = cmd.output().unwrap();
    assert_success(&out, "openssl pkcs12 -export");
}

fn add_with_stdin(sb: &Sandbox, args: &[&str], stdin: &str) -> std::process::Output {
    sb.with_stdin(args, stdin.as_bytes())
}

#[test]
fn every_naming_style_and_format_imports_and_docker_reaches_the_daemon() {
    let d = dockerd();
    let sb = Sandbox::new();
    let styles: [[&str; 3]; 5] = [
        ["ca.pem", "cert.pem", "key.pem"],
        ["ca-public.pem", "client-cert.pem", "client-key.pem"],
        ["ca.crt", "client.crt", "client.key"],
        ["certs/ca.pem", "certs/clent.pem", "private/key.pem"],
        ["x/1", "x/2", "x/3"],
    ];
    let mut names = Vec::new();
    for (i, style) in styles.iter().enumerate() {
        let dir = sb.client_bundle_named(&format!("style{i}"), *style);
        let name = format!("dir{i}");
        sb.ok(&[
            "add",
            &name,
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &d.host,
        ]);
        names.push(name.clone());
        if i == 1 {
            let tar = sb.path("b.tar");
            tar_of(&dir, &tar, false);
            sb.ok(&[
                "add",
                "tar",
                "--bundle",
                tar.to_str().unwrap(),
                "--host",
                &d.host,
            ]);
            let tgz = sb.path("b.tgz");
            tar_of(&dir, &tgz, true);
            sb.ok(&[
                "add",
                "tgz",
                "--bundle",
                tgz.to_str().unwrap(),
                "--host",
                &d.host,
            ]);
            let zip = sb.path("b.zip");
            zip_of(&dir, &zip);
            sb.ok(&[
                "add",
                "zip",
                "--bundle",
                zip.to_str().unwrap(),
                "--host",
                &d.host,
            ]);
            names.extend(["tar".to_string(), "tgz".into(), "zip".into()]);
        }
    }
    // Separate files.
    let dir = sb.client_bundle_named("sep", ["a", "b", "c"]);
    sb.ok(&[
        "add",
        "files",
        "--ca",
        dir.join("a").to_str().unwrap(),
        "--cert",
        dir.join("b").to_str().unwrap(),
        "--key",
        dir.join("c").to_str().unwrap(),
        "--host",
        &d.host,
    ]);
    names.push("files".into());
    // PKCS#12, OpenSSL 3 default (AES-256/PBKDF2) and legacy (RC2/3DES).
    for (name, legacy) in [("p12", false), ("p12legacy", true)] {
        let p12 = sb.path(&format!("{name}.p12"));
        p12_of(&sb, &p12, "s3cret pass", legacy);
        let out = add_with_stdin(
            &sb,
            &[
                "add",
                name,
                "--bundle",
                p12.to_str().unwrap(),
                "--host",
                &d.host,
                "--password-stdin",
            ],
            "s3cret pass\n",
        );
        assert_success(&out, "dctx add p12");
        names.push(name.into());
    }
    for name in &names {
        assert_eq!(sb.context_server_version(name), d.version, "context {name}");
        let out = sb
            .docker()
            .args([
                "context",
                "inspect",
                name,
                "--format",
                "{{.Endpoints.docker.Host}}",
            ])
            .output()
            .unwrap();
        assert_success(&out, "docker context inspect");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), d.host);
    }
}

#[test]
fn a_real_docker_context_export_imports_without_host() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.client_bundle_named("src", ["ca.pem", "cert.pem", "key.pem"]);
    let spec = format!(
        "host={},ca={},cert={},key={}",
        d.host,
        dir.join("ca.pem").display(),
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    let out = sb
        .docker()
        .args(["context", "create", "orig", "--docker", &spec])
        .output()
        .unwrap();
    assert_success(&out, "docker context create");
    let tar = sb.path("orig.dockercontext");
    let out = sb
        .docker()
        .args(["context", "export", "orig"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_success(&out, "docker context export");
    // GNU tar rejects it (no end-of-archive trailer); dctx must not.
    sb.ok(&["add", "imported", "--bundle", tar.to_str().unwrap()]);
    assert_eq!(sb.context_server_version("imported"), d.version);
    let shown = sb.ok(&["show", "imported", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["endpoint"], d.host.as_str());
    assert_eq!(v["tls"], "mtls");
}

#[test]
fn docker_machine_directory_supplies_the_host() {
    let d = dockerd();
    let sb = Sandbox::new();
    let (ca, cert, key) = client_files();
    let decoy = d.ca.server(&["decoy.example"]);
    let dir = sb.path("machines/dev");
    let config = serde_json::json!({
        "ConfigVersion": 3,
        "Driver": {"IPAddress": "127.0.0.1", "MachineName": "dev", "URL": d.host},
        "DriverName": "generic",
        "HostOptions": {"AuthOptions": {"CaCertPath": "/x/ca.pem"}},
        "Name": "dev"
    })
    .to_string();
    write_tree(
        &dir,
        &[
            ("ca.pem", &ca),
            ("cert.pem", &cert),
            ("key.pem", &key),
            ("server.pem", &decoy.cert_pem),
            ("server-key.pem", &decoy.key_pem),
            ("config.json", &config),
        ],
    );
    // The decoy server cert is reported as ignored.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["add", "machine", "--bundle", dir.to_str().unwrap()]),
        "add-machine-dir"
    );
    assert_eq!(sb.context_server_version("machine"), d.version);
}

/// Runs `script` in `shell` with the sandbox env; returns stdout.
fn in_shell(sb: &Sandbox, shell: &str, script: &str) -> String {
    let out = sb.cmd(shell).arg("-c").arg(script).output().unwrap();
    assert_success(&out, &format!("{shell} -c {script}"));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn env_output_works_in_real_shells() {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--no-context"]);
    let dctx = env!("CARGO_BIN_EXE_dctx");
    let fmt = "{{.Server.Version}}";
    let posix = [
        format!("eval $({dctx} env prod --shell SH) && docker version --format '{fmt}'"),
        format!("eval \"$({dctx} env prod --shell SH)\" && docker version --format '{fmt}'"),
    ];
    for shell in ["bash", "zsh", "sh"] {
        for script in &posix {
            let script = script.replace("SH", shell);
            assert_eq!(
                in_shell(&sb, shell, &script).trim(),
                d.version,
                "{shell}: {script}"
            );
        }
        // --unset undoes it (DOCKER_CONTEXT set beforehand must be cleared by env).
        let script = format!(
            "export DOCKER_CONTEXT=bogus; eval \"$({dctx} env prod --shell {shell})\"; test -z \"$DOCKER_CONTEXT\" || exit 7; \
             eval \"$({dctx} env --unset --shell {shell})\"; echo \"[$DOCKER_HOST$DOCKER_TLS_VERIFY$DOCKER_CERT_PATH]\""
        );
        assert_eq!(in_shell(&sb, shell, &script).trim(), "[]", "{shell}");
    }
    for script in [
        format!("{dctx} env prod --shell fish | source; and docker version --format '{fmt}'"),
        format!("eval ({dctx} env prod --shell fish); and docker version --format '{fmt}'"),
    ] {
        assert_eq!(
            in_shell(&sb, "fish", &script).trim(),
            d.version,
            "fish: {script}"
        );
    }
    let script = format!(
        "{dctx} env prod --shell fish | source; {dctx} env --unset --shell fish | source; echo \"[$DOCKER_HOST$DOCKER_CERT_PATH]\""
    );
    assert_eq!(in_shell(&sb, "fish", &script).trim(), "[]");
    // $SHELL picks the syntax when --shell is absent.
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "prod"]).env("SHELL", "/usr/bin/fish"),
        "env-shell-from-SHELL"
    );
    // The cert path has a space in it (HOME = ".../home dir"), quoted.
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "prod", "--shell", "bash"]),
        "env-bash"
    );
}

#[test]
fn use_switches_context_and_keeps_every_other_config_key() {
    let sb = Sandbox::new();
    // The user's own ~/.docker mode is theirs: dctx must not chmod it.
    std::fs::create_dir_all(sb.docker_config()).unwrap();
    std::fs::set_permissions(sb.docker_config(), std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.ok(&["add", "one", "--host", "tcp://127.0.0.1:2375"]);
    sb.ok(&["add", "two", "--host", "unix:///run/x.sock"]);
    let cfg_path = sb.docker_config().join("config.json");
    let original = serde_json::json!({
        "auths": {"registry.example": {"auth": "dXNlcjpwYXNz"}},
        "credHelpers": {"gcr.io": "gcloud"},
        "proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost"}},
        "psFormat": "table {{.ID}}",
        "experimental": "enabled",
        "zzz-unknown": [1, 2, {"nested": true}]
    });
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&original).unwrap()).unwrap();
    sb.ok(&["use", "one"]);
    let read = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap()
    };
    let mut now = read();
    assert_eq!(now["currentContext"], "one");
    now.as_object_mut().unwrap().remove("currentContext");
    assert_eq!(now, original);
    // The user's file keeps its mode (docker reads it as the user).
    assert_eq!(
        std::fs::metadata(&cfg_path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // docker itself agrees.
    let out = sb.docker().args(["context", "show"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "one");
    sb.ok(&["use", "two"]);
    sb.ok(&["use", "-"]);
    assert_eq!(read()["currentContext"], "one");
    sb.ok(&["use", "default"]);
    assert!(read().get("currentContext").is_none());
    let mode = std::fs::metadata(sb.docker_config())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o755, "dctx changed the mode of ~/.docker");
    assert_eq!(read()["auths"], original["auths"]);
    // DOCKER_HOST in the environment overrides contexts: say so (exit 0).
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["use", "one"])
            .env("DOCKER_HOST", "tcp://127.0.0.1:1"),
        "use-under-DOCKER_HOST"
    );
    // An env-only profile cannot become the current context.
    sb.ok(&[
        "add",
        "envonly",
        "--host",
        "tcp://127.0.0.1:2375",
        "--no-context",
    ]);
    dctx_snapshot!(f, sb.dctx_cmd(&["use", "envonly"]), "use-env-only");
}

#[test]
fn ls_show_rm_cover_profiles_and_foreign_contexts() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--use"]);
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            "foreign",
            "--docker",
            "host=tcp://127.0.0.1:2375",
        ])
        .output()
        .unwrap();
    assert_success(&out, "docker context create");
    let rows: serde_json::Value = serde_json::from_str(&sb.ok(&["ls", "--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    let prod = rows.iter().find(|r| r["name"] == "prod").unwrap();
    assert_eq!(prod["current"], true);
    assert_eq!(prod["kind"], "profile");
    assert_eq!(prod["tls"], "mtls");
    assert!(prod["client_cert_days_left"].as_i64().unwrap() > 300);
    let foreign = rows.iter().find(|r| r["name"] == "foreign").unwrap();
    assert_eq!(foreign["kind"], "foreign");
    assert_eq!(foreign["tls"], "plain");
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls");
    dctx_snapshot!(f, sb.dctx_cmd(&["show", "prod"]), "show-prod");
    // Not dctx's: refused, pointing at docker's own command.
    dctx_snapshot!(f, sb.dctx_cmd(&["rm", "foreign"]), "rm-foreign");
    sb.ok(&["rm", "prod"]);
    let out = sb
        .docker()
        .args(["context", "inspect", "prod"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "context survived rm");
    assert!(!sb.store().join("profiles/prod").exists());
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.docker_config().join("config.json")).unwrap())
            .unwrap();
    assert!(
        cfg.get("currentContext").is_none(),
        "rm left a dangling currentContext"
    );
}

#[test]
fn key_material_is_private_everywhere() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.client_bundle_named("b", ["ca.pem", "cert.pem", "key.pem"]);
    let out = sb
        .dctx()
        .args([
            "add",
            "prod",
            "--bundle",
            dir.to_str().unwrap(),
            "--host",
            &d.host,
        ])
        .output()
        .unwrap();
    assert_success(&out, "add");
    let key_body: String = d
        .client
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream).replace('\n', "");
        assert!(!s.contains(&key_body[..40]), "private key printed");
    }
    let mut checked = 0;
    for root in [sb.store(), sb.docker_config().join("contexts/tls")] {
        for (rel, v) in support::snapshot(&root) {
            let mode = u32::from_str_radix(v.split(':').next().unwrap(), 8).unwrap();
            if v.ends_with(":dir") {
                assert_eq!(mode, 0o700, "{rel}");
            } else if !rel.ends_with(".lock") {
                assert_eq!(mode, 0o600, "{rel}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "expected key material files, saw {checked}");
    let meta = support::snapshot(&sb.docker_config().join("contexts/meta"));
    assert!(
        meta.iter()
            .any(|(k, v)| k.ends_with("meta.json") && v.starts_with("644:"))
    );
}

#[test]
fn no_context_profiles_never_touch_the_docker_dir() {
    let sb = Sandbox::new();
    sb.add_client_profile("envonly", &["--no-context"]);
    assert!(!sb.docker_config().exists());
    sb.ok(&["rm", "envonly"]);
    assert!(!sb.docker_config().exists());
}

#[test]
fn replacing_requires_replace_and_foreign_contexts_are_protected() {
    let sb = Sandbox::new();
    sb.ok(&["add", "dup", "--host", "tcp://127.0.0.1:2375"]);
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["add", "dup", "--host", "tcp://127.0.0.1:2376"]),
        "add-existing"
    );
    sb.ok(&["add", "dup", "--host", "tcp://127.0.0.1:2377", "--replace"]);
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            "theirs",
            "--docker",
            "host=tcp://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_success(&out, "docker context create");
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["add", "theirs", "--host", "tcp://127.0.0.1:2375"]),
        "add-over-foreign"
    );
    for bad in ["default", "a", "-x", "a/b", "..", "x y"] {
        let (code, err) = sb.fails(&["add", bad, "--host", "tcp://127.0.0.1:2375"]);
        assert_eq!(code, if bad == "-x" { 2 } else { 1 }, "{bad}: {err}");
    }
}

#[test]
fn committed_completions_match_the_cli() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let printed = sb.ok(&["completions", shell]);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(match shell {
                "bash" => "dctx.bash",
                "zsh" => "_dctx",
                "fish" => "dctx.fish",
                "powershell" => "_dctx.ps1",
                _ => "dctx.elv",
            });
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == printed,
            "{} drifted from `dctx completions {shell}`: run `cargo run -- completions {shell} > {}`",
            path.display(),
            path.display()
        );
    }
}

#[test]
fn profile_names_complete_dynamically() {
    let sb = Sandbox::new();
    sb.ok(&["add", "prod-eu", "--host", "tcp://127.0.0.1:2375"]);
    sb.ok(&["add", "prod-us", "--host", "tcp://127.0.0.1:2375"]);
    sb.ok(&["add", "staging", "--host", "tcp://127.0.0.1:2375"]);
    // What the bash registration script does on TAB after `dctx env pro`:
    // prod-eu and prod-us, not staging.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["--", "dctx", "env", "pro"])
            .env("COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", "2")
            .env("_CLAP_COMPLETE_COMP_TYPE", "9")
            .env("_CLAP_COMPLETE_SPACE", "true")
            .env("_CLAP_IFS", "\n"),
        "complete-env-pro"
    );
}

#[test]
fn concurrent_adds_and_use_flips_leave_a_consistent_store() {
    let sb = std::sync::Arc::new(Sandbox::new());
    std::fs::create_dir_all(sb.docker_config()).unwrap();
    std::fs::write(
        sb.docker_config().join("config.json"),
        r#"{"auths":{"x":{}},"keep":1}"#,
    )
    .unwrap();
    sb.ok(&["add", "base", "--host", "tcp://127.0.0.1:2375"]);
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                sb.ok(&["add", &format!("p{i:02}"), "--host", "tcp://127.0.0.1:2375"]);
                sb.ok(&["use", if i % 2 == 0 { "base" } else { "default" }]);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rows: serde_json::Value = serde_json::from_str(&sb.ok(&["ls", "--json"])).unwrap();
    // 21 profiles and docker's `default`, as docker counts them below.
    assert_eq!(rows.as_array().unwrap().len(), 22);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.docker_config().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["keep"], 1);
    assert!(cfg["auths"]["x"].is_object());
    let out = sb.docker().args(["context", "ls", "-q"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        22,
        "docker sees every context + default"
    );
}

/// `dctx … | head` where head is gone: the write gets EPIPE (the pipe's
/// read end is closed before dctx starts, and strace shows the failed
/// write), and that is a quiet success.
#[test]
fn a_closed_stdout_is_not_an_error() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let sb = Sandbox::new();
    sb.ok(&["add", "p1", "--host", "tcp://127.0.0.1:2375"]);
    for args in [["ls", "--json"], ["show", "p1"], ["env", "p1"]] {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let log = sb.path("strace.log");
        let out = sb
            .cmd("strace")
            .args(["-f", "-qq", "-e", "trace=write", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_dctx"))
            .args(args)
            .stdout(std::process::Stdio::from(write))
            .output()
            .unwrap();
        let trace = std::fs::read_to_string(&log).unwrap();
        assert!(
            trace
                .lines()
                .any(|l| l.contains("write(1,") && l.contains("EPIPE")),
            "{args:?} never hit EPIPE:\n{trace}"
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
