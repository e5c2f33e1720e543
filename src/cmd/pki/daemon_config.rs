//! `dctx pki daemon-config`: the daemon side (daemon.json, systemd, flags, the nginx front).

use anyhow::{Context, bail};

use super::file_path;
use crate::cli::pki::DaemonConfigArgs;
use crate::cmd::print;
use crate::dockerd::{self as daemon, DaemonOptions};
use crate::environment::Env;
use crate::exit;
use crate::pki::backup;
use crate::pki::issue::{Kind, Pki};
use crate::store::atomic;

pub(super) fn run(pki: &Pki, a: DaemonConfigArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let server = pki.load_record(&a.server).map_err(|e| {
        e.context(format!(
            "daemon-config renders the daemon side of an issued server certificate; \
             issue one first: dctx pki server --host <name-or-ip> --out <dir>{}",
            if a.server == "server" {
                String::new()
            } else {
                format!(" --name {}", a.server)
            }
        ))
    })?;
    if server.kind != Kind::Server {
        bail!(
            "{:?} is a client certificate; pass --server <server record>",
            a.server
        );
    }
    let listen = a
        .listen
        .iter()
        .map(|l| daemon::parse_listen(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let format = crate::dockerd::Format::from(a.format);
    let front_flags =
        a.crl.is_some() || !a.allow.is_empty() || !a.read_only.is_empty() || a.contact.is_some();
    if front_flags && format != daemon::Format::Nginx {
        bail!(
            "--crl, --allow, --read-only and --contact configure the nginx front: add --format nginx \
             (dockerd itself checks no CRL and has no per-person access)"
        );
    }
    let opts = DaemonOptions {
        listen,
        cert_dir: a.cert_dir.clone(),
        socket: a.socket.clone(),
        front: front(&a)?,
    };
    let text = daemon::render(format, &opts, &server);
    for w in daemon::warnings(&opts, &server) {
        eprintln!("warning: {w}");
    }
    match &a.output {
        Some(path) => write_out(&file_path(path), text, &opts, format, env.now, a.quiet)?,
        None => print(&text)?,
    }
    if !a.quiet {
        eprint!(
            "{}",
            daemon::instructions(format, &opts, server.out.as_deref())
        );
    }
    Ok(exit::Exit::Ok)
}

/// The nginx front's policy from `--crl`, `--allow`, `--read-only`, `--contact`.
fn front(a: &DaemonConfigArgs) -> anyhow::Result<daemon::Front> {
    let subjects = |list: &[String]| -> anyhow::Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for who in list {
            let dn = daemon::front_subject(who).context("--allow / --read-only")?;
            // nginx compares map keys without regard to case.
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&dn)) {
                out.push(dn);
            }
        }
        Ok(out)
    };
    let (allow, read_only) = (subjects(&a.allow)?, subjects(&a.read_only)?);
    if let Some(both) = allow
        .iter()
        .find(|x| read_only.iter().any(|r| r.eq_ignore_ascii_case(x)))
    {
        bail!("{both} is named by both --allow and --read-only: choose one");
    }
    if let Some(c) = &a.contact
        && c.chars()
            .any(|c| c.is_control() || "\\\"'$;{}`".contains(c))
    {
        bail!(
            "--contact: plain text without quotes, backslashes, $, ;, braces or control characters"
        );
    }
    Ok(daemon::Front {
        crl: a.crl.clone(),
        allow,
        read_only,
        access_log: Some(a.access_log.clone()),
        contact: a.contact.clone(),
    })
}

/// Write `text` to `path`; an existing daemon.json / drop-in holds the
/// user's other settings, so it is merged into (after a backup), keeping
/// its mode (a 0600 daemon.json stays 0600).
fn write_out(
    path: &std::path::Path,
    text: String,
    opts: &DaemonOptions,
    format: daemon::Format,
    now: i64,
    quiet: bool,
) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("reading the existing {}", path.display()))
            );
        }
    };
    let text = match (&existing, format) {
        (Some(old), daemon::Format::DaemonJson) => {
            daemon::merge_daemon_json(old, opts).with_context(|| format!("{}", path.display()))?
        }
        (Some(old), daemon::Format::Systemd) => daemon::merge_systemd(old, opts),
        _ => text,
    };
    if existing.is_some() {
        let bak =
            backup::backup(path, now).with_context(|| format!("backing up {}", path.display()))?;
        if !quiet {
            eprintln!("kept the previous {} as {}", path.display(), bak.display());
        }
    }
    let mode = match &existing {
        Some(_) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(atomic::PUBLIC_FILE)
        }
        None => atomic::PUBLIC_FILE,
    };
    atomic::write(path, text.as_bytes(), mode)
        .with_context(|| format!("writing {}", path.display()))?;
    if !quiet {
        let verb = match (&existing, format) {
            (Some(_), daemon::Format::DaemonJson | daemon::Format::Systemd) => "merged into",
            _ => "wrote",
        };
        eprintln!("{verb} {}", path.display());
    }
    Ok(())
}
