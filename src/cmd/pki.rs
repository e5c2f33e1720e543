//! `dctx pki …`: glue between the arguments, the terminal (passphrases) and
//! `pki::issue` / `pki::daemon`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::pki::{
    ClientArgs, DaemonConfigArgs, InitArgs, PkiArgs, PkiCommand, PkiLsArgs, RenewArgs, ServerArgs,
};
use crate::cmd::print;
use crate::cmd::secrets::Secrets;
use crate::environment::Env;
use crate::exit;
use crate::pki::backup;
use crate::pki::daemon::{self, DaemonOptions};
use crate::pki::inspect::rfc3339;
use crate::pki::issue::{self, Host, Issued, IssuedMeta, Kind, LeafRequest, Pki};
use crate::store::{Store, atomic};

pub fn run(args: PkiArgs, env: &Env) -> anyhow::Result<u8> {
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
    }
}

fn init(pki: &Pki, a: InitArgs, env: &Env) -> anyhow::Result<u8> {
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
    Ok(exit::OK)
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

fn server(pki: &Pki, a: ServerArgs, env: &Env) -> anyhow::Result<u8> {
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
    Ok(exit::OK)
}

fn client(pki: &Pki, a: ClientArgs, env: &Env) -> anyhow::Result<u8> {
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
    Ok(exit::OK)
}

fn renew(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<u8> {
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
    Ok(exit::OK)
}

fn renew_ca(pki: &Pki, a: RenewArgs, env: &Env) -> anyhow::Result<u8> {
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
    Ok(exit::OK)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn daemon_config(pki: &Pki, a: DaemonConfigArgs, env: &Env) -> anyhow::Result<u8> {
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
    let opts = DaemonOptions {
        listen,
        cert_dir: a.cert_dir,
        socket: a.socket,
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
    Ok(exit::OK)
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

fn ls(pki: &Pki, a: PkiLsArgs, env: &Env) -> anyhow::Result<u8> {
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
        });
    }
    for m in pki.records()? {
        rows.push(row(&m, env.now));
    }
    if a.json {
        print(&(serde_json::to_string_pretty(&rows)? + "\n"))?;
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        print(&format!(
            "No CA in {} (create one with `dctx pki init`).\n",
            pki.dir.display()
        ))?;
        return Ok(exit::OK);
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
        t.add_row(vec![
            r.name.as_str().into(),
            r.kind.into(),
            r.names.join(", ").into(),
            r.key_type.as_str().into(),
            r.serial.as_str().into(),
            r.not_after.as_str().into(),
            Cell::styled(e.short(), e.style()),
        ]);
    }
    print(&t.render(crate::output::width(env, false), crate::output::styled(env)))?;
    Ok(exit::OK)
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
    }
}
