//! The journal is data anyone who can write it may have crafted (issue 19
//! #4): each test plants one journal state and asserts exactly what the
//! next command does with it: finish it, undo it, or refuse it and touch
//! nothing outside.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{Sandbox, assert_success, snapshot};

const ID: &str = "4242-abc";

fn journal_path(sb: &Sandbox) -> PathBuf {
    sb.store().join("journal.json")
}

fn service(sb: &Sandbox) -> String {
    format!("dctx:{}", sb.store().display())
}

/// `<area>/.dctx-txn/<ID>`: where a transaction stages.
fn stage(area: &Path) -> PathBuf {
    area.join(".dctx-txn").join(ID)
}

fn put(target: &Path, staged: &Path, backup: &Path) -> Value {
    json!({"op": "put", "target": target, "staged": staged, "backup": backup})
}

fn remove(target: &Path, backup: &Path) -> Value {
    json!({"op": "remove", "target": target, "backup": backup})
}

/// Write journal.json as dctx does (store 0700, file 0600).
fn plant(sb: &Sandbox, state: &str, steps: Value, keys: Value, staging: Value) -> PathBuf {
    let store = sb.store();
    fs::create_dir_all(&store).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o700)).unwrap();
    let j = json!({
        "id": ID, "state": state, "keyring": service(sb),
        "steps": steps, "keys": keys, "staging": staging,
    });
    write_private(&journal_path(sb), &serde_json::to_vec_pretty(&j).unwrap());
    journal_path(sb)
}

fn write_private(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
}

fn ls(sb: &Sandbox) -> Output {
    sb.dctx().args(["ls", "--json"]).output().unwrap()
}

/// `dctx ls` refused the journal: exit 1, the journal named with the
/// command that moves it aside, and the journal itself left in place.
fn assert_refused(sb: &Sandbox, out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    let j = journal_path(sb);
    assert!(
        err.contains(&format!("refusing to act on {}", j.display()))
            && err.contains(&format!(
                "mv {:?} {:?}",
                j,
                format!("{}.refused", j.display())
            )),
        "{what}: {err}"
    );
    assert!(j.exists(), "{what}: the journal went away");
}

/// A legitimate change to the store's state.json, staged but not applied.
fn legit(sb: &Sandbox, state: &str) -> PathBuf {
    let store = sb.store();
    let target = store.join("state.json");
    write_private(&target, b"old");
    write_private(&stage(&store).join("0.new"), b"new");
    plant(
        sb,
        state,
        json!([put(
            &target,
            &stage(&store).join("0.new"),
            &stage(&store).join("0.old")
        )]),
        json!([]),
        json!([stage(&store)]),
    );
    target
}

#[test]
fn a_prepared_journal_is_rolled_back() {
    let sb = Sandbox::new();
    let target = legit(&sb, "prepared");
    assert_success(&ls(&sb), "ls");
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert!(!sb.store().join(".dctx-txn").exists());
    assert!(!journal_path(&sb).exists());
}

#[test]
fn a_committed_journal_is_rolled_forward() {
    let sb = Sandbox::new();
    let target = legit(&sb, "committed");
    assert_success(&ls(&sb), "ls");
    assert_eq!(fs::read(&target).unwrap(), b"new");
    assert!(!sb.store().join(".dctx-txn").exists());
    assert!(!journal_path(&sb).exists());
    assert_eq!(sb.ok(&["recover"]), "nothing to recover\n");
}

