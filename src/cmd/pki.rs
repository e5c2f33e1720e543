//! `dctx pki …`: glue between the arguments, the terminal (passphrases) and
//! `pki::issue` / `pki::daemon`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::pki::{
    ClientArgs, CrlArgs, DaemonConfigArgs, InitArgs, PkiArgs, PkiCommand, PkiLsArgs, RenewArgs,
    RevokeArgs, ServerArgs,
};
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::backup;
use crate::pki::crl::{self, CrlInfo};
use crate::pki::daemon::{self, DaemonOptions};
use crate::pki::inspect::rfc3339;
use crate::pki::issue::{self, Host, Issued, IssuedMeta, Kind, LeafRequest, Pki};
use crate::pki::revoke::{self as revocation, Revoked};
use crate::store::{Store, atomic};

pub fn run(args: PkiArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let dir = match args.dir {
        Some(d) => d,
        None => Store::from_env(env)?.root.join("pki"),
    };
    let pki = Pki::new(dir);
    match args.command {
        PkiCommand::Init(a) => init(&pki, a, env),
        PkiCommand::Server(a) => server(&pki, a, env),
        PkiCommand::Client(a) => client(&pki, a, env),
        PkiCommand::DaemonConfig(a) => daemon_config(&pki, a, env),
        PkiCommand::Ls(a) => ls(&pki, a, env),
        PkiCommand::Renew(a) => renew(&pki, a, env),
        PkiCommand::Revoke(a) => revoke(&pki, a, env),
        PkiCommand::Crl(a) => crl(&pki, a, env),
    }
}

fn init(pki: &Pki, a: InitArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.password_stdin && !a.encrypt_ca_key {
        bail!("--password-stdin only applies with --encrypt-ca-key");
    }
    let _lock = pki.lock()?;
    if pki.has_ca() && !a.force {
        bail!(
            "a CA already exists in {} (refusing to overwrite it: everything it signed would stop verifying); \
             pass --force to replace it (the old files are kept as .bak-<time>)",
            pki.dir.display()
        );
    }
    let passphrase = if a.encrypt_ca_key {
        Some(Secrets::new(a.password_stdin).ask("new CA key passphrase", true)?)
    } else {
        None
    };
    let opts = issue::InitOptions {
        common_name: a.cn,
        key_type: a.key_type.into(),
        days: a.days,
        force: a.force,
    };
    let info = pki.init(&opts, passphrase.as_deref().map(|s| s.as_str()), env.now)?;
    print(&format!(
        "Created CA \"{}\" ({}), valid until {} ({})\n  certificate: {} (0644)\n  private key: {} (0600{})\n\
         Next: dctx pki server --host <dns-name-or-ip> --out <dir>\n",
        info.display_name(),
        crate::pki::issue::KeyType::from(a.key_type).label(),
        info.not_after_rfc3339(),
        crate::output::expiry::Expiry::new(info.not_after, env.now),
        pki.ca_cert_path().display(),
        pki.ca_key_path().display(),
        if a.encrypt_ca_key {
            ", passphrase-encrypted"
        } else {
            ""
        },
    ))?;
    Ok(exit::Exit::Ok)
}

/// Load the CA, asking for its passphrase only when the key is encrypted.
fn load_ca(pki: &Pki, secrets: &mut Secrets) -> anyhow::Result<issue::Ca> {
    pki.load_ca(&mut || secrets.ask("CA key passphrase", false))
}

fn refuse_existing(paths: &[PathBuf], force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        bail!(
            "{} already exists; pass --force to overwrite it",
            p.display()
        );
    }
    Ok(())
}

/// A relative file name gets "./" so its parent is a real directory.
fn file_path(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").join(p),
    }
}

fn server_files(dir: &Path) -> [PathBuf; 3] {
    [
        dir.join("ca.pem"),
        dir.join("server-cert.pem"),
        dir.join("server-key.pem"),
    ]
}

