//! The module layout: no import cycle between sibling files or folders
//! anywhere in src/. A module using its own ancestor (or descendant) is
//! fine; `a → b → a` among the children of one folder is not. Every
//! `crate::`/`super::`/`self::` path in the code counts, not only `use`
//! lines (an inline `crate::x::f()` is a dependency too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Cycles tolerated, per folder ("" is src/): none since issue 20 broke
/// the last three. A cycle must stay within one of these sets; any other
/// fails. Keep it empty.
const KNOWN: &[(&str, &[&str])] = &[];

type Module = Vec<String>;

/// Every .rs file under src/ as a module path (`src/probe/mod.rs` →
/// [probe], `src/probe/ssh.rs` → [probe, ssh]; lib.rs and main.rs → []:
/// the binary's `crate::x` reaches the library's modules by the same names).
fn modules(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            let mut p = prefix.clone();
            p.push(name);
            modules(&path, &p, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut m = prefix.clone();
            if !matches!(stem, "mod" | "lib" | "main") {
                m.push(stem.to_string());
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.entry(m).or_default().push_str(&text);
        }
    }
}

/// The code without comments and string literals (paths in docs or
/// messages are not dependencies). Coarse, but Rust source here has no
/// raw strings containing `crate::`.
fn code_only(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        out.push('\n');
    }
    out
}

/// The modules `m` (whose text is `text`) refers to.
fn deps(m: &Module, text: &str, all: &BTreeMap<Module, String>) -> BTreeSet<Module> {
    let re = regex::Regex::new(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)").unwrap();
    let mut out = BTreeSet::new();
    for cap in re.captures_iter(&code_only(text)) {
        let mut path: Module = match &cap[1] {
            "crate" => Vec::new(),
            "super" => m[..m.len().saturating_sub(1)].to_vec(),
            _ => m.clone(),
        };
        let rest: Vec<&str> = cap[2].split("::").filter(|s| !s.is_empty()).collect();
        let mut rest = rest.into_iter().peekable();
        // `super::super::x`
        while rest.peek() == Some(&"super") {
            rest.next();
            path.pop();
        }
        path.extend(rest.map(str::to_string));
        // The longest prefix that is a module file.
        while !path.is_empty() && !all.contains_key(&path) {
            path.pop();
        }
        if !path.is_empty() && path != *m {
            out.insert(path);
        }
    }
    out
}

/// Strongly connected components of more than one node (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct St<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Per folder (as `a::b`, "" for src/): its children's dependency graph,
/// each edge between the two children of the folder that hold the modules.
fn sibling_graphs(
    all: &BTreeMap<Module, String>,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (m, text) in all {
        for d in deps(m, text, all) {
            let common = m.iter().zip(&d).take_while(|(a, b)| a == b).count();
            // An ancestor or a descendant: not a sibling edge.
            if common == m.len() || common == d.len() {
                continue;
            }
            graphs
                .entry(m[..common].join("::"))
                .or_default()
                .entry(m[common].clone())
                .or_default()
                .insert(d[common].clone());
        }
    }
    graphs
}

#[test]
fn no_new_import_cycles_between_siblings() {
    let mut all = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &Vec::new(),
        &mut all,
    );
    let graphs = sibling_graphs(&all);
    // The scan sees real edges (a positive control): cmd uses targets.
    assert!(
        graphs[""]["cmd"].contains("targets"),
        "the scan found no cmd → targets edge: {:?}",
        graphs[""]
    );
    let mut new = Vec::new();
    for (folder, g) in &graphs {
        for cycle in cycles(g) {
            let known = KNOWN
                .iter()
                .any(|(f, set)| f == folder && cycle.iter().all(|m| set.contains(&m.as_str())));
            if !known {
                let edges: Vec<String> = cycle
                    .iter()
                    .flat_map(|a| {
                        g[a].iter()
                            .filter(|b| cycle.contains(*b))
                            .map(move |b| format!("{a} → {b}"))
                    })
                    .collect();
                new.push(format!("src/{folder}: {}", edges.join(", ")));
            }
        }
    }
    assert!(
        new.is_empty(),
        "import cycles between sibling modules (break them, e.g. by moving the shared type down):\n{}",
        new.join("\n")
    );
}

/// The detector itself: a planted three-module cycle is found, a
/// child → parent use is not a cycle.
#[test]
fn the_cycle_detector_finds_a_planted_cycle() {
    let mut all: BTreeMap<Module, String> = BTreeMap::new();
    let m = |s: &str| -> Module {
        s.split("::")
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    all.insert(
        m("p"),
        "use self::a::X; fn f() { crate::p::b::g(); }".into(),
    );
    all.insert(m("p::a"), "use super::b::Y; use super::Z;".into());
    all.insert(
        m("p::b"),
        "use crate::p::c::W; // crate::p::a in a comment".into(),
    );
    all.insert(
        m("p::c"),
        "fn h() { super::a::f(); let s = \"crate::q\"; }".into(),
    );
    all.insert(m("q"), "use crate::p::a;".into());
    let graphs = sibling_graphs(&all);
    let found = cycles(&graphs["p"]);
    assert_eq!(found.len(), 1, "{graphs:?}");
    assert_eq!(
        found[0],
        ["a", "b", "c"].into_iter().map(String::from).collect()
    );
    assert!(cycles(&graphs[""]).is_empty(), "{graphs:?}");
}

/// The ```text block under `heading` in `doc` (a path from the repo root).
fn layout_block(doc: &str, heading: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    text.split(heading)
        .nth(1)
        .and_then(|s| s.split("```text").nth(1))
        .and_then(|s| s.split("```").next())
        .unwrap_or_else(|| panic!("{doc}: no ```text block under {heading}"))
        .to_string()
}

/// Every `src/…` word in `block` exists, and every top-level entry of src/
/// is named by one.
fn layout_problems(doc: &str, block: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let named: BTreeSet<String> = block
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("src/"))
        .map(|w| w.trim_end_matches('/').to_string())
        .filter(|w| w.split('/').count() == 1)
        .collect();
    for n in &named {
        if !root.join("src").join(n).exists() {
            problems.push(format!("{doc} names src/{n}, which does not exist"));
        }
    }
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !named.contains(&name) {
            problems.push(format!("{doc}: src/{name} is not in the layout"));
        }
    }
    problems
}

/// The README's layout and docs/internals.md's both name every top-level
/// entry of src/ (internals.md also every file of conn/ and probe/, the two
/// folders it describes file by file), and every `src/…` path they name
/// exists.
#[test]
fn the_documented_layout_matches_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = layout_block("README.md", "## Layout");
    let block = layout_block("docs/internals.md", "## Layout");
    let mut problems = layout_problems("README.md", &readme);
    problems.extend(layout_problems("docs/internals.md", &block));
    for dir in ["conn", "probe"] {
        for entry in std::fs::read_dir(root.join("src").join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let shown = if name.ends_with(".rs") {
                name.clone()
            } else {
                format!("{name}/")
            };
            if name != "mod.rs" && !block.contains(&shown) {
                problems.push(format!("src/{dir}/{name} is not described"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