#[test]
fn a_torn_journal_fails_every_command_until_moved_aside() {
    let sb = Sandbox::new();
    let j = journal_path(&sb);
    write_private(&j, br#"{"id": "4242-abc", "state": "comm"#);
    assert_refused(&sb, &ls(&sb), "ls");
    let (code, _) = sb.fails(&[
        "add",
        "x1",
        "--host",
        "tcp://127.0.0.1:2376",
        "--no-context",
    ]);
    assert_eq!(code, 1);
    assert!(!sb.store().join("profiles/x1").exists());
    // What the message says to do works.
    fs::rename(&j, format!("{}.refused", j.display())).unwrap();
    assert_success(&ls(&sb), "ls after moving the journal aside");
}

/// Every path a journal may name is inside the store, Docker's config dir
/// or config.json's dir, and staged content in its own staging names.
#[test]
fn hostile_paths_are_refused_and_nothing_outside_is_touched() {
    let sb = Sandbox::new();
    let store = sb.store();
    let docker = sb.docker_config();
    fs::create_dir_all(&docker).unwrap();
    // Outside every store: a directory tree and a private file.
    let victim = sb.path("victim");
    let vdir = victim.join("dir");
    fs::create_dir_all(vdir.join("sub")).unwrap();
    fs::write(vdir.join("sub/file"), "keep me").unwrap();
    let secret = victim.join("secret");
    write_private(&secret, b"root's data");
    fs::write(victim.join("0.new"), "attacker").unwrap();
    let before = snapshot(&victim);
    let st = stage(&store);
    let cases: Vec<(&str, &str, Value, Value)> = vec![
        (
            "remove outside",
            "committed",
            json!([remove(&vdir, &st.join("0.old"))]),
            json!([st]),
        ),
        (
            "put over a file outside",
            "committed",
            json!([put(&secret, &st.join("0.new"), &st.join("0.old"))]),
            json!([st]),
        ),
        ("staging dir outside", "prepared", json!([]), json!([vdir])),
        (
            "staged file outside",
            "prepared",
            json!([put(
                &store.join("state.json"),
                &victim.join("0.new"),
                &st.join("0.old")
            )]),
            json!([st]),
        ),
        (
            "dot-dot out of the store",
            "committed",
            json!([remove(
                &store.join("../../../victim/dir"),
                &st.join("0.old")
            )]),
            json!([st]),
        ),
        (
            "move out of the victim",
            "committed",
            json!([{"op": "move", "from": secret, "to": store.join("stolen")}]),
            json!([]),
        ),
        (
            "beside-name in another dir",
            "committed",
            json!([put(
                &docker.join("config.json"),
                &victim.join(format!(".config.json.dctx-txn-{ID}-0.new")),
                &docker.join(format!(".config.json.dctx-txn-{ID}-0.old"))
            )]),
            json!([]),
        ),
        (
            "another journal's staging",
            "prepared",
            json!([]),
            json!([store.join(".dctx-txn/other-id")]),
        ),
    ];
    for (what, state, steps, staging) in cases {
        fs::create_dir_all(&st).unwrap();
        write_private(&st.join("0.new"), b"attacker");
        plant(&sb, state, steps, json!([]), staging);
        assert_refused(&sb, &ls(&sb), what);
        assert_eq!(snapshot(&victim), before, "{what}: outside changed");
        assert!(!store.join("stolen").exists(), "{what}");
        fs::remove_file(journal_path(&sb)).unwrap();
    }
    // Positive control: the same remove, inside the store, is honoured.
    let inside = store.join("profiles/gone");
    fs::create_dir_all(&inside).unwrap();
    plant(
        &sb,
        "committed",
        json!([remove(&inside, &st.join("0.old"))]),
        json!([]),
        json!([st]),
    );
    assert_success(&ls(&sb), "ls with a journal inside the store");
    assert!(!inside.exists());
    assert_eq!(snapshot(&victim), before);
}

#[test]
fn a_symlinked_dir_in_the_store_does_not_lead_outside() {
    let sb = Sandbox::new();
    let store = sb.store();
    let victim = sb.path("victim");
    fs::create_dir_all(victim.join("dir")).unwrap();
    fs::write(victim.join("dir/file"), "keep me").unwrap();
    fs::write(victim.join("0.new"), "keep me too").unwrap();
    let before = snapshot(&victim);
    fs::create_dir_all(&store).unwrap();
    // profiles -> victim: store/profiles/dir is victim/dir.
    std::os::unix::fs::symlink(&victim, store.join("profiles")).unwrap();
    let st = stage(&store);
    plant(
        &sb,
        "committed",
        json!([remove(&store.join("profiles/dir"), &st.join("0.old"))]),
        json!([]),
        json!([st]),
    );
    assert_refused(&sb, &ls(&sb), "remove through a symlinked dir");
    assert_eq!(snapshot(&victim), before);
    fs::remove_file(journal_path(&sb)).unwrap();
    fs::remove_file(store.join("profiles")).unwrap();
    // The staging dir itself a symlink: its 0.new is the victim's.
    fs::create_dir_all(st.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &st).unwrap();
    plant(
        &sb,
        "prepared",
        json!([put(
            &store.join("state.json"),
            &st.join("0.new"),
            &st.join("0.old")
        )]),
        json!([]),
        json!([]),
    );
    assert_refused(&sb, &ls(&sb), "staged through a symlinked staging dir");
    assert_eq!(snapshot(&victim), before);
}

#[test]
fn a_journal_naming_another_stores_keyring_is_refused() {
    let b = Sandbox::new().with_keyring();
    b.add_client_profile("prod", &["--key-store", "keyring"]);
    let key = b.keyring_lookup("prod").expect("B's key is in the keyring");
    let a = Sandbox::new().with_keyring();
    fs::create_dir_all(a.store()).unwrap();
    let j = json!({
        "id": ID, "state": "committed", "keyring": service(&b),
        "steps": [], "keys": [{"op": "remove", "account": "prod"}], "staging": [],
    });
    write_private(&journal_path(&a), &serde_json::to_vec(&j).unwrap());
    assert_refused(&a, &ls(&a), "foreign keyring service");
    assert_eq!(b.keyring_lookup("prod").as_deref(), Some(key.as_str()));
    // This store's service, but a staged account that is not its own.
    let keys = json!([{"op": "put", "account": "prod", "staged": "other#txn-1-2"}]);
    plant(&a, "committed", json!([]), keys, json!([]));
    assert_refused(&a, &ls(&a), "foreign staged account");
}

fn setpriv_nobody(sb: &Sandbox, args: &[&str]) -> Output {
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
    .current_dir("/");
    c.output().unwrap()
}

fn chown_r(p: &Path, uid: u32) {
    let st = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn the_journals_owner_and_mode_are_checked() {
    let sb = Sandbox::new();
    let target = legit(&sb, "committed");
    let j = journal_path(&sb);
    fs::set_permissions(&j, fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(&sb, &ls(&sb), "journal 0644");
    fs::set_permissions(&j, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&j, Some(65534), Some(65534)).unwrap();
    assert_refused(&sb, &ls(&sb), "journal of another user");
    std::os::unix::fs::chown(&j, Some(0), Some(0)).unwrap();
    // A symlink to a good journal is not one.
    let real = sb.path("elsewhere.json");
    fs::rename(&j, &real).unwrap();
    std::os::unix::fs::symlink(&real, &j).unwrap();
    assert_refused(&sb, &ls(&sb), "journal symlink");
    fs::remove_file(&j).unwrap();
    fs::rename(&real, &j).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"old", "nothing was applied");

    // Root on a store that belongs to another user does not recover it.
    fs::set_permissions(sb.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    chown_r(sb.tmp.path(), 65534);
    let out = ls(&sb);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("belongs to uid 65534"), "{err}");
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert!(j.exists());
    // Its owner does: the journal was a good one.
    assert_success(&setpriv_nobody(&sb, &["ls"]), "ls as the store's owner");
    assert_eq!(fs::read(&target).unwrap(), b"new");
    assert!(!j.exists());
}

/// Run `script` with sh in a private mount namespace (the mounts it makes
/// vanish with it), `$DCTX` being the binary under test.
fn in_mount_ns(sb: &Sandbox, script: &str) -> Output {
    let out = sb
        .cmd("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-euc", script])
        .env("DCTX", env!("CARGO_BIN_EXE_dctx"))
        .env("D", sb.docker_config())
        .env("OUT", sb.path("out"))
        .output()
        .unwrap();
    assert_success(&out, "the mount namespace script");
    // Its mounts went with the namespace.
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !mounts.contains(&sb.tmp.path().display().to_string()),
        "{mounts}"
    );
    out
}

