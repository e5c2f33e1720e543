//! `dctx show`: endpoint, mode and full certificate details.

use serde::Serialize;

use crate::cli::ShowArgs;
use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::pki::CertInfo;
use crate::store::{Store, TlsFiles, TlsMode};

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
    endpoint: String,
    tls: TlsMode,
    tls_label: &'static str,
    managed: bool,
    context: bool,
    cert_path: Option<String>,
    key: &'static str,
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

pub fn run(args: ShowArgs, env: &Env) -> anyhow::Result<u8> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env).ok();
    let (endpoint, tls, managed, context, files, cert_path, key) = if store.exists(&args.name) {
        let p = store.load(&args.name)?;
        let files = store.read_tls(&args.name)?;
        let key = match (p.has_key, p.key_store) {
            (false, _) => "none",
            (true, crate::store::KeyStore::File) => "file (key.pem, 0600)",
            (true, crate::store::KeyStore::Keyring) => "OS keyring",
        };
        let dir = p
            .tls
            .uses_tls()
            .then(|| store.profile_dir(&p.name).display().to_string());
        (p.host, p.tls, true, p.context, files, dir, key)
    } else if let Some(ctx) = docker
        .as_ref()
        .map(|d| d.read_context(&args.name))
        .transpose()?
        .flatten()
    {
        let d = docker.as_ref().expect("checked above");
        let files = d.read_tls(&args.name)?;
        let mode = super::ls::foreign_mode(&ctx.host, ctx.skip_verify, &files);
        let key = if files.key.is_some() {
            "file (Docker context)"
        } else {
            "none"
        };
        let dir = files
            .cert
            .as_ref()
            .map(|_| d.tls_dir(&args.name).display().to_string());
        (ctx.host, mode, false, true, files, dir, key)
    } else {
        anyhow::bail!(
            "no profile or Docker context named {:?} (see `dctx ls`)",
            args.name
        );
    };
    let TlsFiles { mut ca, cert, .. } = files;
    if tls == TlsMode::SystemRoots {
        ca = None; // a snapshot of the system roots, not the profile's own CA
    }
    let v = View {
        name: args.name.clone(),
        endpoint,
        tls,
        tls_label: tls.label(),
        managed,
        context,
        cert_path,
        key,
        ca: certs(ca.as_deref())
            .iter()
            .map(|c| view(c, env.now))
            .collect(),
        client_cert: certs(cert.as_deref()).first().map(|c| view(c, env.now)),
    };
    if args.json {
        super::print(&crate::output::json(&v)?)?;
        return Ok(crate::exit::OK);
    }
    let mut out = format!(
        "Name:      {}\nEndpoint:  {}\nTLS:       {}\nContext:   {}\nKey:       {}\n",
        v.name,
        v.endpoint,
        v.tls_label,
        match (v.managed, v.context) {
            (true, true) => "Docker context written by dctx",
            (true, false) => "none (env-only profile)",
            _ => "Docker context not created by dctx",
        },
        v.key
    );
    if let Some(p) = &v.cert_path {
        out += &format!("Cert path: {p}\n");
    }
    let mut section = |title: &str, c: &CertView| {
        out += &format!("\n{title}\n");
        out += &format!(
            "  Subject:     {}\n  Issuer:      {}\n",
            c.subject, c.issuer
        );
        if !c.sans.is_empty() {
            out += &format!("  SANs:        {}\n", c.sans.join(", "));
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
            crate::output::expiry::Expiry::from_days_left(c.days_left)
        );
        out += &format!("  SHA-256:     {}\n", c.sha256);
    };
    if let Some(c) = &v.client_cert {
        section("Client certificate", c);
    }
    for c in &v.ca {
        section("CA certificate", c);
    }
    super::print(&out)?;
    Ok(crate::exit::OK)
}
