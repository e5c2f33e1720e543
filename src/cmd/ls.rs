//! `dctx ls`: profiles plus the Docker contexts dctx did not create.
//! Synchronous, no network; parses a cert only for foreign contexts.

use serde::Serialize;

use crate::cli::LsArgs;
use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::store::{KeyStore, Store, TlsFiles, TlsMode};

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub endpoint: String,
    pub tls: TlsMode,
    /// Created by dctx (false: a Docker context dctx only found).
    pub managed: bool,
    /// A Docker context exists for it.
    pub context: bool,
    pub current: bool,
    pub key_store: Option<KeyStore>,
    pub client_cert_not_after: Option<String>,
    pub client_cert_days_left: Option<i64>,
}

/// TLS mode of a context dctx did not write, from what docker stores.
pub fn foreign_mode(host: &str, skip_verify: bool, f: &TlsFiles) -> TlsMode {
    if host.starts_with("unix://") {
        TlsMode::Unix
    } else if f.ca.is_none() && f.cert.is_none() {
        if host.starts_with("https://") {
            TlsMode::SystemRoots
        } else {
            TlsMode::Plain
        }
    } else if skip_verify {
        TlsMode::SkipVerify
    } else if f.ca.is_some() && f.cert.is_some() {
        TlsMode::Mtls
    } else if f.ca.is_some() {
        TlsMode::ServerOnly
    } else {
        TlsMode::SystemRoots
    }
}

pub fn rows(env: &Env) -> anyhow::Result<Vec<Row>> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env).ok();
    let current = docker.as_ref().and_then(|d| d.current_context());
    let contexts = docker.as_ref().map(|d| d.list()).unwrap_or_default();
    let mut rows = Vec::new();
    for p in store.list()? {
        let not_after = p.cert.as_ref().map(|c| c.not_after);
        rows.push(Row {
            current: p.context && current.as_deref() == Some(&p.name),
            context: p.context && contexts.iter().any(|c| c.name == p.name),
            endpoint: p.host,
            tls: p.tls,
            managed: true,
            key_store: Some(p.key_store),
            client_cert_not_after: not_after.map(crate::pki::inspect::rfc3339),
            client_cert_days_left: not_after.map(|t| (t - env.now).div_euclid(86_400)),
            name: p.name,
        });
    }
    if let Some(docker) = &docker {
        for c in contexts {
            if rows.iter().any(|r| r.name == c.name) {
                continue;
            }
            let files = docker.read_tls(&c.name).unwrap_or(TlsFiles {
                ca: None,
                cert: None,
                key: None,
            });
            let cert = files
                .cert
                .as_deref()
                .map(crate::pki::inspect::certs_from_pem)
                .and_then(|c| c.into_iter().next());
            rows.push(Row {
                current: current.as_deref() == Some(&c.name),
                tls: foreign_mode(&c.host, c.skip_verify, &files),
                endpoint: c.host,
                managed: false,
                context: true,
                key_store: files.key.as_ref().map(|_| KeyStore::File),
                client_cert_not_after: cert.as_ref().map(|c| c.not_after_rfc3339()),
                client_cert_days_left: cert.as_ref().map(|c| c.days_left(env.now)),
                name: c.name,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

pub fn run(args: LsArgs, env: &Env) -> anyhow::Result<u8> {
    let rows = rows(env)?;
    if args.json {
        super::print(&crate::output::json(&rows)?)?;
        return Ok(crate::exit::OK);
    }
    if rows.is_empty() {
        eprintln!(
            "No profiles yet. Import one with: dctx add NAME --bundle certs.tar --host tcp://HOST:2376"
        );
        return Ok(crate::exit::OK);
    }
    use crate::output::{
        expiry::Expiry,
        table::{Cell, Column, Style, Table},
    };
    let mut t = Table::new(vec![
        Column::always("NAME"),
        Column::optional("ENDPOINT", 1).truncate(16),
        Column::optional("TLS", 2),
        Column::optional("CLIENT CERT", 3),
        Column::optional("SOURCE", 4).truncate(8),
    ]);
    for r in &rows {
        let cert = match r.client_cert_days_left.map(Expiry::from_days_left) {
            Some(e) => Cell::styled(e.short(), e.style()),
            None => "-".into(),
        };
        t.add_row(vec![
            // `docker context ls` marks the current one the same way.
            if r.current {
                format!("{} *", r.name)
            } else {
                r.name.clone()
            }
            .into(),
            r.endpoint.as_str().into(),
            Cell::styled(
                r.tls.label(),
                if r.tls.is_weak() {
                    Style::Yellow
                } else {
                    Style::Plain
                },
            ),
            cert,
            match (r.managed, r.context, r.key_store) {
                (true, true, Some(KeyStore::Keyring)) => "dctx+context, key in keyring",
                (true, false, Some(KeyStore::Keyring)) => "dctx env-only, key in keyring",
                (true, true, _) => "dctx+context",
                (true, false, _) => "dctx env-only",
                (false, _, _) => "docker context",
            }
            .into(),
        ]);
    }
    let out = t.render(
        crate::output::width(env, args.wide),
        crate::output::styled(env),
    );
    super::print(&out)?;
    Ok(crate::exit::OK)
}

/// Every profile and Docker context name (for completion), no parsing.
pub fn all_names(env: &Env) -> Vec<String> {
    let mut names = Store::from_env(env).map(|s| s.names()).unwrap_or_default();
    if let Ok(d) = DockerConfig::from_env(env) {
        names.extend(d.list().into_iter().map(|c| c.name));
    }
    names.sort();
    names.dedup();
    names
}
