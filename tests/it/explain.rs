//! `dctx explain`: every code a real probe reports is explained, by the
//! same name the probe uses.

use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, dockerd, free_port};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn codes_from_real_probes_are_explained() {
    let d = dockerd();
    let sb = Sandbox::new();
    let dir = sb.client_bundle();
    let dead = format!("tcp://127.0.0.1:{}", free_port());
    sb.ok(&[
        "add",
        "dead",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &dead,
    ]);
    sb.ok(&["add", "plain", "--host", &d.host]);
    // Exit 3: connection-refused (dead) and tls-expected (plain).
    let out = dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["check", "dead", "plain", "--json"]),
        "check-dead-plain"
    );
    let mut codes: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap().clone())
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    codes.dedup();

    let all = sb.dctx().args(["explain", "--json"]).output().unwrap();
    assert_success(&all, "dctx explain --json");
    let listed: Vec<String> = json(&all)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect();
    let table = sb.ok(&["explain"]);
    for code in &codes {
        assert!(listed.contains(code), "{code} not in `dctx explain --json`");
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().next() == Some(code)),
            "{code} not in `dctx explain`:\n{table}"
        );
        let out = sb
            .dctx()
            .args(["explain", code, "--json"])
            .output()
            .unwrap();
        assert_success(&out, &format!("dctx explain {code} --json"));
        let e = json(&out);
        assert_eq!(e["code"], code.as_str());
        assert_eq!(e["severity"], "error");
        let text = sb.ok(&["explain", code]);
        assert!(text.starts_with(&format!("{code} (error)\n")), "{text}");
        for heading in ["What it means", "How dctx detects it", "Fix", "Example"] {
            assert!(
                text.lines().any(|l| l == heading),
                "{code}: no {heading}:\n{text}"
            );
        }
    }
}

#[test]
fn an_unknown_code_is_refused_with_the_nearest_one() {
    let sb = Sandbox::new();
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["explain", "unknown-cert"]), "near-miss");
    // The escape is shown escaped, and nothing is near it.
    let out = dctx_snapshot!(f, sb.dctx_cmd(&["explain", "\x1b[31mzzz"]), "escaped");
    assert!(!out.stderr.contains(&0x1b), "{out:?}");
}
