//! `dctx ls`: every name docker knows (and dctx's env-only profiles), with
//! what docker would use for it. Synchronous, no network.

use serde::Serialize;

use crate::cli::LsArgs;
use crate::environment::Env;
use crate::output::table::{Cell, Column, Style, Table};
use crate::source::csr::Pending;
use crate::targets::{CurrentSource, Entry};
use crate::text::expiry::Expiry;

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    current: bool,
    drift: Vec<serde_json::Value>,
    client_cert_not_after: Option<String>,
    client_cert_days_left: Option<i64>,
    /// `vault` for enrolled profiles (renewable), absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'static str>,
}

/// A `dctx csr` waiting for its certificate (not a profile yet).
#[derive(Serialize)]
struct PendingRow<'a> {
    name: &'a str,
    kind: &'static str,
    cn: &'a str,
    key_store: crate::store::KeyStore,
}

/// What the SOURCE column says of an entry.
fn issuer(e: &Entry) -> Option<&'static str> {
    e.profile
        .as_ref()
        .and_then(|p| p.origin.as_ref())
        .map(|o| o.issuer.label())
}

pub fn run(args: LsArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let t = super::targets(env)?;
    let entries = t.list()?;
    let pending = t.csr_pending_all();
    if args.quiet {
        super::print(
            &entries
                .iter()
                .map(|e| format!("{}\n", crate::output::sanitize(&e.name)))
                .collect::<String>(),
        )?;
        return Ok(crate::exit::Exit::Ok);
    }
    let (current, source) = t.current();
    if args.json {
        let rows = json_rows(&entries, &pending, &current, env.now)?;
        super::print(&crate::output::json(&rows)?)?;
        return Ok(crate::exit::Exit::Ok);
    }
    let mut out = table(&entries, &pending, &current, env, args.wide);
    if source != CurrentSource::Default && source != CurrentSource::ConfigFile {
        out += &format!("* = {} (set by {})\n", san(&current), source.label());
    }
    super::print(&out)?;
    Ok(crate::exit::Exit::Ok)
}

/// An untrusted name or text made safe for the terminal.
fn san(s: &str) -> String {
    crate::output::sanitize(s).into_owned()
}

/// Whole days until the client cert expires (negative: expired).
fn days_left(e: &Entry, now: i64) -> Option<i64> {
    e.client_not_after.map(|n| (n - now).div_euclid(86_400))
}

/// `ls --json`: the entries, then the pending CSRs.
fn json_rows(
    entries: &[Entry],
    pending: &[Pending],
    current: &str,
    now: i64,
) -> anyhow::Result<serde_json::Value> {
    let rows: Vec<Row> = entries
        .iter()
        .map(|e| Row {
            entry: e,
            current: e.name == current,
            drift: e.drift.iter().map(|d| d.to_json(&e.name)).collect(),
            client_cert_not_after: e.client_not_after.map(crate::pki::inspect::rfc3339),
            client_cert_days_left: days_left(e, now),
            issuer: issuer(e),
        })
        .collect();
    let mut rows = serde_json::to_value(&rows)?;
    if let Some(a) = rows.as_array_mut() {
        for p in pending {
            a.push(serde_json::to_value(PendingRow {
                name: &p.name,
                kind: "csr-pending",
                cn: &p.cn,
                key_store: p.key_store,
            })?);
        }
    }
    Ok(rows)
}

/// The table, then one footer line per entry that needs a word more.
fn table(entries: &[Entry], pending: &[Pending], current: &str, env: &Env, wide: bool) -> String {
    // SOURCE only when something has one (enrolled, or a CSR pending).
    let with_source = !pending.is_empty() || entries.iter().any(|e| issuer(e).is_some());
    // At 80 columns the endpoint is shortened first; a row's reason (an
    // expired or expiring cert, drift, an unreadable record) is never cut.
    let mut columns = vec![
        Column::always("NAME"),
        Column::optional("ENDPOINT", 1).truncate(12),
        Column::optional("TLS", 2),
        Column::optional("CLIENT CERT", 3),
    ];
    if with_source {
        columns.push(Column::optional("SOURCE", 3));
    }
    columns.push(Column::optional("NOTE", 4).truncate(8));
    let mut t = Table::new(columns).shorten_first();
    let mut footer = String::new();
    for e in entries {
        let note = note(e);
        footer += &note.footer;
        t.add_row(entry_row(e, current, env.now, with_source, note));
    }
    for p in pending {
        t.add_row(vec![
            san(&p.name).into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "csr pending".into(),
            format!("CN {}: dctx add {} --cert signed.pem", san(&p.cn), p.name).into(),
        ]);
    }
    let mut out = t.render(crate::output::width(env, wide), crate::output::styled(env));
    out += &footer;
    out
}

/// An entry's NOTE cell, and its footer line when the note needs one.
struct Note {
    text: String,
    style: Style,
    /// Never cut: the row's reason.
    vital: bool,
    footer: String,
}

fn note(e: &Entry) -> Note {
    if let Some(err) = &e.error {
        return Note {
            text: "unreadable record".to_string(),
            style: Style::Red,
            vital: true,
            footer: format!("{}: unreadable record: {}\n", san(&e.name), san(err)),
        };
    }
    if !e.drift.is_empty() {
        let codes = crate::targets::Drift::codes(&e.drift).join(", ");
        return Note {
            text: format!("drift: {codes}"),
            style: Style::Yellow,
            vital: true,
            footer: format!(
                "{}: changed outside dctx ({codes}): see `dctx show {}`\n",
                san(&e.name),
                san(&e.name)
            ),
        };
    }
    let n = match (e.kind, e.key_store) {
        (crate::targets::Kind::Default, _) => "docker's default",
        (crate::targets::Kind::Foreign, _) => "docker context",
        (_, Some(crate::store::KeyStore::Keyring)) => "key in OS keyring",
        _ if !e.context => "env-only",
        _ => "",
    };
    Note {
        text: n.to_string(),
        style: Style::Plain,
        vital: false,
        footer: String::new(),
    }
}

/// NAME (`*` when current), ENDPOINT, TLS, CLIENT CERT, [SOURCE], NOTE.
fn entry_row(e: &Entry, current: &str, now: i64, with_source: bool, note: Note) -> Vec<Cell> {
    let cert = match days_left(e, now).map(Expiry::from_days_left) {
        Some(x) => Cell::styled(x.short(), x.style()).vital(x.style() != Style::Plain),
        None => "-".into(),
    };
    let mut row = vec![
        // `docker context ls` marks the current one the same way.
        if e.name == current {
            format!("{} *", san(&e.name))
        } else {
            san(&e.name)
        }
        .into(),
        san(&e.endpoint).into(),
        // What docker would use, in yellow when weak or when it is not
        // what dctx set up (drift).
        Cell::styled(
            e.mode.label(),
            if e.mode.is_weak() || !e.drift.is_empty() {
                Style::Yellow
            } else {
                Style::Plain
            },
        ),
        cert,
    ];
    if with_source {
        row.push(issuer(e).unwrap_or("-").into());
    }
    row.push(Cell::styled(san(&note.text), note.style).vital(note.vital));
    row
}
