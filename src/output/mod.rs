//! Rendering: tables (comfy-table) and JSON. Nothing here decides anything.

pub mod doctor;
pub mod health;
pub mod probe_json;
pub mod progress;
pub mod prometheus;

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};

use crate::environment::Env;

/// Whether to decorate stdout: a TTY and no NO_COLOR.
pub fn styled(env: &Env) -> bool {
    !env.no_color && std::io::stdout().is_terminal()
}

/// A table with `headers`: box lines on a TTY, plain aligned columns when
/// piped (grep- and awk-friendly, like `docker context ls`).
pub fn table(env: &Env, headers: &[&str]) -> Table {
    let mut t = Table::new();
    if std::io::stdout().is_terminal() {
        t.load_preset(presets::UTF8_HORIZONTAL_ONLY);
        fit_to_terminal(&mut t);
    } else {
        t.load_preset(presets::NOTHING);
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    if !styled(env) {
        t.force_no_tty();
    }
    t.set_header(headers.iter().copied());
    t
}

/// Wrap to the terminal only when it reports a usable width: a pty of size
/// 0x0 (`script`, some CI runners, serial consoles) would otherwise squash
/// every column to one character.
pub fn fit_to_terminal(t: &mut Table) {
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if t.width().is_none_or(|w| w < 40) {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
}

/// "in 41 days" / "EXPIRED 3 days ago" for a cert's `not_after`.
pub fn days_phrase(not_after: i64, now: i64) -> String {
    let days = (not_after - now).div_euclid(86_400);
    if not_after <= now {
        format!("EXPIRED {} days ago", (now - not_after) / 86_400)
    } else {
        format!("{days} days")
    }
}

/// Pretty JSON + newline.
pub fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}
