//! `dctx add`: bundle → validated material → profile → Docker context.
//! Everything is validated before the first byte is written.

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::bundle::{self, BundleError, Material, Source};
use crate::cli::AddArgs;
use crate::docker::{ContextMeta, DCTX_KEY, DockerConfig};
use crate::environment::Env;
use crate::pki::CertInfo;
use crate::store::{CertSummary, KeyStore, Profile, Store, TlsFiles, TlsMode, validate_name};

/// Validated `add` options.
struct Plan {
    name: String,
    host: String,
    mode: TlsMode,
    context: bool,
    source: Option<String>,
}

pub fn run(args: AddArgs, env: &Env) -> anyhow::Result<u8> {
    validate_name(&args.name)?;
    let source = if let Some(b) = &args.bundle {
        Some(Source::Bundle(b.clone()))
    } else if args.ca.is_some() || args.cert.is_some() || args.key.is_some() {
        Some(Source::Files {
            ca: args.ca.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
        })
    } else {
        None
    };
    let material = match &source {
        Some(src) => Some(read_material(src, &args, env)?),
        None => None,
    };
    let mut plan = plan(&args, material.as_ref())?;
    let key_store = match args.key_store {
        crate::cli::KeyStoreArg::File => KeyStore::File,
        crate::cli::KeyStoreArg::Keyring => KeyStore::Keyring,
    };
    if key_store == KeyStore::Keyring {
        // The docker CLI can only read key.pem from disk: a context would
        // either leak the key or not work. Keyring profiles run via `dctx exec`.
        plan.context = false;
        crate::store::keyring::ensure_available(&plan.name)?;
    }
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env)?;

    let _lock = store.lock()?;
    if store.exists(&plan.name) && !args.replace {
        anyhow::bail!(
            "profile {:?} already exists: pass --replace to overwrite it, or `dctx rm {}` first",
            plan.name,
            plan.name
        );
    }
    let _docker_lock = if plan.context {
        Some(docker.lock()?)
    } else {
        None
    };
    if plan.context
        && let Some(existing) = docker.read_context(&plan.name)?
        && !existing.managed()
        && !args.replace
    {
        anyhow::bail!(
            "a Docker context named {:?} already exists and was not created by dctx: choose another name, pass --replace, or use --no-context",
            plan.name
        );
    }

    let mut files = tls_files(material.as_ref(), plan.mode);
    let has_key = files.key.is_some();
    if key_store == KeyStore::Keyring {
        let key = files
            .key
            .take()
            .context("--key-store keyring: the bundle has no private key to keep")?;
        crate::store::keyring::put(&plan.name, &key)?;
    }
    let profile = Profile {
        name: plan.name.clone(),
        host: plan.host.clone(),
        tls: plan.mode,
        context: plan.context,
        key_store,
        ca: material.as_ref().and_then(|m| m.ca.as_ref()).map(summary),
        cert: material.as_ref().and_then(|m| m.cert.as_ref()).map(summary),
        has_key,
        created: env.now,
        source: plan.source.clone(),
    };
    // DOCKER_CERT_PATH needs a ca.pem: for system-roots profiles the env dir
    // gets a snapshot of the system roots (the Docker context needs none).
    let store_files = if plan.mode == TlsMode::SystemRoots {
        TlsFiles {
            ca: Some(system_roots_pem()?),
            cert: files.cert.clone(),
            key: files.key.clone(),
        }
    } else {
        TlsFiles {
            ca: files.ca.clone(),
            cert: files.cert.clone(),
            key: files.key.clone(),
        }
    };
    if let Err(e) = store.save(&profile, &store_files) {
        if key_store == KeyStore::Keyring {
            let _ = crate::store::keyring::delete(&plan.name);
        }
        return Err(e);
    }
    if plan.context {
        let meta = ContextMeta {
            name: plan.name.clone(),
            host: plan.host.clone(),
            skip_verify: plan.mode == TlsMode::SkipVerify,
            metadata: context_metadata(&profile),
        };
        if let Err(e) = docker.write_context(&meta, &files) {
            // Keep the two stores consistent: no profile without its context.
            let _ = store.remove(&plan.name);
            return Err(e);
        }
    }
    if args.use_it && plan.context {
        let prev = docker.set_current_context(Some(&plan.name))?;
        super::use_::remember_previous(&store, prev.as_deref())?;
    }
    report(&args, &profile, material.as_ref(), env)?;
    Ok(crate::exit::OK)
}

