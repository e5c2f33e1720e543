//! `dctx doctor`: each layer with ✓/✗, and under a failed layer the
//! findings that belong to it with their fixes.

use std::fmt::Write;

use super::table::width_of;

use crate::probe::{Report, Severity, StepKind, StepState};

use super::table::Style::{
    self, Bold as BOLD, Dim as DIM, Green as GREEN, Red as RED, Yellow as YELLOW,
};

fn paint(color: bool, style: Style, s: &str) -> String {
    style.paint(color, s)
}

/// `text` after a `lead` of `lead_len` columns, wrapped between words to
/// `width` with later lines indented to `indent`; a word longer than a line
/// stays whole. `style` colours the text. By hand, not textwrap: each line
/// is painted whole and a word (a command, a path) is never split.
fn wrapped(
    out: &mut String,
    lead: &str,
    lead_len: usize,
    text: &str,
    indent: usize,
    width: Option<usize>,
    style: (bool, Style),
) {
    out.push_str(lead);
    let Some(width) = width.filter(|w| *w > indent + 20) else {
        let _ = writeln!(out, "{}", style.1.paint(style.0, text));
        return;
    };
    let mut col = lead_len;
    let mut line = String::new();
    for word in text.split(' ') {
        let n = width_of(word);
        if !line.is_empty() && col + 1 + n > width {
            let _ = writeln!(out, "{}", style.1.paint(style.0, &line));
            out.push_str(&" ".repeat(indent));
            line.clear();
            col = indent;
        } else if !line.is_empty() {
            line.push(' ');
            col += 1;
        }
        line.push_str(word);
        col += n;
    }
    let _ = writeln!(out, "{}", style.1.paint(style.0, &line));
}

/// A block of lines wrapped to `width`, each line's own indentation (plus
/// two) as its hanging indent.
pub fn wrap_block(text: &str, width: Option<usize>) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start();
        let lead = line.len() - body.len();
        wrapped(
            &mut out,
            &line[..lead],
            lead,
            body,
            lead + 2,
            width,
            (false, Style::Plain),
        );
    }
    out
}

/// Render the walk. `width`: the terminal's columns (long details and fixes
/// wrap between words, indented); `color` only on a TTY without NO_COLOR.
pub fn render(r: &Report, width: Option<usize>, color: bool) -> String {
    render_with_notes(r, 0, width, color)
}

/// `render`, with the status line counting `notes` compatibility notes
/// (printed after it) so an "ok" never hides them.
pub fn render_with_notes(r: &Report, notes: usize, width: Option<usize>, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} → {}",
        paint(color, BOLD, "doctor"),
        r.name,
        r.endpoint
    );
    steps(&mut out, r, width, color);
    status_line(&mut out, r, notes, color);
    out
}

/// One line per step, each followed by the findings that belong to it;
/// findings no step claims come last, so none is lost.
fn steps(out: &mut String, r: &Report, term_width: Option<usize>, color: bool) {
    let width = StepKind::ALL
        .iter()
        .map(|k| width_of(k.title()))
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
        let lead = format!("  {} {:<width$}  ", paint(color, c, mark), s.name);
        let style = if s.state == StepState::Skip {
            DIM
        } else {
            Style::Plain
        };
        wrapped(
            out,
            &lead,
            width + 6,
            &s.detail,
            width + 6,
            term_width,
            (color, style),
        );
        for (i, f) in r.findings.iter().enumerate() {
            if shown[i] || StepKind::for_finding(f) != s.step {
                continue;
            }
            shown[i] = true;
            finding(out, f, Some(&s.detail), term_width, color);
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
            finding(out, f, None, term_width, color);
        }
    }
}

/// `status: …` with the counts of errors, warnings and `notes`.
fn status_line(out: &mut String, r: &Report, notes: usize, color: bool) {
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
    let notes = match notes {
        0 => String::new(),
        1 => "; 1 note for strict clients, below".into(),
        n => format!("; {n} notes for strict clients, below"),
    };
    let _ = writeln!(
        out,
        "\nstatus: {} ({errors} error{}, {warnings} warning{}{notes})",
        paint(
            color,
            super::health::status_style(r.status),
            r.status.as_str()
        ),
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    );
}

/// A finding under its step; the message is left out when the step line
/// already says it.
fn finding(
    out: &mut String,
    f: &crate::probe::Finding,
    step_detail: Option<&str>,
    width: Option<usize>,
    color: bool,
) {
    let (mark, c) = match f.severity {
        Severity::Error => ("✗", RED),
        Severity::Warning => ("!", YELLOW),
        Severity::Info => ("i", DIM),
    };
    let code = f.code.as_str();
    if step_detail == Some(f.message.as_str()) {
        let _ = writeln!(
            out,
            "      {} {}",
            paint(color, c, mark),
            paint(color, BOLD, code)
        );
    } else {
        let lead = format!(
            "      {} {}: ",
            paint(color, c, mark),
            paint(color, BOLD, code)
        );
        let lead_len = 8 + width_of(code) + 2;
        wrapped(
            out,
            &lead,
            lead_len,
            &f.message,
            10,
            width,
            (color, Style::Plain),
        );
    }
    wrapped(
        out,
        "        fix: ",
        13,
        &f.fix,
        13,
        width,
        (color, Style::Plain),
    );
    for c in &f.fix_commands {
        command(out, c, width);
    }
    if !f.fix_alternatives.is_empty() {
        out.push_str("        or:\n");
        for c in &f.fix_alternatives {
            command(out, c, width);
        }
    }
}

/// Column of a printed command, and of its `\` continuation lines.
pub const COMMAND_INDENT: usize = 10;
pub const CONTINUATION_INDENT: usize = 14;

/// One command, copy-paste safe: never wrapped inside a word; when it does
/// not fit `width`, broken between words with ` \` continuations a shell
/// joins back into the same command.
fn command(out: &mut String, line: &str, width: Option<usize>) {
    let mut col = COMMAND_INDENT;
    out.push_str(&" ".repeat(COMMAND_INDENT));
    for (i, word) in crate::probe::finding::sh_words(line)
        .into_iter()
        .enumerate()
    {
        let n = width_of(word);
        if i > 0 {
            if width.is_some_and(|w| col + 1 + n + 2 > w) {
                out.push_str(" \\\n");
                out.push_str(&" ".repeat(CONTINUATION_INDENT));
                col = CONTINUATION_INDENT;
            } else {
                out.push(' ');
                col += 1;
            }
        }
        out.push_str(word);
        col += n;
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command wider than the terminal is broken between words with ` \`,
    /// and joining the lines as a shell does gives the command back.
    #[test]
    fn long_commands_continue_with_backslashes() {
        let cmd = "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 363 \
                   -sha256 -extfile server-extfile.cnf -out server-cert.pem";
        let mut out = String::new();
        command(&mut out, cmd, Some(80));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines.iter().all(|l| width_of(l) <= 80), "{out}");
        assert!(
            lines[..lines.len() - 1].iter().all(|l| l.ends_with(" \\")),
            "{out}"
        );
        let joined = lines
            .iter()
            .map(|l| l.trim().trim_end_matches(" \\"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined, cmd);
        // Piped (no width): one line, as in fix_commands.
        let mut out = String::new();
        command(&mut out, cmd, None);
        assert_eq!(out.trim(), cmd);
    }
}
