//! Rendering: tables, colour, dates and JSON. Nothing here decides anything.

pub mod doctor;
pub mod expiry;
pub mod health;
pub mod probe_json;
pub mod progress;
pub mod prometheus;
pub mod table;

use crate::environment::Env;

/// Whether to colour stdout: `--color always|never`, else (auto) a TTY,
/// no NO_COLOR and a TERM other than `dumb`.
pub fn styled(env: &Env) -> bool {
    env.color
        .unwrap_or(env.stdout_tty && !env.no_color && !env.term_dumb)
}

/// The width tables fit into: the terminal's on stdout, else $COLUMNS;
/// None (no limit) when piped or with `--wide`. A 0 or tiny reported width
/// (`script`, serial consoles) counts as unknown.
pub fn width(env: &Env, wide: bool) -> Option<usize> {
    if wide || !env.stdout_tty {
        return None;
    }
    env.tty_width.or(env.columns).filter(|w| *w >= 20)
}

/// Pretty JSON + newline.
pub fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// Text from files, bundles or daemons made safe for a terminal: control
/// characters (ESC sequences, CR, newlines) and the bidi controls that
/// reorder what is shown (U+202E…) are shown escaped, never sent.
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `sanitize` for a block of lines: the newlines stay.
pub fn sanitize_lines(s: &str) -> String {
    s.split('\n')
        .map(|l| sanitize(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every daemon- or file-supplied string of a report made terminal-safe
/// (JSON needs none of this: its encoder escapes control characters).
pub fn sanitize_report(r: &mut crate::probe::Report) {
    let fix = |s: &mut String| {
        if let std::borrow::Cow::Owned(o) = sanitize(s) {
            *s = o;
        }
    };
    fix(&mut r.name);
    fix(&mut r.endpoint);
    for f in &mut r.findings {
        fix(&mut f.message);
        fix(&mut f.fix);
        f.fix_commands.iter_mut().for_each(fix);
        f.fix_alternatives.iter_mut().for_each(fix);
    }
    for s in &mut r.steps {
        fix(&mut s.detail);
    }
    if let Some(d) = &mut r.docker {
        fix(&mut d.version);
        fix(&mut d.api_version);
        fix(&mut d.os);
        fix(&mut d.arch);
        if let Some(o) = &mut d.operating_system {
            fix(o);
        }
    }
    for c in [&mut r.server_cert, &mut r.client_cert]
        .into_iter()
        .flatten()
    {
        fix(&mut c.subject);
        fix(&mut c.issuer);
    }
}
