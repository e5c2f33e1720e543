//! Function length: no non-test function in src/ over LIMIT lines (issue
//! 20: a long function that branches like a state machine hides its
//! phases; split it into phase functions that return values). A function
//! is measured from its `fn` line to the closing brace at the same
//! indentation (rustfmt's layout), comments and blank lines included.
//! `#[cfg(test)]` modules (inline or in their own file) and `#[test]` /
//! `#[cfg(test)]` functions are not counted.

use std::collections::BTreeSet;
use std::path::Path;

/// Issue 20 asked for none over 120 and none over ~80 that branches like a
/// state machine; since every function was split below 80, the stricter
/// bound holds for all.
const LIMIT: usize = 80;

/// Functions tolerated over the limit: (module path without `.rs`,
/// function name). Empty since issue 20 split the last ones; an entry
/// whose function is no longer over the limit fails the test. Keep it empty.
const KNOWN: &[(&str, &str)] = &[];

#[derive(Debug, PartialEq)]
struct Func {
    name: String,
    /// 1-based line of the `fn`.
    line: usize,
    lines: usize,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The index of the line closing the block opened at `open` (the first
/// later line at the same indentation starting with `}`).
fn block_end(lines: &[&str], open: usize) -> usize {
    let ind = indent(lines[open]);
    (open + 1..lines.len())
        .find(|&j| indent(lines[j]) == ind && lines[j].trim_start().starts_with('}'))
        .unwrap_or(lines.len() - 1)
}

fn is_attr(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("#[") || t.starts_with("///") || t.starts_with("//")
}

/// Every non-test function with a body in one file's text.
fn functions(text: &str) -> Vec<Func> {
    let fn_re = regex::Regex::new(
        r#"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)"#,
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t == "#[cfg(test)]" || t == "#[test]" {
            // Skip the item the attribute is on, when it has a block.
            let mut j = i + 1;
            while j < lines.len() && is_attr(lines[j]) {
                j += 1;
            }
            // Its first line ending in `{` or `;` (then it has no block).
            let open = (j..lines.len()).find(|&k| {
                let e = lines[k].trim_end();
                e.ends_with('{') || e.ends_with(';')
            });
            if let Some(open) = open.filter(|&k| lines[k].trim_end().ends_with('{')) {
                i = block_end(&lines, open) + 1;
                continue;
            }
        } else if let Some(cap) = fn_re.captures(lines[i]) {
            let name = cap[1].to_string();
            // The end of the signature: its body's `{`, or `;` (no body).
            let sig_end = (i..lines.len()).find(|&k| {
                let e = lines[k].trim_end();
                e.ends_with('{') || e.ends_with(';') || e.ends_with('}')
            });
            match sig_end {
                Some(k) if lines[k].trim_end().ends_with(';') => {}
                // A one-line function `fn f() -> u8 { 1 }`.
                Some(k) if lines[k].trim_end().ends_with('}') => out.push(Func {
                    name,
                    line: i + 1,
                    lines: k - i + 1,
                }),
                Some(k) => {
                    let end = (k + 1..lines.len())
                        .find(|&j| {
                            indent(lines[j]) == indent(lines[i])
                                && lines[j].trim_start().starts_with('}')
                        })
                        .unwrap_or(lines.len() - 1);
                    out.push(Func {
                        name,
                        line: i + 1,
                        lines: end - i + 1,
                    });
                }
                None => {}
            }
        }
        i += 1;
    }
    out
}

/// Every .rs file under `dir` (as `src/a/b.rs`), minus the files of
/// `#[cfg(test)] mod x;` declarations.
fn source_files(root: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((rel.replace('\\', "/"), text));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &root.join("src"), &mut files);
    let mod_re =
        regex::Regex::new(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")
            .unwrap();
    let mut test_modules = BTreeSet::new();
    for (file, text) in &files {
        let lines: Vec<&str> = text.lines().collect();
        for w in lines.windows(2) {
            if w[0].trim() == "#[cfg(test)]"
                && let Some(cap) = mod_re.captures(w[1])
            {
                // `a/mod.rs`, `lib.rs`: children in `a/`; `a/b.rs`: in `a/b/`.
                let (dir, stem) = file.rsplit_once('/').unwrap();
                let stem = stem.trim_end_matches(".rs");
                let base = if matches!(stem, "mod" | "lib" | "main") {
                    dir.to_string()
                } else {
                    format!("{dir}/{stem}")
                };
                test_modules.insert(format!("{base}/{}", &cap[1]));
            }
        }
    }
    files.retain(|(file, _)| {
        !test_modules
            .iter()
            .any(|m| file == &format!("{m}.rs") || file.starts_with(&format!("{m}/")))
    });
    files
}

/// `src/cmd/pki` names `src/cmd/pki.rs` and every file under `src/cmd/pki/`.
fn in_module(file: &str, module: &str) -> bool {
    file == format!("{module}.rs") || file.starts_with(&format!("{module}/"))
}

#[test]
fn no_function_over_the_limit() {
    let files = source_files(Path::new(env!("CARGO_MANIFEST_DIR")));
    let mut too_long = Vec::new();
    let mut known_seen = BTreeSet::new();
    let mut count = 0;
    for (file, text) in &files {
        for f in functions(text) {
            count += 1;
            if f.lines <= LIMIT {
                continue;
            }
            match KNOWN
                .iter()
                .find(|(m, name)| *name == f.name && in_module(file, m))
            {
                Some(k) => {
                    known_seen.insert(*k);
                }
                None => too_long.push(format!("{file}:{}:{}: {} lines", f.line, f.name, f.lines)),
            }
        }
    }
    // The scan sees the code (a positive control): src/ has hundreds of fns.
    assert!(
        count > 500,
        "only {count} functions found in {} files",
        files.len()
    );
    assert!(
        too_long.is_empty(),
        "functions over {LIMIT} lines (split them into phase functions that return values):\n{}",
        too_long.join("\n")
    );
    let stale: Vec<String> = KNOWN
        .iter()
        .filter(|k| !known_seen.contains(*k))
        .map(|(m, name)| format!("{m}: {name}"))
        .collect();
    assert!(
        stale.is_empty(),
        "no longer over {LIMIT} lines: delete from KNOWN in tests/it/fn_length.rs:\n{}",
        stale.join("\n")
    );
}

/// The measure itself on planted code: a long function is measured from
/// its `fn` line to its closing brace; trait declarations have no length;
/// test modules and test functions are not counted.
#[test]
fn the_measure_counts_a_planted_function() {
    let body = "    let x = 1;\n".repeat(130);
    let inner = "        let y = 2;\n".repeat(130);
    let text = format!(
        "//! doc\n\
         /// Long.\n\
         pub(crate) async fn long() {{\n{body}}}\n\
         fn short() -> u8 {{ 1 }}\n\
         trait T {{\n    fn decl(&self);\n    fn with_default(\n        &self,\n    ) {{\n        let _ = 1;\n    }}\n}}\n\
         #[cfg(test)]\n\
         mod tests {{\n    fn helper() {{\n{inner}    }}\n}}\n\
         #[cfg(test)]\n\
         #[allow(dead_code)]\n\
         fn test_only() {{\n{body}}}\n\
         fn after() {{\n    let s = \"}}\";\n}}\n"
    );
    let got: Vec<(String, usize)> = functions(&text)
        .into_iter()
        .map(|f| (f.name, f.lines))
        .collect();
    let want: Vec<(String, usize)> = [
        ("long", 132),
        ("short", 1),
        ("with_default", 5),
        ("after", 3),
    ]
    .into_iter()
    .map(|(n, l)| (n.to_string(), l))
    .collect();
    assert_eq!(got, want);
}

/// `#[cfg(test)] mod x;` leaves out x.rs and x/ beside a mod.rs, or under
/// a.rs's folder for a.rs.
#[test]
fn test_module_files_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, text) in [
        ("src/lib.rs", "mod a;\n#[cfg(test)]\nmod top;\n"),
        ("src/top.rs", "fn t() {}\n"),
        ("src/a.rs", "#[cfg(test)]\nmod fixtures;\nmod b;\n"),
        ("src/a/fixtures/mod.rs", "fn f() {}\n"),
        ("src/a/b.rs", "fn kept() {}\n"),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let files: BTreeSet<String> = source_files(root).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        files,
        ["src/a.rs", "src/a/b.rs", "src/lib.rs"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
