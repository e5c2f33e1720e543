//! The fuzz targets live in a separate workspace (fuzz/, nightly flags) that
//! `cargo test` never builds. Their bodies are library functions
//! (`dctx::bundle::fuzz`); this replays every committed seed through them:
//! no panic, and the known-good seeds give the known outcome.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use dctx::bundle::fuzz;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p: PathBuf| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

/// Every seed directory is a target this file replays.
#[test]
fn every_seed_directory_is_replayed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut dirs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["bundle_read", "classify"]);
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for d in &dirs {
        let src = std::fs::read_to_string(targets.join(format!("{d}.rs"))).unwrap();
        assert!(
            src.contains(&format!("dctx::bundle::fuzz::{d}(data)")),
            "fuzz target {d} does not call dctx::bundle::fuzz::{d}"
        );
    }
}

#[test]
fn bundle_read_seeds() {
    let mut report = Vec::new();
    for (name, data) in seeds("bundle_read") {
        let r = catch_unwind(AssertUnwindSafe(|| fuzz::bundle_read(&data)));
        let line = match r {
            Err(_) => format!("{name}: PANIC"),
            Ok(Ok(m)) => format!(
                "{name}: ok cert={} key={} ca={}",
                m.cert.is_some(),
                m.key_pem.is_some(),
                m.ca.is_some()
            ),
            Ok(Err(e)) => format!("{name}: err {e}"),
        };
        report.push(line);
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(!report.contains("PANIC"), "{report}");
    // The seed's client cert expired on 2026-11-25, before the fuzz clock:
    // seeds whose first byte sets `force` import (with a warning), the
    // others must be refused for exactly that reason and no other.
    for good in ["mtls.tar", "mtls.tgz", "export-no-trailer.tar"] {
        assert!(
            report.contains(&format!("{good}: ok cert=true key=true ca=true")),
            "{report}"
        );
    }
    for expired in ["mtls.zip", "mtls.p12", "legacy.p12"] {
        assert!(
            report.lines().any(|l| l.starts_with(&format!("{expired}: err "))
                && l.ends_with("client certificate expired on 2026-11-25T04:28:21Z (pass --force to import it anyway)")),
            "{report}"
        );
    }
}

#[test]
fn classify_seeds() {
    let mut report = Vec::new();
    for (name, data) in seeds("classify") {
        let r = catch_unwind(AssertUnwindSafe(|| fuzz::classify(&data)));
        report.push(match r {
            Err(_) => format!("{name}: PANIC"),
            Ok(o) => format!("{name}: cert={} key={} read={}", o.cert, o.key, o.read_ok),
        });
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(!report.contains("PANIC"), "{report}");
    // The DER seeds are recognised by the object parsers themselves (the
    // encrypted one with the fuzz passphrase).
    for known in [
        "cert.der: cert=true key=false",
        "key-sec1.der: cert=false key=true",
        "key-enc.der: cert=false key=true",
    ] {
        assert!(report.contains(known), "{known}:\n{report}");
    }
}