fn read_out(sb: &Sandbox, name: &str) -> String {
    fs::read_to_string(sb.path("out").join(name)).unwrap()
}

/// EXDEV: a committed journal whose renames cross a mount cannot be
/// finished. Every command says so, naming the file and the way out, and
/// `dctx recover --abort` puts the old state back.
#[test]
fn a_committed_journal_that_cannot_be_applied_can_be_aborted() {
    let sb = Sandbox::new();
    let docker = sb.docker_config();
    let target = docker.join("contexts/meta/abc");
    write_private(&target.join("meta.json"), b"old");
    let st = stage(&docker);
    fs::create_dir_all(&st).unwrap();
    fs::create_dir_all(sb.path("out")).unwrap();
    // A first step that applies (same file system) before the one that cannot.
    let store = sb.store();
    let state = store.join("state.json");
    write_private(&state, b"old state");
    write_private(&stage(&store).join("0.new"), b"new state");
    write_private(&store.join("profiles/kept/profile.json"), b"{}");
    plant(
        &sb,
        "committed",
        json!([
            put(
                &state,
                &stage(&store).join("0.new"),
                &stage(&store).join("0.old")
            ),
            put(&target, &st.join("1.new"), &st.join("1.old")),
            // Never reached: abort must not "undo" it.
            {"op": "move", "from": store.join("profiles/gone"), "to": store.join("profiles/kept")}
        ]),
        json!([]),
        json!([stage(&store), st]),
    );
    // The staging area on its own file system.
    in_mount_ns(
        &sb,
        r#"
        mount -t tmpfs tmpfs "$D/.dctx-txn"
        mkdir -p "$D/.dctx-txn/4242-abc/1.new"
        echo new > "$D/.dctx-txn/4242-abc/1.new/meta.json"
        rc=0; "$DCTX" ls 2>"$OUT/ls.err" >/dev/null || rc=$?; echo $rc >"$OUT/ls.rc"
        cat "$HOME/.config/dctx/state.json" >"$OUT/state-after-ls"
        rc=0; "$DCTX" recover --abort >"$OUT/abort.out" 2>&1 || rc=$?; echo $rc >"$OUT/abort.rc"
        rc=0; "$DCTX" ls >/dev/null 2>&1 || rc=$?; echo $rc >"$OUT/ls2.rc"
        "#,
    );
    let err = read_out(&sb, "ls.err");
    assert_eq!(read_out(&sb, "ls.rc").trim(), "1", "{err}");
    assert!(
        err.contains(&journal_path(&sb).display().to_string())
            && err.contains("dctx recover --abort")
            && err.contains("Invalid cross-device link"),
        "{err}"
    );
    assert_eq!(
        read_out(&sb, "abort.rc").trim(),
        "0",
        "{}",
        read_out(&sb, "abort.out")
    );
    assert_eq!(read_out(&sb, "abort.out"), "undid the interrupted change\n");
    assert_eq!(read_out(&sb, "ls2.rc").trim(), "0");
    // The first step had been applied; abort put both back.
    assert_eq!(read_out(&sb, "state-after-ls"), "new state");
    assert_eq!(fs::read(&state).unwrap(), b"old state");
    assert_eq!(fs::read(target.join("meta.json")).unwrap(), b"old");
    assert!(!store.join(".dctx-txn").exists());
    assert!(store.join("profiles/kept/profile.json").exists());
    assert!(!store.join("profiles/gone").exists());
    assert!(!journal_path(&sb).exists());
}

