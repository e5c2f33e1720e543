//! `dctx explain`: every code a real probe reports is explained, by the
//! same name the probe uses.

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
    let out = sb
        .dctx()
        .args(["check", "dead", "plain", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let mut codes: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap().clone())
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    codes.dedup();
    assert!(
        codes.contains(&"connection-refused".to_string()),
        "{codes:?}"
    );
    assert!(codes.contains(&"tls-expected".to_string()), "{codes:?}");

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
    let (code, err) = sb.fails(&["explain", "unknown-cert"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean unknown-ca?"), "{err}");
    let (code, err) = sb.fails(&["explain", "\x1b[31mzzz"]);
    assert_eq!(code, 1);
    assert!(
        !err.contains('\x1b') && !err.contains("did you mean"),
        "{err:?}"
    );
}
