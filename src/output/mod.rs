//! Rendering: tables, colour, dates and JSON. Nothing here decides anything.

pub mod doctor;
pub mod health;
pub mod probe_json;
pub mod progress;
pub mod prometheus;
pub mod table;

use crate::environment::Env;

/// Whether to colour stdout, decided here only: `--color always|never`,
/// else (auto) a TTY, no NO_COLOR and a TERM other than `dumb`. Auto is
/// resolved from `Env` rather than by anstream's own detection so that it
/// reads the injected environment (CLICOLOR is not read).
pub fn styled(env: &Env) -> bool {
    match env.color {
        anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
        anstream::ColorChoice::Never => false,
        anstream::ColorChoice::Auto => env.stdout_tty && !env.no_color && !env.term_dumb,
    }
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

// Commands sanitize as they render: the leaf's functions, under output.
pub use crate::text::{sanitize, sanitize_lines};

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
