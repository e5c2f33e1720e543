//! `dctx show`: endpoint, mode and full certificate details.

use serde::Serialize;

use crate::cli::ShowArgs;
use crate::environment::Env;
use crate::pki::CertInfo;
use crate::store::{TlsFiles, TlsMode};
use crate::targets::Entry;

#[derive(Serialize)]
struct CertView {
    subject: String,
    issuer: String,
    sans: Vec<String>,
    eku: Vec<String>,
    is_ca: bool,
    key_type: String,
    serial: String,
    not_before: String,
    not_after: String,
    days_left: i64,
    sha256: String,
}

#[derive(Serialize)]
struct View {
    name: String,
    kind: crate::targets::Kind,
    endpoint: String,
    source: crate::targets::Source,
    tls: TlsMode,
    tls_label: &'static str,
    context: bool,
    cert_path: Option<String>,
    key: &'static str,
    drift: Vec<serde_json::Value>,
    ca: Vec<CertView>,
    client_cert: Option<CertView>,
}

fn view(c: &CertInfo, now: i64) -> CertView {
    CertView {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        sans: c.sans.clone(),
        eku: c.eku.clone(),
        is_ca: c.is_ca,
        key_type: c.key_type.clone(),
        serial: c.serial.clone(),
        not_before: c.not_before_rfc3339(),
        not_after: c.not_after_rfc3339(),
        days_left: c.days_left(now),
        sha256: c.sha256.clone(),
    }
}

fn certs(pem_bytes: Option<&[u8]>) -> Vec<CertInfo> {
    pem_bytes
        .map(crate::pki::inspect::certs_from_pem)
        .unwrap_or_default()
}

pub fn run(args: ShowArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let t = super::targets(env)?;
    let e = t.entry(&args.name)?;
    if let Some(err) = &e.error
        && !e.context
    {
        anyhow::bail!("{}: {err} (`dctx rm {}` removes it)", e.name, e.name);
    }
    let v = entry_view(&e, env.now)?;
    if args.json {
        super::print(&crate::output::json(&v)?)?;
        return Ok(crate::exit::Exit::Ok);
    }
    let mut out = header(&e, &v);
    if let Some(c) = &v.client_cert {
        out += &section("Client certificate", c);
    }
    for c in &v.ca {
        out += &section("CA certificate", c);
    }
    super::print(&out)?;
    Ok(crate::exit::Exit::Ok)
}

/// The entry with its certificates read from its TLS files.
fn entry_view(e: &Entry, now: i64) -> anyhow::Result<View> {
    let files = match &e.cert_path {
        Some(dir) if e.mode.uses_tls() => crate::store::read_pems(dir)?,
        _ => TlsFiles {
            ca: None,
            cert: None,
            key: None,
        },
    };
    let key = match e.key_store {
        Some(crate::store::KeyStore::Keyring) => "OS keyring",
        Some(_) if e.context => "file (key.pem in the Docker context, 0600)",
        Some(_) => "file (key.pem, 0600)",
        None => "none",
    };
    let TlsFiles { mut ca, cert, .. } = files;
    if e.mode == TlsMode::SystemRoots {
        ca = None; // a snapshot of the system roots, not the profile's own CA
    }
    Ok(View {
        name: e.name.clone(),
        kind: e.kind,
        endpoint: e.endpoint.clone(),
        source: e.source,
        tls: e.mode,
        tls_label: e.mode.label(),
        context: e.context,
        cert_path: e.cert_path.as_ref().map(|p| p.display().to_string()),
        key,
        drift: e.drift.iter().map(|d| d.to_json(&e.name)).collect(),
        ca: certs(ca.as_deref()).iter().map(|c| view(c, now)).collect(),
        client_cert: certs(cert.as_deref()).first().map(|c| view(c, now)),
    })
}

/// Name, endpoint, TLS, context, key, drift and cert path lines.
fn header(e: &Entry, v: &View) -> String {
    let san = crate::output::sanitize;
    let mut out = format!(
        "Name:      {}\nEndpoint:  {}\nTLS:       {}\nContext:   {}\nKey:       {}\n",
        san(&v.name),
        san(&v.endpoint),
        v.tls_label,
        match (
            e.kind,
            e.context,
            e.profile.as_ref().is_some_and(|p| p.adopted)
        ) {
            (crate::targets::Kind::Default, _, _) =>
                "docker's built-in default (DOCKER_HOST, else the local socket)",
            (crate::targets::Kind::Foreign, _, _) => "Docker context not managed by dctx",
            (_, true, true) => "Docker context adopted by dctx",
            (_, true, false) => "Docker context written by dctx",
            _ => "none (env-only profile)",
        },
        v.key
    );
    for d in &e.drift {
        out += &format!(
            "Drift:     {}\n           fix: {}\n",
            san(&d.message()),
            san(&d.fix(&e.name))
        );
    }
    if let Some(p) = &v.cert_path {
        out += &format!("Cert path: {p}\n");
    }
    out
}

/// One certificate's details under a blank line and its title.
fn section(title: &str, c: &CertView) -> String {
    let san = crate::output::sanitize;
    let mut out = format!("\n{title}\n");
    out += &format!(
        "  Subject:     {}\n  Issuer:      {}\n",
        san(&c.subject),
        san(&c.issuer)
    );
    if !c.sans.is_empty() {
        out += &format!("  SANs:        {}\n", san(&c.sans.join(", ")));
    }
    out += &format!(
        "  EKU:         {}\n",
        if c.eku.is_empty() {
            "(none: any use)".to_string()
        } else {
            c.eku.join(", ")
        }
    );
    out += &format!(
        "  Key:         {}\n  Serial:      {}\n",
        c.key_type, c.serial
    );
    out += &format!(
        "  Valid:       {} → {} ({})\n",
        c.not_before,
        c.not_after,
        crate::text::expiry::Expiry::from_days_left(c.days_left)
    );
    out += &format!("  SHA-256:     {}\n", c.sha256);
    out
}