/// The same mount met by a new change: refused before the commit point.
#[test]
fn a_change_across_file_systems_is_refused_before_it_starts() {
    let sb = Sandbox::new();
    let bundle = sb.client_bundle();
    let docker = sb.docker_config();
    fs::create_dir_all(docker.join("contexts/meta")).unwrap();
    fs::create_dir_all(sb.path("out")).unwrap();
    let before = sb.snapshot();
    let out = in_mount_ns(
        &sb,
        &format!(
            r#"
            mount -t tmpfs tmpfs "$D/contexts/meta"
            rc=0; "$DCTX" add prod --bundle '{}' --host tcp://127.0.0.1:2376 2>"$OUT/add.err" || rc=$?
            echo $rc >"$OUT/add.rc"
            ls -A "$D/contexts/meta"
            "#,
            bundle.display()
        ),
    );
    let err = read_out(&sb, "add.err");
    assert_eq!(read_out(&sb, "add.rc").trim(), "1", "{err}");
    assert!(
        err.contains("different file systems") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "the mount got a context"
    );
    // New or changed files (dirs and lock files aside): none.
    let changed: Vec<_> = sb
        .snapshot()
        .into_iter()
        .filter(|(k, v)| before.get(k) != Some(v) && !k.ends_with("lock") && !v.ends_with(":dir"))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
}
