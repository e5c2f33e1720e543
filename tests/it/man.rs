//! Man pages: committed under man/ exactly as `dctx help-man` writes them
//! (like completions/), and readable by the real `man`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Sandbox, assert_success};

fn pages(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn committed_man_pages_match_the_cli() {
    let sb = Sandbox::new();
    let out = sb.path("man");
    sb.ok(&["help-man", out.to_str().unwrap()]);
    let printed = pages(&out);
    let committed = pages(&Path::new(env!("CARGO_MANIFEST_DIR")).join("man"));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&printed),
        "man/ drifted from the CLI: run `cargo run -- help-man man` (and remove stale pages)"
    );
    for (name, roff) in &printed {
        assert!(
            committed[name] == *roff,
            "man/{name} drifted from the CLI: run `cargo run -- help-man man`"
        );
    }
    // One page per visible command, and the hidden generator has none.
    for page in [
        "dctx.1",
        "dctx-check.1",
        "dctx-pki-server.1",
        "dctx-explain.1",
    ] {
        assert!(printed.contains_key(page), "{page}: {:?}", names(&printed));
    }
    assert!(!printed.contains_key("dctx-help-man.1"));
}

/// The real man renders a page, and it documents every flag `--help` shows.
#[test]
fn man_renders_every_flag_of_the_command() {
    let sb = Sandbox::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for (cmd, page) in [
        (&["check"][..], "dctx-check.1"),
        (&["pki", "server"], "dctx-pki-server.1"),
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = sb.ok(&args);
        let out = sb
            .cmd("man")
            .env("MANWIDTH", "200")
            .arg("-l")
            .arg(dir.join(page))
            .output()
            .unwrap();
        assert_success(&out, &format!("man -l {page}"));
        // Overstrike bold/underline (`c\bc`, `_\bc`) when groff still emits it.
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(if c == '\u{2010}' { '-' } else { c });
            }
        }
        let flags: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
            .filter(|w| w.starts_with("--") && w.len() > 2 && !w.contains('`'))
            .map(|w| w.split('=').next().unwrap())
            .collect();
        assert!(flags.len() >= 4, "{help}");
        for flag in flags {
            assert!(text.contains(flag), "{page} lacks {flag}:\n{text}");
        }
    }
}
