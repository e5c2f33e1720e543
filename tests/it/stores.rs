//! Regressions of the store defects a hostile review found (issue 9 §7,
//! issue 10 #5–#8, #11): each was a wrong state or a lost key before the
//! domain layer's transactions.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use crate::support::snap::{Filters, dctx_snapshot, output_snapshot, text_snapshot};
use crate::support::{Sandbox, assert_success, dockerd};

fn meta_dir(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    sb.docker_config()
        .join("contexts/meta")
        .join(crate::truth::hex_sha256(name))
}

fn tls_dir(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    sb.docker_config()
        .join("contexts/tls")
        .join(crate::truth::hex_sha256(name))
}

/// Run dctx as `nobody` (root ignores permissions; the user does not).
fn as_nobody(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        env!("CARGO_BIN_EXE_dctx"),
    ])
    .args(args)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", &sb.home)
    .env("NO_COLOR", "1")
    .current_dir(&sb.home);
    c.output().unwrap()
}

fn chown_r(p: &std::path::Path, uid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_failed_replace_keeps_the_working_profile_and_names_the_path() {
    let d = dockerd();
    let sb = Sandbox::new();
    // The sandbox belongs to `nobody`, who runs dctx.
    std::fs::set_permissions(sb.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_r(sb.tmp.path(), 65534);
    let b = sb.client_bundle();
    chown_r(&b, 65534);
    let out = as_nobody(
        &sb,
        &[
            "add",
            "prod",
            "--bundle",
            b.to_str().unwrap(),
            "--host",
            &d.host,
        ],
    );
    assert_success(&out, "add as nobody");
    // `sudo docker context create …` left ~/.docker/contexts root-owned.
    let contexts = sb.docker_config().join("contexts");
    chown_r(&contexts, 0);
    let before = sb.snapshot();
    let out = as_nobody(
        &sb,
        &[
            "add",
            "prod",
            "--bundle",
            b.to_str().unwrap(),
            "--host",
            "tcp://localhost:1",
            "--replace",
        ],
    );
    // Exit 1: cannot write to ~/.docker/contexts/meta.
    output_snapshot!(Filters::sandbox(&sb), out, "root-owned-contexts");
    assert_eq!(sb.snapshot(), before, "a failed replace changed the stores");
    assert_eq!(sb.context_server_version("prod"), d.version);
}

#[test]
fn replacing_with_keyring_or_env_only_takes_the_old_context_and_key_away() {
    let sb = Sandbox::new().with_keyring();
    let b = sb.client_bundle();
    let b = b.to_str().unwrap();
    let host = &dockerd().host;
    sb.ok(&["add", "prod", "--bundle", b, "--host", host, "--use"]);
    assert!(tls_dir(&sb, "prod").join("docker/key.pem").exists());
    sb.ok(&[
        "add",
        "prod",
        "--bundle",
        b,
        "--host",
        host,
        "--replace",
        "--key-store",
        "keyring",
    ]);
    assert!(!meta_dir(&sb, "prod").exists() && !tls_dir(&sb, "prod").exists());
    let cfg = std::fs::read_to_string(sb.docker_config().join("config.json")).unwrap();
    assert!(!cfg.contains("currentContext"), "{cfg}");
    assert!(sb.keyring_lookup("prod").is_some());
    // Back to a key file: the keyring entry goes.
    sb.ok(&[
        "add",
        "prod",
        "--bundle",
        b,
        "--host",
        host,
        "--replace",
        "--no-context",
    ]);
    assert_eq!(
        sb.keyring_lookup("prod"),
        None,
        "old key left in the keyring"
    );
    assert!(sb.store().join("profiles/prod/key.pem").exists());
    sb.ok(&["rm", "prod"]);
    let mut left = Vec::new();
    for root in [sb.store(), sb.docker_config()] {
        for e in walk(&root) {
            if e.ends_with("key.pem") {
                left.push(e);
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn key_move_to_file_never_overwrites_a_hand_made_context() {
    let sb = Sandbox::new().with_keyring();
    let b = sb.client_bundle();
    sb.ok(&[
        "add",
        "kr",
        "--bundle",
        b.to_str().unwrap(),
        "--host",
        &dockerd().host,
        "--key-store",
        "keyring",
    ]);
    let out = sb
        .docker()
        .args([
            "context",
            "create",
            "kr",
            "--docker",
            "host=tcp://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_success(&out, "docker context create kr");
    let before = std::fs::read(meta_dir(&sb, "kr").join("meta.json")).unwrap();
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["key", "move", "kr", "--to", "file"]),
        "key-move-foreign-context"
    );
    assert_eq!(
        std::fs::read(meta_dir(&sb, "kr").join("meta.json")).unwrap(),
        before
    );
    assert!(sb.keyring_lookup("kr").is_some());
}

#[test]
fn add_use_with_an_invalid_config_json_writes_nothing() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.docker_config()).unwrap();
    std::fs::write(sb.docker_config().join("config.json"), "{broken").unwrap();
    let before = sb.snapshot();
    let b = sb.client_bundle();
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&[
            "add",
            "prod",
            "--bundle",
            b.to_str().unwrap(),
            "--host",
            &dockerd().host,
            "--use",
        ]),
        "add-use-broken-config"
    );
    let mut after = sb.snapshot();
    // Only dctx's own lock files may appear.
    after.retain(|k, _| {
        !k.ends_with(".lock") && !k.ends_with(".config/dctx") && !k.ends_with(".config")
    });
    assert_eq!(after, before);
}

#[test]
fn rm_of_several_with_the_keyring_unavailable_removes_none() {
    let sb = Sandbox::new().with_keyring();
    let b = sb.client_bundle();
    sb.ok(&["add", "plainone", "--host", "tcp://127.0.0.1:2375"]);
    sb.ok(&[
        "add",
        "kr",
        "--bundle",
        b.to_str().unwrap(),
        "--host",
        &dockerd().host,
        "--key-store",
        "keyring",
    ]);
    let before = sb.snapshot();
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["rm", "plainone", "kr"])
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        "rm-keyring-unavailable"
    );
    assert_eq!(sb.snapshot(), before);
    sb.ok(&["rm", "plainone", "kr"]);
    assert_eq!(sb.keyring_lookup("kr"), None);
}

