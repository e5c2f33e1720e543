//! `dctx check`'s health table: one line per daemon, finding codes only
//! (the explanation and the fix are `dctx doctor`'s).

use super::table::{Cell, Column, Style, Table, width_of};
use crate::probe::{CertSummary, Report, Severity, Status};
use crate::text::expiry::Expiry;

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

/// The colour of a status word and of its row's finding.
pub fn status_style(s: Status) -> Style {
    match s {
        Status::Ok => Style::Green,
        Status::Warn => Style::Yellow,
        Status::Fail => Style::Red,
        Status::Absent => Style::Dim,
    }
}

/// "41d" / "expired 3d ago" / "-", coloured by urgency.
fn cert_cell(c: Option<&CertSummary>, warn_days: i64) -> Cell {
    match c {
        None => "-".into(),
        Some(c) => {
            let e = Expiry::from_days_left(c.days_left).warn_within(warn_days);
            Cell::styled(e.short(), e.style())
        }
    }
}

/// The most severe finding's code, and how many more errors and warnings
/// there are ("unknown-ca (+2)"); `dctx doctor` explains them all.
pub fn finding_codes(r: &Report) -> String {
    let mut serious = r
        .findings
        .iter()
        .filter(|f| matches!(f.severity, Severity::Error | Severity::Warning));
    let Some(first) = r.first_finding().filter(|f| f.severity != Severity::Info) else {
        return String::new();
    };
    let more = serious.by_ref().count() - 1;
    if more > 0 {
        format!("{} (+{more})", first.code.as_str())
    } else {
        first.code.as_str().to_string()
    }
}

/// The table. `width`: the terminal's columns (None = no limit);
/// `color`: coloured status, findings and certificates expiring within
/// `warn_days` (check's `--warn-days`).
pub fn render(reports: &[Report], width: Option<usize>, color: bool, warn_days: i64) -> String {
    let mut t = Table::new(vec![
        Column::always("NAME"),
        Column::optional("ENDPOINT", 2).truncate(20),
        Column::always("STATUS"),
        Column::optional("LATENCY", 5),
        Column::optional("DOCKER", 6),
        Column::optional("API", 7),
        Column::optional("SERVER CERT", 4),
        Column::optional("CLIENT CERT", 3),
        Column::optional("FINDING", 1).truncate(16),
    ]);
    for r in reports {
        let style = status_style(r.status);
        t.add_row(vec![
            r.name.as_str().into(),
            r.endpoint.as_str().into(),
            Cell::styled(r.status.as_str(), style),
            r.latency_ms
                .map(|l| format!("{l}ms"))
                .unwrap_or_else(|| "-".into())
                .into(),
            r.docker
                .as_ref()
                .map(|d| d.version.as_str())
                .unwrap_or("-")
                .into(),
            r.docker
                .as_ref()
                .map(|d| d.api_version.as_str())
                .unwrap_or("-")
                .into(),
            cert_cell(r.server_cert.as_ref(), warn_days),
            cert_cell(r.client_cert.as_ref(), warn_days),
            Cell::styled(
                finding_codes(r),
                if matches!(r.status, Status::Ok | Status::Absent) {
                    Style::Plain
                } else {
                    style
                },
            ),
        ]);
    }
    t.render(width, color)
}

/// The lines under the table: where to look next for the failing and
/// warning rows ("details and fixes: dctx doctor prod; dctx doctor db"),
/// wrapped between commands to `width`.
pub fn hint(reports: &[Report], width: Option<usize>) -> Option<String> {
    let bad: Vec<String> = reports
        .iter()
        .filter(|r| matches!(r.status, Status::Warn | Status::Fail))
        .map(|r| format!("dctx doctor {}", r.name))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let mut out = String::from("details and fixes:");
    let mut line = width_of(&out);
    for (i, cmd) in bad.iter().enumerate() {
        let piece = if i + 1 < bad.len() {
            format!("{cmd};")
        } else {
            cmd.clone()
        };
        let n = width_of(&piece);
        if width.is_some_and(|w| line + 1 + n > w) {
            out.push_str("\n  ");
            line = 2;
        } else {
            out.push(' ');
            line += 1;
        }
        out.push_str(&piece);
        line += n;
    }
    out.push('\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLIENT CERT cell of a 40-day certificate, coloured.
    fn forty_days(warn_days: i64) -> String {
        let mut r = Report::unprobed("prod", "tcp://h:2376", "m".into(), "f".into());
        r.status = Status::Ok;
        r.client_cert = Some(CertSummary {
            subject: "CN=c".into(),
            issuer: "CN=ca".into(),
            sans: vec![],
            eku: vec![],
            not_before: String::new(),
            not_after: String::new(),
            days_left: 40,
        });
        let text = render(&[r], None, true, warn_days);
        text.lines().nth(1).unwrap().to_string()
    }

    #[test]
    fn expiring_colour_follows_warn_days() {
        let yellow = Style::Yellow.paint(true, "40d");
        assert!(forty_days(60).contains(&yellow), "{:?}", forty_days(60));
        assert!(!forty_days(30).contains(&yellow), "{:?}", forty_days(30));
    }
}
