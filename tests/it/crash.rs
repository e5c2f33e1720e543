//! Nothing lost: every change is all-or-nothing across Docker's store,
//! dctx's store and the keyring, also when dctx is killed (SIGKILL, SIGINT)
//! at a random point. After each kill the next dctx command recovers, and
//! the state is exactly the old one or the new one: the docker CLI, `ls`,
//! the keyring (every account of the store's service, staged ones too) and
//! a scan for stray key copies all agree. Kills that left a journal behind
//! (seen before anything recovers) landed inside the transaction: each
//! operation must have enough of them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, assert_success, dockerd};

/// What a user could observe about the one profile the loop plays with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    name: String,
    keyring: bool,
    host: String,
    current: bool,
}

/// Base64 of the client key, to find any copy of it on disk.
fn key_marker() -> String {
    dockerd()
        .client
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()[..40]
        .to_string()
}

fn files_under(root: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every keyring account of the store's service (staged `NAME#txn-ID` ones
/// included), sorted.
fn keyring_accounts(sb: &Sandbox) -> Vec<String> {
    let service = format!("dctx:{}", sb.store().display());
    let out = sb
        .cmd("secret-tool")
        .args(["search", "--all", "service", &service])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Recover (any dctx command does), then read the state and check that
/// every store agrees with it.
fn observe(sb: &Sandbox, step: usize) -> Option<State> {
    let out = sb.dctx().args(["ls", "--json"]).output().unwrap();
    assert_success(&out, &format!("ls after step {step}"));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] != "default")
        .collect();
    // No journal, no staging, no half-written temp file is left anywhere.
    let mut files = Vec::new();
    files_under(&sb.home, &mut files);
    for f in &files {
        let s = f.display().to_string();
        assert!(
            !s.contains(".dctx-txn") && !s.ends_with("journal.json") && !s.contains(".tmp-"),
            "step {step}: leftover {s}"
        );
    }
    let marker = key_marker();
    let key_copies: Vec<_> = files
        .iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .replace('\n', "")
                        .contains(&marker)
                })
                .unwrap_or(false)
        })
        .collect();
    let cfg = std::fs::read(sb.docker_config().join("config.json"))
        .ok()
        .map(|b| serde_json::from_slice::<serde_json::Value>(&b).unwrap());
    let current = cfg
        .as_ref()
        .and_then(|c| c["currentContext"].as_str().map(str::to_string));
    assert!(mine.len() <= 1, "step {step}: two rows {mine:#?}");
    let Some(r) = mine.first() else {
        assert!(
            key_copies.is_empty(),
            "step {step}: stray keys {key_copies:?}"
        );
        assert_eq!(current, None, "step {step}: dangling currentContext");
        assert_eq!(
            keyring_accounts(sb),
            Vec::<String>::new(),
            "step {step}: keys left in the keyring"
        );
        return None;
    };
    let name = r["name"].as_str().unwrap().to_string();
    assert_eq!(r["kind"], "profile", "step {step}: {r:#}");
    assert_eq!(r["drift"], serde_json::json!([]), "step {step}: {r:#}");
    assert!(r["error"].is_null(), "step {step}: {r:#}");
    let keyring = r["key_store"] == "keyring";
    let want: Vec<String> = if keyring { vec![name.clone()] } else { vec![] };
    assert_eq!(
        keyring_accounts(sb),
        want,
        "step {step}: keyring accounts of the store"
    );
    let inspect = sb
        .docker()
        .args([
            "context",
            "inspect",
            &name,
            "--format",
            "{{.Endpoints.docker.Host}}",
        ])
        .output()
        .unwrap();
    if keyring {
        assert!(
            sb.keyring_lookup(&name).is_some(),
            "step {step}: keyring key missing"
        );
        assert!(
            key_copies.is_empty(),
            "step {step}: key on disk {key_copies:?}"
        );
        assert!(
            !inspect.status.success(),
            "step {step}: keyring profile has a context"
        );
    } else {
        assert_eq!(
            sb.keyring_lookup(&name),
            None,
            "step {step}: stale keyring key"
        );
        assert_eq!(
            key_copies.len(),
            1,
            "step {step}: key copies {key_copies:?}"
        );
        assert_success(
            &inspect,
            &format!("step {step}: docker context inspect {name}"),
        );
        assert_eq!(
            String::from_utf8_lossy(&inspect.stdout).trim(),
            r["endpoint"].as_str().unwrap(),
            "step {step}"
        );
    }
    if let Some(c) = &current {
        assert_eq!(c, &name, "step {step}: currentContext points elsewhere");
    }
    Some(State {
        name,
        keyring,
        host: r["endpoint"].as_str().unwrap().to_string(),
        current: current.is_some(),
    })
}

