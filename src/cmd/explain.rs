//! `dctx explain [CODE]`: a finding code's explanation (ruff's `rule`), or
//! the list of every code. The texts live in `probe::explain`.

use crate::cli::ExplainArgs;
use crate::environment::Env;
use crate::output::table::{Column, Style, Table};
use crate::probe::explain::{self, Explanation};

pub fn run(args: ExplainArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let Some(code) = args.code else {
        if args.json {
            let all: Vec<serde_json::Value> = explain::ALL.iter().map(with_fix_kind).collect();
            super::print(&crate::output::json(&all)?)?;
        } else {
            super::print(&list(crate::output::width(env, false)))?;
        }
        return Ok(crate::exit::Exit::Ok);
    };
    let Some(e) = explain::lookup(code.trim()) else {
        let near = explain::ALL
            .iter()
            .map(|e| e.code.as_str())
            .max_by(|a, b| {
                strsim::jaro_winkler(a, &code).total_cmp(&strsim::jaro_winkler(b, &code))
            })
            .filter(|c| strsim::jaro_winkler(c, &code) > 0.8);
        anyhow::bail!(
            "no finding code {:?}{}; `dctx explain` lists them all",
            crate::output::sanitize(&code),
            near.map(|c| format!(" (did you mean {c}?)"))
                .unwrap_or_default()
        );
    };
    if args.json {
        super::print(&crate::output::json(&with_fix_kind(e))?)?;
    } else {
        let styled = crate::output::styled(env);
        super::print(&render(e, crate::output::width(env, false), styled))?;
    }
    Ok(crate::exit::Exit::Ok)
}

/// Every code, its usual severity and its one-line summary.
fn list(width: Option<usize>) -> String {
    let mut t = Table::new(vec![
        Column::always("CODE"),
        Column::always("SEVERITY"),
        Column::optional("SUMMARY", 1).truncate(20),
    ]);
    for e in explain::ALL {
        t.add_row(vec![
            e.code.as_str().into(),
            e.severity.as_str().into(),
            e.summary.into(),
        ]);
    }
    t.render(width, false) + "details: dctx explain CODE\n"
}

/// A heading, then each part wrapped under its own heading; the example
/// verbatim (it quotes terminal output).
/// An explanation as JSON, with the registry's fix kind (`commands` or
/// `advice`, src/probe/finding.rs).
fn with_fix_kind(e: &Explanation) -> serde_json::Value {
    let mut v = serde_json::to_value(e).expect("explanations serialize");
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "fix_kind".into(),
            serde_json::to_value(e.code.fix_kind()).expect("fix kind serializes"),
        );
    }
    v
}

fn render(e: &Explanation, width: Option<usize>, color: bool) -> String {
    let head = |s: &str| Style::Bold.paint(color, s);
    let para = |s: &str| crate::output::doctor::wrap_block(&format!("  {s}"), width);
    let mut out = format!(
        "{} ({})\n{}",
        head(e.code.as_str()),
        e.severity.as_str(),
        crate::output::doctor::wrap_block(e.summary, width)
    );
    // The registry's kind of fix, after the generic words.
    let fix = match e.code.fix_kind() {
        crate::probe::finding::FixKind::Commands => format!(
            "{} `dctx doctor NAME` prints the exact commands for that profile, one per line, ready to paste.",
            e.fix
        ),
        crate::probe::finding::FixKind::Advice => e.fix.to_string(),
    };
    for (title, text) in [
        ("What it means", e.meaning),
        ("How dctx detects it", e.detection),
        ("Fix", fix.as_str()),
    ] {
        out += &format!("\n{}\n{}", head(title), para(text));
    }
    out += &format!("\n{}\n", head("Example"));
    for line in e.example.lines() {
        out += &format!("  {line}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_code_once() {
        let text = list(None);
        for e in explain::ALL {
            let rows = text
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(e.code.as_str()))
                .count();
            assert_eq!(rows, 1, "{}", e.code);
        }
    }
}