#[test]
fn config_json_through_a_symlink_keeps_link_owner_mode_and_numbers() {
    let sb = Sandbox::new();
    sb.ok(&["add", "one", "--host", "tcp://127.0.0.1:2375"]);
    let dotfiles = sb.path("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("docker-config.json");
    std::fs::write(
        &real,
        "{\n\t\"big\": 12345678901234567890123,\n\t\"ratio\": 1.50\n}",
    )
    .unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap();
    let link = sb.docker_config().join("config.json");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&real, &link).unwrap();
    sb.ok(&["use", "one"]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert_eq!(
        text,
        "{\n\t\"big\": 12345678901234567890123,\n\t\"ratio\": 1.50,\n\t\"currentContext\": \"one\"\n}"
    );
    let m = std::fs::metadata(&real).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (65534, 65534, 0o644));
    let out = sb.docker().args(["context", "show"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "one");
}

#[test]
fn keyring_entries_of_two_stores_never_collide() {
    let d = dockerd();
    let a = Sandbox::new().with_keyring();
    let b = Sandbox::new().with_keyring();
    for sb in [&a, &b] {
        let bundle = sb.client_bundle();
        sb.ok(&[
            "add",
            "vaultx",
            "--bundle",
            bundle.to_str().unwrap(),
            "--host",
            &d.host,
            "--key-store",
            "keyring",
        ]);
    }
    a.ok(&["rm", "vaultx"]);
    assert_eq!(a.keyring_lookup("vaultx"), None);
    assert!(
        b.keyring_lookup("vaultx").is_some(),
        "removing a's key took b's"
    );
    let out = b
        .dctx()
        .args([
            "exec",
            "vaultx",
            "--",
            "docker",
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .output()
        .unwrap();
    assert_success(&out, "exec in the second store");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), d.version);
}

#[test]
fn names_are_validated_at_every_entry_point() {
    let sb = Sandbox::new();
    let victim = sb.path("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "x").unwrap();
    let sneaky = "../../../../victim";
    let mut said = String::new();
    for args in [
        vec!["rm", sneaky],
        vec!["env", sneaky],
        vec!["show", sneaky],
        vec!["key", "move", sneaky, "--to", "file"],
        vec!["mv", sneaky, "x1"],
        vec!["mv", "x1", sneaky],
        vec!["adopt", sneaky],
        vec!["set-host", sneaky, "tcp://h:1"],
        vec!["check", sneaky],
        vec!["exec", sneaky, "--", "true"],
        vec!["use", sneaky],
    ] {
        let out = sb.dctx_cmd(&args).output().unwrap();
        said += &format!("{args:?}\n{}\n", crate::support::snap::render(&out));
    }
    // Each refused with exit 1: an invalid name.
    text_snapshot!(Filters::sandbox(&sb), "sneaky-names", said);
    assert!(victim.join("keep").exists());
}

#[test]
fn endpoints_are_parsed_strictly_and_control_characters_never_reach_a_terminal() {
    let sb = Sandbox::new();
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["add", "p1", "--host", "prod.example.com:2376"]),
        "endpoint-without-scheme"
    );
    for bad in [
        "tcp://h:notaport",
        "tcp:// spaced:2376",
        "tcp://h:99999",
        "tcp://h:0",
        "tcp://h\r\n REM\ncalc.exe & echo pwned",
    ] {
        let (code, err) = sb.fails(&["add", "p1", "--host", bad]);
        assert_eq!(code, 1, "{bad:?}");
        assert!(!err.contains('\r') && !err.contains("\n REM"), "{err:?}");
    }
    // https:// is docker's tcp:// with TLS.
    let b = sb.client_bundle();
    sb.ok(&[
        "add",
        "p2",
        "--bundle",
        b.to_str().unwrap(),
        "--host",
        "https://127.0.0.1:2376",
    ]);
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "p2", "--shell", "bash"]),
        "env-https"
    );
    // Port conventions are warnings.
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["add", "p3", "--host", "tcp://127.0.0.1:2376"]),
        "plain-on-2376"
    );
    // A hostile foreign context (written by hand): escaped in ls, refused by env.
    let meta = meta_dir(&sb, "evil");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        r#"{"Name":"evil","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://h:1\u001b[2J\r\nREM\ncalc.exe","SkipTLSVerify":false}}}"#,
    )
    .unwrap();
    let ls = sb.ok(&["ls"]);
    assert!(!ls.contains('\u{1b}') && !ls.contains('\r'), "{ls:?}");
    dctx_snapshot!(f, sb.dctx_cmd(&["ls"]), "ls-hostile-endpoint");
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "evil", "--shell", "cmd"]),
        "env-hostile-endpoint"
    );
}