/// The command that moves `s` somewhere else, and where it would end.
fn next_op(
    s: &Option<State>,
    pick: u32,
    bundle: &str,
    hosts: [&str; 2],
) -> (Vec<String>, Option<State>) {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let Some(s) = s else {
        let host = hosts[(pick % 2) as usize];
        return (
            v(&["add", "prod", "--bundle", bundle, "--host", host, "--use"]),
            Some(State {
                name: "prod".into(),
                keyring: false,
                host: host.into(),
                current: true,
            }),
        );
    };
    let mut n = s.clone();
    let flip = |h: &str| if h == hosts[0] { hosts[1] } else { hosts[0] }.to_string();
    match pick % 7 {
        0 => {
            n.host = flip(&s.host);
            let mut a = v(&[
                "add",
                &s.name,
                "--bundle",
                bundle,
                "--host",
                &n.host,
                "--replace",
            ]);
            if s.keyring {
                a.extend(v(&["--key-store", "keyring"]));
            }
            (a, Some(n))
        }
        1 => {
            n.name = if s.name == "prod" { "prod2" } else { "prod" }.into();
            (v(&["mv", &s.name, &n.name]), Some(n))
        }
        2 => {
            n.keyring = !s.keyring;
            n.current = false;
            let to = if n.keyring { "keyring" } else { "file" };
            (v(&["key", "move", &s.name, "--to", to]), Some(n))
        }
        3 if !s.keyring => {
            n.current = !s.current;
            let target = if n.current {
                s.name.as_str()
            } else {
                "default"
            };
            (v(&["use", target]), Some(n))
        }
        // Re-records the context as docker has it: the same state.
        4 if !s.keyring => (v(&["adopt", &s.name]), Some(n)),
        3..=5 => {
            n.host = flip(&s.host);
            (v(&["set-host", &s.name, &n.host]), Some(n))
        }
        _ => (v(&["rm", &s.name]), None),
    }
}

/// The operation `args` runs (its counts are kept per operation).
fn op(args: &[String]) -> String {
    match args[0].as_str() {
        "key" => "key move".into(),
        o => o.into(),
    }
}

/// Per operation: runs, kills that left a journal, old/new states seen,
/// runs that finished on their own.
#[derive(Default, Debug)]
struct Tally {
    runs: u32,
    in_txn: u32,
    old: u32,
    new: u32,
    finished: u32,
}

