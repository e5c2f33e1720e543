//! `dctx check`'s health table.

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use crate::probe::{CertSummary, Report, Status};

pub const HEADERS: [&str; 9] = [
    "NAME",
    "ENDPOINT",
    "STATUS",
    "LATENCY",
    "DOCKER",
    "API",
    "SERVER CERT",
    "CLIENT CERT",
    "FINDING",
];

/// Colour for a status (only used when `color`).
fn status_color(s: Status) -> Color {
    match s {
        Status::Ok => Color::Green,
        Status::Warn => Color::Yellow,
        Status::Fail => Color::Red,
    }
}

/// "41d" / "expired" / "-".
pub fn cert_days(c: Option<&CertSummary>) -> String {
    match c {
        None => "-".into(),
        Some(c) if c.days_left < 0 => "expired".into(),
        Some(c) => format!("{}d", c.days_left),
    }
}

/// Render the table. `tty`: box lines and wrapping to the terminal width;
/// `color`: coloured STATUS (never when NO_COLOR or not a TTY).
pub fn render(reports: &[Report], tty: bool, color: bool) -> String {
    let mut t = Table::new();
    if tty {
        t.load_preset(presets::UTF8_HORIZONTAL_ONLY);
        super::fit_to_terminal(&mut t);
    } else {
        t.load_preset(presets::NOTHING);
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t.set_header(HEADERS);
    for r in reports {
        let status = Cell::new(r.status.as_str());
        let status = if color {
            status.fg(status_color(r.status))
        } else {
            status
        };
        let finding = r
            .first_finding()
            .map(|f| {
                let more = r
                    .findings
                    .iter()
                    .filter(|g| g.severity >= f.severity)
                    .count()
                    - 1;
                if more > 0 {
                    format!("{} (+{more} more)", f.message)
                } else {
                    f.message.clone()
                }
            })
            .unwrap_or_default();
        t.add_row(vec![
            Cell::new(&r.name),
            Cell::new(&r.endpoint),
            status,
            Cell::new(
                r.latency_ms
                    .map(|l| format!("{l} ms"))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(r.docker.as_ref().map(|d| d.version.as_str()).unwrap_or("-")),
            Cell::new(
                r.docker
                    .as_ref()
                    .map(|d| d.api_version.as_str())
                    .unwrap_or("-"),
            ),
            Cell::new(cert_days(r.server_cert.as_ref())),
            Cell::new(cert_days(r.client_cert.as_ref())),
            Cell::new(finding),
        ]);
    }
    let mut s = t.to_string();
    // NOTHING leaves trailing blanks on every line.
    s = s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    s.push('\n');
    s
}