fn summary(c: &CertInfo) -> CertSummary {
    CertSummary {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        not_after: c.not_after,
        sha256: c.sha256.clone(),
    }
}

/// dctx's fields inside the context's Metadata (docker preserves unknown keys).
pub fn context_metadata(p: &Profile) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "Description".into(),
        format!("dctx profile ({})", p.tls.label()).into(),
    );
    m.insert(
        DCTX_KEY.into(),
        serde_json::json!({"managed": true, "tls": p.tls, "keyStore": p.key_store}),
    );
    m
}

/// The system's trusted roots as one PEM file.
fn system_roots_pem() -> anyhow::Result<Vec<u8>> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        anyhow::bail!("--system-roots: no trusted root certificates found on this system");
    }
    Ok(found
        .certs
        .iter()
        .map(|c| crate::pki::keys::pem_encode("CERTIFICATE", c.as_ref()))
        .collect::<String>()
        .into_bytes())
}

fn tls_files(m: Option<&Material>, mode: TlsMode) -> TlsFiles {
    let Some(m) = m.filter(|_| mode.uses_tls()) else {
        return TlsFiles {
            ca: None,
            cert: None,
            key: None,
        };
    };
    TlsFiles {
        ca: m.ca_pem.as_ref().map(|s| s.as_bytes().to_vec()),
        cert: m.cert_pem.as_ref().map(|s| s.as_bytes().to_vec()),
        key: m
            .key_pem
            .as_ref()
            .map(|k| Zeroizing::new(k.as_bytes().to_vec())),
    }
}

fn read_material(src: &Source, args: &AddArgs, env: &Env) -> anyhow::Result<Material> {
    let opts = bundle::Options {
        allow_no_ca: args.system_roots || args.skip_verify,
        force: args.force,
        allow_ca_only: false,
        now: env.now,
    };
    // One passphrase usually unlocks every encrypted object of a bundle.
    let mut secrets = super::secrets::Secrets::new(args.password_stdin);
    let mut cached: Option<Zeroizing<String>> = None;
    let mut pass = |what: &str| -> Result<Zeroizing<String>, BundleError> {
        if let Some(p) = &cached {
            return Ok(p.clone());
        }
        let p = secrets
            .ask(&format!("passphrase for {what}"), false)
            .map_err(|e| BundleError::Other(format!("{e:#}")))?;
        cached = Some(p.clone());
        Ok(p)
    };
    let what = match src {
        Source::Bundle(p) => p.display().to_string(),
        Source::Files { .. } | Source::Memory { .. } => "the given files".into(),
    };
    bundle::read(src, &opts, &mut pass)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("cannot import {what}; nothing was written"))
}