#[test]
fn a_relative_dctx_home_gives_an_absolute_cert_path() {
    let sb = Sandbox::new();
    let b = sb.client_bundle();
    let run = |args: &[&str]| {
        let out = sb
            .dctx()
            .args(args)
            .env("DCTX_HOME", "rel-store")
            .output()
            .unwrap();
        assert_success(&out, &args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[
        "add",
        "envonly",
        "--bundle",
        b.to_str().unwrap(),
        "--host",
        &dockerd().host,
        "--no-context",
    ]);
    // DOCKER_CERT_PATH is [TMP]/rel-store/profiles/envonly.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["env", "envonly", "--shell", "bash"])
            .env("DCTX_HOME", "rel-store"),
        "env-relative-home"
    );
}

/// Root `dctx use` on a user's DOCKER_CONFIG and store that have no
/// config.json / state.json yet: both are created as the user's (they
/// were root's 0600 files, which the user could then not read).
#[test]
fn root_use_on_a_users_config_creates_files_the_user_can_read() {
    let sb = Sandbox::new();
    sb.ok(&["add", "one", "--host", "tcp://127.0.0.1:2375"]);
    let config = sb.docker_config().join("config.json");
    let state = sb.store().join("state.json");
    for f in [&config, &state] {
        let _ = std::fs::remove_file(f);
    }
    std::fs::set_permissions(sb.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    chown_r(sb.tmp.path(), 65534);
    sb.ok(&["use", "one"]);
    for f in [&config, &state] {
        let m = std::fs::metadata(f).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "{}", f.display());
    }
    // The user reads them: docker's current context, and `-` back to default.
    let out = as_nobody(&sb, &["current"]);
    assert_success(&out, "current as the user");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\n");
    let out = as_nobody(&sb, &["use", "-"]);
    assert_success(&out, "use - as the user");
    let out = as_nobody(&sb, &["current"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "default\n");
}

/// Raw ESC or U+202E (right-to-left override) reaching a terminal.
fn assert_inert(out: &std::process::Output, what: &str) {
    for text in [&out.stdout, &out.stderr] {
        let t = String::from_utf8_lossy(text);
        assert!(
            !t.contains('\u{1b}') && !t.contains('\u{202e}') && !t.contains('\u{7}'),
            "{what}: {t:?}"
        );
    }
}

/// Subjects, issuers and SANs of the material are shown escaped by `add`
/// and `show` (issue 19 #9): the escapes are visible, nothing is sent.
#[test]
fn hostile_certificate_text_is_escaped_in_add_and_show() {
    use crate::support::{Leaf, TestCa};
    let sb = Sandbox::new();
    let ca = TestCa::new("Evil CA \u{1b}[2J\u{202e}AC");
    let mut leaf = Leaf::client("alice\u{1b}]0;pwned\u{7}\u{202e}exe.txt");
    leaf.sans = vec!["x\u{1b}[31m.example".into()];
    leaf.no_san = false;
    let client = ca.issue(&leaf);
    let dir = sb.path("evil");
    crate::support::write_bundle(&dir, &ca.cert_pem, &client);
    let out = sb
        .dctx()
        .args(["add", "evil", "--bundle"])
        .arg(&dir)
        .args(["--host", "tcp://127.0.0.1:2376"])
        .output()
        .unwrap();
    assert_inert(&out, "add");
    // The subject, issuer and SAN shown with their escapes visible.
    let f = Filters::sandbox(&sb);
    output_snapshot!(f, out, "add-hostile-cert");
    let out = sb.dctx().args(["show", "evil"]).output().unwrap();
    assert_inert(&out, "show");
    output_snapshot!(f, out, "show-hostile-cert");
}

/// A context name with ESC and U+202E written straight into Docker's store
/// (and made current): `current`, `ls -q`, `ls` and `use`'s list show it
/// escaped.
#[test]
fn hostile_context_names_are_escaped_in_every_listing() {
    let sb = Sandbox::new();
    let name = "x\u{1b}[8m\u{202e}yz";
    let dir = meta_dir(&sb, name);
    std::fs::create_dir_all(&dir).unwrap();
    let meta = serde_json::json!({
        "Name": name,
        "Metadata": {},
        "Endpoints": {"docker": {"Host": "tcp://127.0.0.1:1", "SkipTLSVerify": false}},
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    std::fs::write(
        sb.docker_config().join("config.json"),
        serde_json::json!({ "currentContext": name }).to_string(),
    )
    .unwrap();
    // Each shows x\u{1b}[8m\u{202e}yz.
    let mut said = String::new();
    for args in [&["current"][..], &["ls", "-q"], &["ls"], &["use"]] {
        let out = sb
            .dctx()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_inert(&out, &args.join(" "));
        said += &format!("{args:?}\n{}\n", crate::support::snap::render(&out));
    }
    text_snapshot!(Filters::sandbox(&sb), "hostile-context-name", said);
}
