//! `dctx ls`: every name docker knows (and dctx's env-only profiles), with
//! what docker would use for it. Synchronous, no network.

use serde::Serialize;

use crate::cli::LsArgs;
use crate::environment::Env;
use crate::targets::{CurrentSource, Entry};

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    current: bool,
    drift: Vec<serde_json::Value>,
    client_cert_not_after: Option<String>,
    client_cert_days_left: Option<i64>,
}

pub fn run(args: LsArgs, env: &Env) -> anyhow::Result<u8> {
    let t = super::targets(env)?;
    let entries = t.list();
    if args.quiet {
        super::print(
            &entries
                .iter()
                .map(|e| format!("{}\n", e.name))
                .collect::<String>(),
        )?;
        return Ok(crate::exit::OK);
    }
    let (current, source) = t.current();
    let days = |e: &Entry| e.client_not_after.map(|n| (n - env.now).div_euclid(86_400));
    if args.json {
        let rows: Vec<Row> = entries
            .iter()
            .map(|e| Row {
                entry: e,
                current: e.name == current,
                drift: e.drift.iter().map(|d| d.to_json(&e.name)).collect(),
                client_cert_not_after: e.client_not_after.map(crate::pki::inspect::rfc3339),
                client_cert_days_left: days(e),
            })
            .collect();
        super::print(&crate::output::json(&rows)?)?;
        return Ok(crate::exit::OK);
    }
    let san = |s: &str| crate::output::sanitize(s).into_owned();
    let mut t = crate::output::table(env, &["", "NAME", "ENDPOINT", "TLS", "CLIENT CERT", "NOTE"]);
    for e in &entries {
        let note = if let Some(err) = &e.error {
            format!("unreadable record: {err}")
        } else if !e.drift.is_empty() {
            format!(
                "drift: {}",
                e.drift
                    .iter()
                    .map(|d| d.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        } else {
            match (e.kind, e.key_store) {
                (crate::targets::Kind::Default, _) => "docker's default".into(),
                (crate::targets::Kind::Foreign, _) => "docker context".into(),
                (_, Some(crate::store::KeyStore::Keyring)) => "key in OS keyring".into(),
                _ if !e.context => "env-only".into(),
                _ => String::new(),
            }
        };
        t.add_row(vec![
            if e.name == current {
                "*".into()
            } else {
                String::new()
            },
            san(&e.name),
            san(&e.endpoint),
            e.mode.label().to_string(),
            match days(e) {
                Some(d) if d < 0 => format!("EXPIRED ({} days ago)", -d),
                Some(d) => format!("{d} days left"),
                None => "-".into(),
            },
            san(&note),
        ]);
    }
    let mut out = format!("{t}\n");
    if source != CurrentSource::Default && source != CurrentSource::ConfigFile {
        out += &format!("* = {current} (set by {})\n", source.label());
    }
    super::print(&out)?;
    Ok(crate::exit::OK)
}