#[test]
fn kill_at_random_points_leaves_the_old_state_or_the_new_one() {
    let d = dockerd();
    let sb = Sandbox::new().with_keyring();
    let bundle = sb.client_bundle().display().to_string();
    let port = d.port.to_string();
    let h0 = format!("tcp://127.0.0.1:{port}");
    let h1 = format!("tcp://localhost:{port}");
    let hosts = [h0.as_str(), h1.as_str()];
    let runs: u32 = std::env::var("DCTX_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Uninterrupted, every operation succeeds and lands on its new state;
    // how long each takes here (debug build, busy machine) is the first
    // span its kills are spread over.
    let mut took: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut state = None;
    for step in 0..40 {
        let (args, want) = next_op(&state, step, &bundle, hosts);
        let t0 = Instant::now();
        let out = sb.dctx().args(&args).output().unwrap();
        let micros = t0.elapsed().as_micros() as u64;
        assert_success(&out, &format!("uninterrupted `dctx {}`", args.join(" ")));
        took.entry(op(&args)).or_default().push(micros);
        state = observe(&sb, step as usize);
        assert_eq!(state, want, "uninterrupted `dctx {}`", args.join(" "));
    }
    let median = |o: &str| {
        let mut t = took.get(o).unwrap_or(&took["add"]).clone();
        t.sort();
        t[t.len() / 2].max(20_000) * 6 / 5
    };
    // The machine's load drifts: a span that lets runs finish first
    // shrinks, one that only kills before the transaction grows.
    let mut spans: BTreeMap<String, u64> = BTreeMap::new();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    const OPS: [&str; 7] = ["add", "mv", "key move", "use", "set-host", "adopt", "rm"];
    const MIN_IN_TXN: u32 = 3;
    // Past `runs`, go on (up to 5×) while an operation still lacks kills
    // inside its transaction: under load the window drifts, and a fixed
    // count would make the minimum a matter of luck.
    let short = |tally: &BTreeMap<String, Tally>| {
        OPS.iter()
            .any(|o| tally.get(*o).is_none_or(|t| t.in_txn < MIN_IN_TXN))
    };
    let mut step = 0usize;
    while step < runs as usize || (short(&tally) && step < 5 * runs as usize) {
        step += 1;
        let (args, want) = next_op(&state, (rnd() % 1000) as u32, &bundle, hosts);
        let o = op(&args);
        let mut child = sb
            .dctx()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before exec to after exit.
        let span = *spans.entry(o.clone()).or_insert_with(|| median(&o));
        std::thread::sleep(Duration::from_micros(rnd() % span));
        let sig = if rnd() % 2 == 0 {
            libc::SIGKILL
        } else {
            libc::SIGINT
        };
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        let t = tally.entry(o.clone()).or_default();
        t.runs += 1;
        // A run the signal did not reach finished on its own: successfully.
        if let Some(code) = status.code() {
            assert_eq!(code, 0, "step {step}: `dctx {}` failed", args.join(" "));
            t.finished += 1;
        }
        // Before anything recovers: was the kill inside the transaction?
        let in_txn = sb.store().join("journal.json").exists();
        t.in_txn += in_txn as u32;
        let got = observe(&sb, step);
        // Finished first, or killed after the commit: aim earlier. Killed
        // before the transaction began: aim later.
        let after_commit = !in_txn && got == want && want != state;
        let adjusted = if status.code().is_some() || after_commit {
            span * 3 / 4
        } else if !in_txn && got == state {
            span * 9 / 8
        } else {
            span
        };
        spans.insert(o.clone(), adjusted.clamp(5_000, 5_000_000));
        if got == state && got != want {
            t.old += 1;
        } else {
            assert_eq!(
                got,
                want,
                "step {step}: `dctx {}` left neither the old state {state:?} nor the new one",
                args.join(" ")
            );
            t.new += 1;
        }
        state = got;
    }
    for (o, t) in &tally {
        eprintln!(
            "crash: {o:>8}: {} kills, {} inside the transaction (journal left), {} old, {} new, {} finished first",
            t.runs, t.in_txn, t.old, t.new, t.finished
        );
    }
    for o in OPS {
        let t = tally
            .get(o)
            .unwrap_or_else(|| panic!("{o} never ran: {tally:?}"));
        assert!(
            t.in_txn >= MIN_IN_TXN,
            "{o}: too few kills inside the transaction: {t:?}"
        );
    }
    let (old, new): (u32, u32) = tally
        .values()
        .map(|t| (t.old, t.new))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    // The kills landed on both sides of the commit point.
    assert!(old > 10 && new > 10, "old {old}, new {new}");
}
