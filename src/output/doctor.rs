//! `dctx doctor`: each layer with ✓/✗, and under a failed layer the
//! findings that belong to it with their fixes.

use std::fmt::Write;

use crate::probe::{Report, Severity, Status, StepKind, StepState};

use super::table::Style::{
    self, Bold as BOLD, Dim as DIM, Green as GREEN, Red as RED, Yellow as YELLOW,
};

fn paint(color: bool, style: Style, s: &str) -> String {
    style.paint(color, s)
}

/// Render the walk. `color` only on a TTY without NO_COLOR.
pub fn render(r: &Report, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} → {}",
        paint(color, BOLD, "doctor"),
        r.name,
        r.endpoint
    );
    let width = StepKind::ALL
        .iter()
        .map(|k| k.title().chars().count())
        .max()
        .unwrap_or(0);
    let mut shown = vec![false; r.findings.len()];
    for s in &r.steps {
        let (mark, c) = match s.state {
            StepState::Ok => ("✓", GREEN),
            StepState::Warn => ("!", YELLOW),
            StepState::Fail => ("✗", RED),
            StepState::Skip => ("-", DIM),
        };
        let _ = writeln!(
            out,
            "  {} {:<width$}  {}",
            paint(color, c, mark),
            s.name,
            if s.state == StepState::Skip {
                paint(color, DIM, &s.detail)
            } else {
                s.detail.clone()
            }
        );
        for (i, f) in r.findings.iter().enumerate() {
            if shown[i] || StepKind::for_finding(f) != s.step {
                continue;
            }
            shown[i] = true;
            finding(&mut out, f, Some(&s.detail), color);
        }
    }
    let rest: Vec<_> = r
        .findings
        .iter()
        .enumerate()
        .filter(|(i, _)| !shown[*i])
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "  other findings:");
        for (_, f) in rest {
            finding(&mut out, f, None, color);
        }
    }
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let (word, c) = match r.status {
        Status::Ok => ("ok", GREEN),
        Status::Warn => ("warn", YELLOW),
        Status::Fail => ("fail", RED),
    };
    let _ = writeln!(
        out,
        "\nstatus: {} ({errors} error{}, {warnings} warning{})",
        paint(color, c, word),
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    );
    out
}

/// A finding under its step; the message is left out when the step line
/// already says it.
fn finding(out: &mut String, f: &crate::probe::Finding, step_detail: Option<&str>, color: bool) {
    let (mark, c) = match f.severity {
        Severity::Error => ("✗", RED),
        Severity::Warning => ("!", YELLOW),
        Severity::Info => ("i", DIM),
    };
    if step_detail == Some(f.message.as_str()) {
        let _ = writeln!(
            out,
            "      {} {}",
            paint(color, c, mark),
            paint(color, BOLD, f.code.as_str())
        );
    } else {
        let _ = writeln!(
            out,
            "      {} {}: {}",
            paint(color, c, mark),
            paint(color, BOLD, f.code.as_str()),
            f.message
        );
    }
    let _ = writeln!(out, "        fix: {}", f.fix);
}
