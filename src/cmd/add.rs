//! `dctx add`: bundle → validated material → profile → Docker context.
//! Everything is validated before the first byte is written.

use std::io::Read as _;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::bundle::{self, BundleError, Imported, Source};
use crate::cli::AddArgs;
use crate::environment::Env;
use crate::store::{KeyStore, validate_name};
use crate::targets::{AddRequest, Added};

pub fn run(args: AddArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // It may hold a private key in memory: never in a core file.
    validate_name(&args.name)?;
    // `dctx csr NAME` then `dctx add NAME --cert signed.pem`: the pending key.
    let t = super::targets(env)?;
    let pending = (args.bundle.is_none() && args.key.is_none() && args.cert.is_some())
        .then(|| t.csr_pending(&args.name))
        .flatten();
    if let Some(p) = &pending {
        return add_signed(&args, env, &t, p);
    }
    let source = if let Some(b) = &args.bundle {
        Some(if b.as_os_str() == "-" {
            // `docker context export X - | dctx add Y -b -`
            let mut data = Vec::new();
            std::io::stdin()
                .take(crate::bundle::limits::MAX_TOTAL_BYTES + 1)
                .read_to_end(&mut data)
                .context("reading the bundle from stdin")?;
            Source::Memory {
                name: "stdin".into(),
                data,
            }
        } else {
            Source::Bundle(b.clone())
        })
    } else if args.ca.is_some() || args.cert.is_some() || args.key.is_some() {
        Some(Source::Files {
            ca: args.ca.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
        })
    } else {
        None
    };
    // `--ca` alone, or `--cert/--key` alone, replacing: the other half stays.
    let keep_rest = args.replace
        && matches!(source, Some(Source::Files { .. }))
        && (args.ca.is_none() || (args.cert.is_none() && args.key.is_none()));
    let material = match &source {
        Some(src) => Some(read_material(src, &args, keep_rest, env)?),
        None => None,
    };
    let key_store = KeyStore::from(args.key_store);
    let added = t.add(AddRequest {
        name: args.name.clone(),
        material,
        host: args.host.clone(),
        no_context: args.no_context,
        system_roots: args.system_roots,
        skip_verify: args.skip_verify,
        replace: args.replace,
        use_it: args.use_it,
        key_store,
        source: match (&args.bundle, &args.cert, &args.ca) {
            (Some(b), _, _) if b.as_os_str() == "-" => Some("stdin".into()),
            (Some(b), _, _) => Some(b.display().to_string()),
            (None, Some(c), _) => Some(c.display().to_string()),
            (None, None, Some(c)) => Some(c.display().to_string()),
            _ => None,
        },
        keep_rest,
        origin: None,
        also: None,
    })?;
    report(&args, &added, env)?;
    if args.check {
        return check(&added.profile.name, env);
    }
    Ok(crate::exit::Exit::Ok)
}

/// Complete a pending CSR: the signed certificate (and CA) with the key
/// that never left this machine, validated as a bundle, in one transaction
/// that also drops the pending entry.
fn add_signed(
    args: &AddArgs,
    env: &Env,
    t: &crate::targets::Targets,
    p: &crate::source::csr::Pending,
) -> anyhow::Result<crate::exit::Exit> {
    let read = |f: &std::path::PathBuf| {
        std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))
    };
    let cert_path = args.cert.as_ref().expect("checked by the caller");
    let cert = read(cert_path)?;
    let ca = args.ca.as_ref().map(read).transpose()?.unwrap_or_default();
    let key = t.csr_key(p)?;
    let key = std::str::from_utf8(&key).context("the pending key is not PEM")?;
    let material = crate::source::renew::material(&cert, &ca, key, env.now).with_context(|| {
        format!(
            "{} does not complete the CSR of {} (is it the certificate signed for that CSR?); nothing was written",
            cert_path.display(),
            args.name
        )
    })?;
    let added = t.add(AddRequest {
        name: args.name.clone(),
        material: Some(material),
        host: args.host.clone(),
        no_context: args.no_context,
        system_roots: args.system_roots,
        skip_verify: args.skip_verify,
        replace: args.replace,
        use_it: args.use_it,
        key_store: p.key_store,
        source: Some(format!("CSR signed: {}", cert_path.display())),
        keep_rest: false,
        origin: None,
        also: t.csr_consume(&args.name),
    })?;
    report(args, &added, env)?;
    Ok(crate::exit::Exit::Ok)
}

/// `--check`: the probe `dctx check NAME` runs, through the domain.
fn check(name: &str, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    use crate::output;
    let opts = crate::probe::Options::new(std::time::Duration::from_secs(5), env.now);
    let results = super::targets(env)?.probe(&[name.to_string()], &opts, |_, _| {})?;
    let mut reports: Vec<crate::probe::Report> = results.into_iter().map(|(_, r)| r).collect();
    reports.iter_mut().for_each(output::sanitize_report);
    let width = output::width(env, false);
    let mut text = output::health::render(&reports, width, output::styled(env), opts.warn_days);
    text += &output::health::hint(&reports, width).unwrap_or_default();
    super::print(&text)?;
    Ok(crate::exit::Exit::health(
        reports
            .iter()
            .any(|r| r.status == crate::probe::Status::Fail),
    ))
}

fn read_material(
    src: &Source,
    args: &AddArgs,
    keep_rest: bool,
    env: &Env,
) -> anyhow::Result<Imported> {
    let opts = bundle::Options {
        allow_no_ca: args.system_roots || args.skip_verify,
        ca_kept: keep_rest && args.ca.is_none(),
        force: args.force,
        // A CA alone makes the "TLS, no client cert" mode.
        allow_ca_only: true,
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

fn report(args: &AddArgs, added: &Added, env: &Env) -> anyhow::Result<()> {
    let p = &added.profile;
    let m = added.material.as_ref();
    // File names inside a bundle and certificate subjects are the sender's
    // text: escaped before they reach the terminal.
    let san = |s: &str| crate::output::sanitize(s).into_owned();
    for w in m.map(|m| m.warnings.as_slice()).unwrap_or_default() {
        eprintln!("dctx: warning: {}", san(w));
    }
    for w in &added.warnings {
        eprintln!("dctx: warning: {}", san(w));
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
    let mut out = format!(
        "{} {} → {} ({})\n",
        if added.replaced.is_some() {
            "Replaced"
        } else {
            "Added"
        },
        p.name,
        crate::output::sanitize(&p.host),
        p.tls.label()
    );
    if let Some(c) = &p.cert {
        out += &format!(
            "  client cert: {} ({})\n",
            san(&c.subject),
            crate::text::expiry::Expiry::new(c.not_after, env.now)
        );
    }
    if let Some(c) = &p.ca {
        out += &format!("  CA:          {}\n", san(&c.subject));
    }
    for n in m.map(|m| m.notes.as_slice()).unwrap_or_default() {
        out += &format!("  note: {}\n", san(n));
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
    if added.used || (args.use_it && p.context) {
        out += &format!("Current context is now {:?}\n", p.name);
    }
    if p.key_store == KeyStore::File {
        out += &format!("Shell: eval \"$(dctx env {})\"\n", p.name);
    } else {
        out += &format!("Shell: dctx shell {}\n", p.name);
    }
    super::print(&out)
}