fn write_server(dir: &Path, issued: &Issued) -> anyhow::Result<String> {
    atomic::create_dir(dir, atomic::PRIVATE_DIR)
        .with_context(|| format!("creating {}", dir.display()))?;
    let [ca, cert, key] = server_files(dir);
    let mut lines = String::new();
    for (path, data, mode) in [
        (&ca, issued.ca_pem.as_bytes(), atomic::PUBLIC_FILE),
        (&cert, issued.cert_pem.as_bytes(), atomic::PUBLIC_FILE),
        (&key, issued.key_pem.as_bytes(), atomic::PRIVATE_FILE),
    ] {
        atomic::write(path, data, mode).with_context(|| format!("writing {}", path.display()))?;
        lines.push_str(&format!("  {} ({mode:04o})\n", path.display()));
    }
    Ok(lines)
}

/// Archive flavour of a client `--out`: Some(gzip?) for a tar, None for a directory.
fn archive_kind(p: &Path) -> Option<bool> {
    let s = p.to_string_lossy().to_ascii_lowercase();
    if s.ends_with(".tar.gz") || s.ends_with(".tgz") {
        Some(true)
    } else if s.ends_with(".tar") {
        Some(false)
    } else {
        None
    }
}

fn client_targets(out: Option<&Path>, p12: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(out) = out {
        match archive_kind(out) {
            Some(_) => v.push(out.to_path_buf()),
            None => v.extend(["ca.pem", "cert.pem", "key.pem"].map(|f| out.join(f))),
        }
    }
    if let Some(p) = p12 {
        v.push(p.to_path_buf());
    }
    v
}

fn write_client(
    out: Option<&Path>,
    p12: Option<(&Path, &str)>,
    issued: &Issued,
    now: i64,
) -> anyhow::Result<String> {
    let mut lines = String::new();
    if let Some(out) = out {
        match archive_kind(out) {
            Some(gz) => {
                let tar = issue::client_tar(issued, now, gz)?;
                let path = file_path(out);
                atomic::write(&path, &tar, atomic::PRIVATE_FILE)
                    .with_context(|| format!("writing {}", out.display()))?;
                lines.push_str(&format!(
                    "  {} (0600: ca.pem, cert.pem, key.pem)\n",
                    out.display()
                ));
            }
            None => {
                atomic::create_dir(out, atomic::PRIVATE_DIR)
                    .with_context(|| format!("creating {}", out.display()))?;
                for (f, data, mode) in [
                    ("ca.pem", issued.ca_pem.as_bytes(), atomic::PUBLIC_FILE),
                    ("cert.pem", issued.cert_pem.as_bytes(), atomic::PUBLIC_FILE),
                    ("key.pem", issued.key_pem.as_bytes(), atomic::PRIVATE_FILE),
                ] {
                    let path = out.join(f);
                    atomic::write(&path, data, mode)
                        .with_context(|| format!("writing {}", path.display()))?;
                    lines.push_str(&format!("  {} ({mode:04o})\n", path.display()));
                }
            }
        }
    }
    if let Some((path, password)) = p12 {
        let data = issue::client_p12(issued, password)?;
        atomic::write(&file_path(path), &data, atomic::PRIVATE_FILE)
            .with_context(|| format!("writing {}", path.display()))?;
        lines.push_str(&format!(
            "  {} (0600, PKCS#12: key, certificate, CA)\n",
            path.display()
        ));
    }
    Ok(lines)
}

fn refuse_reissue(pki: &Pki, name: &str, force: bool) -> anyhow::Result<()> {
    if !force && pki.record_dir(name).join("meta.json").exists() {
        bail!(
            "a certificate named {name:?} was already issued; renew it with `dctx pki renew {name}`, \
             or pass --force to issue a new one under that name"
        );
    }
    Ok(())
}