/// Decide host and TLS mode from the flags and what the bundle holds.
fn plan(args: &AddArgs, m: Option<&Material>) -> anyhow::Result<Plan> {
    let host = args
        .host
        .clone()
        .or_else(|| m.and_then(|m| m.host.clone()))
        .context("no endpoint: pass --host tcp://HOST:2376 (the bundle does not name one)")?;
    let has_ca = m.is_some_and(|m| m.ca_pem.is_some());
    let has_cert = m.is_some_and(|m| m.cert_pem.is_some() && m.key_pem.is_some());
    let skip_verify = args.skip_verify || m.and_then(|m| m.skip_verify).unwrap_or(false);
    let (scheme, rest) = host.split_once("://").with_context(|| {
        format!("endpoint {host:?} has no scheme: use tcp://HOST:PORT or unix:///PATH")
    })?;
    let mode = match scheme {
        "unix" => {
            if m.is_some() {
                anyhow::bail!(
                    "{host} is a unix socket: TLS material does not apply, drop --bundle/--ca/--cert/--key"
                );
            }
            TlsMode::Unix
        }
        "tcp" | "https" => {
            if rest.is_empty() || rest.starts_with(':') {
                anyhow::bail!("endpoint {host:?} has no host name");
            }
            if skip_verify && (has_ca || has_cert) {
                TlsMode::SkipVerify
            } else if has_ca && has_cert {
                TlsMode::Mtls
            } else if has_ca {
                TlsMode::ServerOnly
            } else if has_cert && args.system_roots {
                TlsMode::SystemRoots
            } else if m.is_none() && scheme == "tcp" && !args.system_roots {
                TlsMode::Plain
            } else {
                anyhow::bail!(
                    "a TLS profile needs a CA, a client certificate, or both (pass --system-roots for a publicly trusted daemon)"
                );
            }
        }
        "ssh" | "npipe" | "fd" => {
            anyhow::bail!("{scheme}:// endpoints are not supported by dctx (TLS only)")
        }
        other => {
            anyhow::bail!("unknown endpoint scheme {other:?}: use tcp://HOST:PORT or unix:///PATH")
        }
    };
    let host = with_default_port(&host, mode);
    Ok(Plan {
        name: args.name.clone(),
        host,
        mode,
        context: !args.no_context,
        source: match (&args.bundle, &args.cert, &args.ca) {
            (Some(b), _, _) => Some(b.display().to_string()),
            (None, Some(c), _) => Some(c.display().to_string()),
            (None, None, Some(c)) => Some(c.display().to_string()),
            _ => None,
        },
    })
}

/// `tcp://host` → `tcp://host:2376` (TLS) or `:2375` (plain), like docker.
fn with_default_port(host: &str, mode: TlsMode) -> String {
    let Some(rest) = host.strip_prefix("tcp://") else {
        return host.to_string();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    if has_port {
        host.to_string()
    } else {
        let port = if mode.uses_tls() { 2376 } else { 2375 };
        format!("tcp://{authority}:{port}")
    }
}

fn report(args: &AddArgs, p: &Profile, m: Option<&Material>, env: &Env) -> anyhow::Result<()> {
    for w in m.map(|m| m.warnings.as_slice()).unwrap_or_default() {
        eprintln!("dctx: warning: {w}");
    }
    if p.tls.is_weak() {
        eprintln!(
            "dctx: warning: {} uses a weaker mode: {}",
            p.name,
            p.tls.label()
        );
    }
    if args.json {
        return super::print(&crate::output::json(&serde_json::json!({
            "name": p.name,
            "endpoint": p.host,
            "tls": p.tls,
            "context": p.context,
            "notes": m.map(|m| m.notes.clone()).unwrap_or_default(),
            "warnings": m.map(|m| m.warnings.clone()).unwrap_or_default(),
        }))?);
    }
    let mut out = format!("Added {} → {} ({})\n", p.name, p.host, p.tls.label());
    if let Some(c) = &p.cert {
        out += &format!(
            "  client cert: {} (expires in {})\n",
            c.subject,
            crate::output::days_phrase(c.not_after, env.now)
        );
    }
    if let Some(c) = &p.ca {
        out += &format!("  CA:          {}\n", c.subject);
    }
    for n in m.map(|m| m.notes.as_slice()).unwrap_or_default() {
        out += &format!("  note: {n}\n");
    }
    if p.context {
        out += &format!(
            "Docker context {:?} written: docker --context {} ps\n",
            p.name, p.name
        );
    } else if p.key_store == KeyStore::Keyring {
        out += &format!(
            "Key kept in the OS keyring; no Docker context (docker needs key.pem on disk).\nRun: dctx exec {} -- docker ps\n",
            p.name
        );
    } else {
        out += "No Docker context (--no-context).\n";
    }
    if args.use_it && p.context {
        out += &format!("Current context is now {:?}\n", p.name);
    }
    if p.key_store == KeyStore::File {
        out += &format!("Shell: eval \"$(dctx env {})\"\n", p.name);
    }
    super::print(&out)
}