fn summary(issued: &Issued, now: i64, verb: &str) -> String {
    let m = &issued.meta;
    let what = match m.kind {
        Kind::Server => format!(
            "server certificate {:?} for {}",
            m.name,
            m.names
                .iter()
                .map(|n| match issue::parse_host(n) {
                    Ok(h) => h.san_label(),
                    Err(_) => n.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Client => format!("client certificate {:?} (CN={})", m.name, m.name),
    };
    format!(
        "{verb} {what}\n  key {}, serial {}, valid until {} ({})\n{}",
        m.key_type,
        m.serial,
        rfc3339(m.not_after),
        crate::output::expiry::Expiry::new(m.not_after, now),
        crate::pki::lint::render(
            "  client compatibility:",
            &crate::pki::lint::issued(
                &issued.cert_pem,
                &issued.ca_pem,
                &m.names,
                m.kind == Kind::Server
            )
        )
    )
}

fn server(pki: &Pki, a: ServerArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    issue::validate_name(&a.name)?;
    let mut hosts: Vec<Host> = Vec::new();
    for h in &a.hosts {
        let h = issue::parse_host(h)?;
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let _lock = pki.lock()?;
    refuse_reissue(pki, &a.name, a.issue.force)?;
    refuse_existing(&server_files(&a.out), a.issue.force)?;
    let mut secrets = Secrets::new(a.issue.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let req = LeafRequest {
        name: a.name,
        kind: Kind::Server,
        hosts,
        key_type: a.issue.key_type.into(),
        days: a.issue.days,
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = Some(absolute(&a.out));
    let files = write_server(&a.out, &issued)?;
    pki.record(&issued)?;
    print(&format!(
        "{}{files}Next: dctx pki daemon-config --listen tcp://0.0.0.0:2376 --format daemon.json|systemd|flags|nginx\n",
        summary(&issued, env.now, "Issued")
    ))?;
    Ok(exit::Exit::Ok)
}

fn client(pki: &Pki, a: ClientArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    issue::validate_name(&a.name)?;
    let _lock = pki.lock()?;
    refuse_reissue(pki, &a.name, a.issue.force)?;
    refuse_existing(
        &client_targets(a.out.as_deref(), a.p12.as_deref()),
        a.issue.force,
    )?;
    let mut secrets = Secrets::new(a.issue.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let p12_password = match a.p12 {
        Some(_) => Some(secrets.ask(&format!("export password for {}.p12", a.name), true)?),
        None => None,
    };
    let req = LeafRequest {
        name: a.name,
        kind: Kind::Client,
        hosts: vec![],
        key_type: a.issue.key_type.into(),
        days: a.issue.days,
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = a.out.as_deref().or(a.p12.as_deref()).map(absolute);
    let p12 = a
        .p12
        .as_deref()
        .zip(p12_password.as_ref().map(|p| p.as_str()));
    let files = write_client(a.out.as_deref(), p12, &issued, env.now)?;
    pki.record(&issued)?;
    let mut msg = summary(&issued, env.now, "Issued") + &files;
    if let Some(out) = &a.out {
        msg.push_str(&format!(
            "Import it: dctx add <profile> --bundle {} -H tcp://<daemon>:2376\n",
            out.display()
        ));
    }
    print(&msg)?;
    Ok(exit::Exit::Ok)
}

fn renew(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.name == "ca" {
        return renew_ca(pki, a, env);
    }
    let meta = pki.load_record(&a.name)?;
    match meta.kind {
        Kind::Server => {
            if a.out.is_none() {
                bail!(
                    "renewing server {:?} needs --out DIR for the new ca.pem, server-cert.pem, server-key.pem{}",
                    meta.name,
                    meta.out
                        .as_ref()
                        .map(|o| format!(" (last written to {})", o.display()))
                        .unwrap_or_default()
                );
            }
            if a.p12.is_some() {
                bail!("--p12 is for client certificates");
            }
        }
        Kind::Client => {
            if a.out.is_none() && a.p12.is_none() {
                bail!(
                    "renewing client {:?} needs --out (tar or dir) and/or --p12{}",
                    meta.name,
                    meta.out
                        .as_ref()
                        .map(|o| format!(" (last written to {})", o.display()))
                        .unwrap_or_default()
                );
            }
        }
    }
    let hosts = meta
        .names
        .iter()
        .filter(|_| meta.kind == Kind::Server)
        .map(|n| issue::parse_host(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let p12_password = match a.p12 {
        Some(_) => Some(secrets.ask(&format!("export password for {}.p12", meta.name), true)?),
        None => None,
    };
    let req = LeafRequest {
        name: meta.name.clone(),
        kind: meta.kind,
        hosts,
        key_type: meta.key_type,
        days: a.days.unwrap_or(meta.days),
    };
    let mut issued = pki.issue(&ca, &req, env.now)?;
    issued.meta.out = a.out.as_deref().or(a.p12.as_deref()).map(absolute);
    let files = match meta.kind {
        Kind::Server => write_server(a.out.as_deref().expect("checked"), &issued)?,
        Kind::Client => {
            let p12 = a
                .p12
                .as_deref()
                .zip(p12_password.as_ref().map(|p| p.as_str()));
            write_client(a.out.as_deref(), p12, &issued, env.now)?
        }
    };
    pki.record(&issued)?;
    print(&format!(
        "{}  replaces serial {} (expiring {})\n{files}",
        summary(&issued, env.now, "Renewed"),
        meta.serial,
        rfc3339(meta.not_after)
    ))?;
    Ok(exit::Exit::Ok)
}

fn renew_ca(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if a.out.is_some() || a.p12.is_some() {
        bail!(
            "`renew ca` rewrites {} in place; --out / --p12 do not apply",
            pki.ca_cert_path().display()
        );
    }
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let old = ca.info.clone();
    let info = pki.renew_ca(&ca, a.days.unwrap_or(issue::DEFAULT_CA_DAYS), env.now)?;
    print(&format!(
        "Renewed CA \"{}\" (same key and subject: certificates it issued stay valid)\n  serial {}, valid until {} ({})\n  replaces serial {} (expiring {})\n\
         Distribute the new {} to clients and daemons (ca.pem in bundles and --cert-dir).\n",
        info.display_name(),
        info.serial.replace(':', "").to_ascii_uppercase(),
        info.not_after_rfc3339(),
        crate::output::expiry::Expiry::new(info.not_after, env.now),
        old.serial.replace(':', "").to_ascii_uppercase(),
        old.not_after_rfc3339(),
        pki.ca_cert_path().display(),
    ))?;
    Ok(exit::Exit::Ok)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn daemon_config(pki: &Pki, a: DaemonConfigArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
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
    let format = crate::pki::daemon::Format::from(a.format);
    let front_flags =
        a.crl.is_some() || !a.allow.is_empty() || !a.read_only.is_empty() || a.contact.is_some();
    if front_flags && format != daemon::Format::Nginx {
        bail!(
            "--crl, --allow, --read-only and --contact configure the nginx front: add --format nginx \
             (dockerd itself checks no CRL and has no per-person access)"
        );
    }
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
    let opts = DaemonOptions {
        listen,
        cert_dir: a.cert_dir,
        socket: a.socket,
        front: daemon::Front {
            crl: a.crl,
            allow,
            read_only,
            access_log: Some(a.access_log),
            contact: a.contact,
        },
    };
    let text = daemon::render(crate::pki::daemon::Format::from(a.format), &opts, &server);
    for w in daemon::warnings(&opts, &server) {
        eprintln!("warning: {w}");
    }
    match &a.output {
        Some(path) => {
            let path = file_path(path);
            let existing = match std::fs::read_to_string(&path) {
                Ok(s) => Some(s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("reading the existing {}", path.display())));
                }
            };
            // An existing daemon.json / drop-in holds the user's other
            // settings: merge into it rather than replace it.
            let text = match (&existing, crate::pki::daemon::Format::from(a.format)) {
                (Some(old), daemon::Format::DaemonJson) => daemon::merge_daemon_json(old, &opts)
                    .with_context(|| format!("{}", path.display()))?,
                (Some(old), daemon::Format::Systemd) => daemon::merge_systemd(old, &opts),
                _ => text,
            };
            if existing.is_some() {
                let bak = backup::backup(&path, env.now)
                    .with_context(|| format!("backing up {}", path.display()))?;
                if !a.quiet {
                    eprintln!("kept the previous {} as {}", path.display(), bak.display());
                }
            }
            // A merged file keeps its mode (a 0600 daemon.json stays 0600).
            let mode = match &existing {
                Some(_) => {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::metadata(&path)
                        .map(|m| m.permissions().mode() & 0o777)
                        .unwrap_or(atomic::PUBLIC_FILE)
                }
                None => atomic::PUBLIC_FILE,
            };
            atomic::write(&path, text.as_bytes(), mode)
                .with_context(|| format!("writing {}", path.display()))?;
            if !a.quiet {
                let verb = match (&existing, crate::pki::daemon::Format::from(a.format)) {
                    (Some(_), daemon::Format::DaemonJson | daemon::Format::Systemd) => {
                        "merged into"
                    }
                    _ => "wrote",
                };
                eprintln!("{verb} {}", path.display());
            }
        }
        None => print(&text)?,
    }
    if !a.quiet {
        eprint!(
            "{}",
            daemon::instructions(
                crate::pki::daemon::Format::from(a.format),
                &opts,
                server.out.as_deref()
            )
        );
    }
    Ok(exit::Exit::Ok)
}

#[derive(serde::Serialize)]
struct LsRow {
    name: String,
    kind: &'static str,
    names: Vec<String>,
    key_type: String,
    serial: String,
    /// RFC 3339, like every time in dctx's JSON.
    not_before: String,
    not_after: String,
    days_left: i64,
    /// Set when `pki revoke` recorded this serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<LsRevoked>,
}

#[derive(serde::Serialize)]
struct LsRevoked {
    at: String,
    reason: &'static str,
}

fn key_label(cert_key_type: &str) -> String {
    match cert_key_type {
        "EC-256" => "ecdsa-p256".into(),
        "EC-384" => "ecdsa-p384".into(),
        k => k
            .strip_prefix("RSA-")
            .map(|b| format!("rsa-{b}"))
            .unwrap_or_else(|| k.to_string()),
    }
}

fn ls(pki: &Pki, a: PkiLsArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let mut rows = Vec::new();
    if pki.ca_cert_path().exists() {
        let (_, ca) = pki.ca_cert()?;
        rows.push(LsRow {
            name: "ca".into(),
            kind: "ca",
            names: vec![ca.display_name().to_string()],
            key_type: key_label(&ca.key_type),
            serial: ca.serial.replace(':', "").to_ascii_uppercase(),
            not_before: rfc3339(ca.not_before),
            not_after: ca.not_after_rfc3339(),
            days_left: ca.days_left(env.now),
            revoked: None,
        });
    }
    let revoked = revocation::load(&pki.dir)?;
    for m in pki.records()? {
        let mut r = row(&m, env.now);
        r.revoked = revoked
            .iter()
            .find(|x| revocation::normalize_serial(&m.serial).is_ok_and(|s| s == x.serial))
            .map(|x| LsRevoked {
                at: rfc3339(x.revoked),
                reason: x.reason.label(),
            });
        rows.push(r);
    }
    if a.json {
        print(&(serde_json::to_string_pretty(&rows)? + "\n"))?;
        return Ok(exit::Exit::Ok);
    }
    if rows.is_empty() {
        print(&format!(
            "No CA in {} (create one with `dctx pki init`).\n",
            pki.dir.display()
        ))?;
        return Ok(exit::Exit::Ok);
    }
    use crate::output::{
        expiry::Expiry,
        table::{Cell, Column, Table},
    };
    let mut t = Table::new(vec![
        Column::always("NAME"),
        Column::optional("KIND", 3),
        Column::optional("NAMES", 1).truncate(12),
        Column::optional("KEY", 4),
        Column::optional("SERIAL", 5).truncate(10),
        Column::optional("EXPIRES", 2),
        Column::always("DAYS LEFT"),
    ]);
    for r in &rows {
        let e = Expiry::from_days_left(r.days_left);
        let left = match &r.revoked {
            Some(_) => Cell::styled("revoked", Expiry::from_days_left(-1).style()),
            None => Cell::styled(e.short(), e.style()),
        };
        t.add_row(vec![
            r.name.as_str().into(),
            r.kind.into(),
            r.names.join(", ").into(),
            r.key_type.as_str().into(),
            r.serial.as_str().into(),
            r.not_after.as_str().into(),
            left,
        ]);
    }
    let mut out = t.render(crate::output::width(env, false), crate::output::styled(env));
    for x in &revoked {
        out.push_str(&format!(
            "revoked: {}serial {} since {} ({})\n",
            x.name.as_ref().map(|n| format!("{n} ")).unwrap_or_default(),
            x.serial,
            rfc3339(x.revoked),
            x.reason.label()
        ));
    }
    match ca_crl(pki) {
        Some(c) => {
            let stale = c
                .next_update
                .is_some_and(|n| n <= env.now + i64::from(crl::DEFAULT_WARN_DAYS) * 86_400);
            out.push_str(&format!(
                "{}{}\n",
                c.summary(env.now),
                if stale {
                    " - write a new one: dctx pki crl -o FILE"
                } else {
                    ""
                }
            ));
        }
        None if !revoked.is_empty() => out.push_str(
            "CRL: none signed yet; a front refuses revoked certificates once it has one: dctx pki crl -o FILE\n",
        ),
        None => {}
    }
    print(&out)?;
    Ok(exit::Exit::Ok)
}

fn row(m: &IssuedMeta, now: i64) -> LsRow {
    LsRow {
        name: m.name.clone(),
        kind: m.kind.label(),
        names: m.names.clone(),
        key_type: m.key_type.label().into(),
        serial: m.serial.clone(),
        not_before: rfc3339(m.not_before),
        not_after: rfc3339(m.not_after),
        days_left: crate::output::expiry::Expiry::new(m.not_after, now).days_left(),
        revoked: None,
    }
}

fn revoke(pki: &Pki, a: RevokeArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let _lock = pki.lock()?;
    let (_, ca) = pki.ca_cert()?;
    let records = pki.records()?;
    let (serial, name) = match (&a.name, &a.serial, &a.cert) {
        (Some(name), _, _) => {
            let m = pki.load_record(name)?;
            (revocation::normalize_serial(&m.serial)?, Some(m.name))
        }
        (_, Some(raw), _) => (revocation::normalize_serial(raw)?, None),
        (_, _, Some(file)) => {
            let data =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let der = match pem::parse(&data) {
                Ok(p) if p.tag() == "CERTIFICATE" => p.into_contents(),
                _ => data,
            };
            let info =
                crate::pki::CertInfo::from_der(&der).with_context(|| file.display().to_string())?;
            if !info.is_signed_by(&ca) {
                bail!(
                    "{} was not issued by this CA (\"{}\" in {}): a CRL of this CA cannot revoke it",
                    file.display(),
                    crate::output::sanitize(ca.display_name()),
                    pki.dir.display()
                );
            }
            (revocation::normalize_serial(&info.serial)?, None)
        }
        (None, None, None) => unreachable!("clap requires one"),
    };
    let name = name.or_else(|| {
        records
            .iter()
            .find(|m| revocation::normalize_serial(&m.serial).is_ok_and(|s| s == serial))
            .map(|m| m.name.clone())
    });
    if name.is_none() {
        eprintln!(
            "warning: no certificate with serial {serial} was issued from {} (recording it anyway)",
            pki.dir.display()
        );
    }
    let reason: revocation::Reason = a.reason.into();
    revocation::add(
        &pki.dir,
        Revoked {
            serial: serial.clone(),
            name: name.clone(),
            reason,
            revoked: env.now,
        },
    )?;
    print(&format!(
        "Revoked {}serial {serial} ({})\n\
         A front refuses it once its CRL lists it: dctx pki crl -o <the front's ssl_crl file> --reload 'nginx -s reload'\n",
        name.map(|n| format!("{n:?}, ")).unwrap_or_default(),
        reason.label()
    ))?;
    Ok(exit::Exit::Ok)
}

fn crl(pki: &Pki, a: CrlArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    if let Some(file) = &a.check {
        return crl_check(pki, file, &a, env);
    }
    let (installed, target) = match (&a.vault, &a.from) {
        (Some(addr), _) => {
            let out = a.output.as_deref().expect("clap: --vault requires -o");
            (crl_vault(addr, out, &a, env)?, out.to_path_buf())
        }
        (None, Some(from)) => {
            let out = a.output.as_deref().expect("clap: --from requires -o");
            let ca = match &a.ca {
                Some(f) => read_ca_file(f)?,
                None => pki.ca_cert()?.1,
            };
            let pem = std::fs::read_to_string(from)
                .with_context(|| format!("reading {}", from.display()))?;
            (
                crl::install(&file_path(out), &pem, &ca, env.now, a.force)?,
                out.to_path_buf(),
            )
        }
        (None, None) => match crl_local(pki, &a, env)? {
            (pem, None) => {
                print(&pem)?;
                return Ok(exit::Exit::Ok);
            }
            (_, Some(i)) => (i, file_path(a.output.as_deref().expect("written"))),
        },
    };
    let was = match &installed.replaced {
        Some(n) => format!(
            " (replacing number {})",
            n.as_ref()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "none".into())
        ),
        None => String::new(),
    };
    print(&format!(
        "Wrote {}: {}{was}\n",
        target.display(),
        crate::output::sanitize(&installed.info.summary(env.now))
    ))?;
    if let Some(cmd) = &a.reload {
        reload(cmd, &target)?;
    }
    Ok(exit::Exit::Ok)
}

/// Run the reload command; the new CRL is already in place.
fn reload(cmd: &str, target: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!(
            "the new CRL is in place at {}, but the reload command {cmd:?} failed ({status}): the front still uses the old one",
            target.display()
        );
    }
    eprintln!("ran {cmd:?}");
    Ok(())
}

/// Sign a CRL with the local CA; also kept as `<pki>/crl.pem` (what `pki ls`
/// and `doctor` read). Returns the PEM and, with -o, what was installed.
fn crl_local(
    pki: &Pki,
    a: &CrlArgs,
    env: &Env,
) -> anyhow::Result<(String, Option<crl::Installed>)> {
    if a.ca.is_some() {
        bail!("--ca applies to --vault, --from and --check; the local CA signs this CRL");
    }
    let _lock = pki.lock()?;
    let mut secrets = Secrets::new(a.password_stdin);
    let ca = load_ca(pki, &mut secrets)?;
    let ca_info = ca.info.clone();
    let revoked = revocation::load(&pki.dir)?;
    // The next number is above both the CA's last CRL and the one at -o, so
    // a lost crl.pem never makes the front refuse the new CRL as older.
    let mut last = crl::read(&crl_copy(pki))
        .ok()
        .flatten()
        .and_then(|c| c.number);
    if let Some(out) = &a.output
        && let Ok(Some(c)) = crl::read(&file_path(out))
        && c.verify(&ca.info).is_ok()
        && c.number > last
    {
        last = c.number;
    }
    let number = last.unwrap_or_default() + 1u32;
    let pem = crl::sign(&ca, &revoked, &number, env.now, a.days)?;
    crl::install(&crl_copy(pki), &pem, &ca_info, env.now, true)?;
    let installed = match &a.output {
        Some(out) => Some(crl::install(
            &file_path(out),
            &pem,
            &ca_info,
            env.now,
            a.force,
        )?),
        None => None,
    };
    Ok((pem, installed))
}

/// The CA's own copy of its latest CRL.
fn crl_copy(pki: &Pki) -> PathBuf {
    pki.dir.join("crl.pem")
}

fn read_ca_file(f: &Path) -> anyhow::Result<crate::pki::CertInfo> {
    let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
    let Some(ca) = crate::pki::inspect::certs_from_pem(&data)
        .into_iter()
        .find(|c| c.is_ca)
    else {
        bail!("{} holds no CA certificate", f.display());
    };
    Ok(ca)
}

fn crl_vault(addr: &str, out: &Path, a: &CrlArgs, env: &Env) -> anyhow::Result<crl::Installed> {
    let base = addr.trim_end_matches('/');
    let mount = a.mount.trim_matches('/');
    let get = |what: &str| {
        let url = format!("{base}/v1/{mount}/{what}");
        crl::http_get(
            &url,
            a.vault_ca.as_deref(),
            std::time::Duration::from_secs(15),
        )
        .with_context(|| format!("fetching {url}"))
    };
    let ca = match &a.ca {
        Some(f) => read_ca_file(f)?,
        None => {
            let data = get("ca/pem")?;
            crate::pki::inspect::certs_from_pem(&data)
                .into_iter()
                .next()
                .with_context(|| format!("{base}/v1/{mount}/ca/pem holds no certificate"))?
        }
    };
    let body = get("crl/pem")?;
    let pem = String::from_utf8(body).context("the engine's CRL is not PEM text")?;
    crl::install(&file_path(out), &pem, &ca, env.now, a.force)
}

fn crl_check(pki: &Pki, file: &Path, a: &CrlArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let info = crl::read(file)?.with_context(|| format!("{} does not exist", file.display()))?;
    let mut msg = format!(
        "{}: CRL of {}\n  {}\n",
        file.display(),
        crate::output::sanitize(&info.issuer),
        crate::output::sanitize(&info.summary(env.now))
    );
    let ca = match &a.ca {
        Some(f) => Some(read_ca_file(f)?),
        None => pki.ca_cert().ok().map(|(_, c)| c),
    };
    if let Some(ca) = ca {
        match info.verify(&ca) {
            Ok(()) => msg.push_str(&format!(
                "  signed by the CA \"{}\"\n",
                crate::output::sanitize(ca.display_name())
            )),
            Err(e) if a.ca.is_some() => return Err(e),
            // The local CA is only a guess at which CA this is.
            Err(_) => {}
        }
    }
    print(&msg)?;
    let next = || rfc3339(info.next_update.unwrap_or_default());
    match crl::freshness(&info, env.now, a.warn_days) {
        crl::Freshness::Fresh => Ok(exit::Exit::Ok),
        crl::Freshness::Open => {
            eprintln!("warning: the CRL has no next update");
            Ok(exit::Exit::Ok)
        }
        crl::Freshness::Lapsing => {
            eprintln!(
                "warning: the CRL lapses at {} ({}): a front checking it then refuses every client; \
                 write a new one before (dctx pki crl -o {})",
                next(),
                crl::when(info.left(env.now).unwrap_or_default()),
                file.display()
            );
            Ok(exit::Exit::Ok)
        }
        crl::Freshness::Lapsed => {
            eprintln!(
                "error: the CRL lapsed at {}: a front checking it refuses every client; \
                 write a new one now (dctx pki crl -o {})",
                next(),
                file.display()
            );
            Ok(exit::Exit::Unhealthy)
        }
    }
}

/// The CA's latest CRL, if it ever signed one (for `pki ls`).
fn ca_crl(pki: &Pki) -> Option<CrlInfo> {
    crl::read(&crl_copy(pki)).ok().flatten()
}
