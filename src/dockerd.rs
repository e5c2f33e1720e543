//! Rendering the daemon side for an issued server certificate: daemon.json,
//! a systemd drop-in, plain dockerd flags, or an nginx server block that
//! fronts the docker unix socket with client-certificate verification.
//!
//! Pure functions: text in, text out. The caller decides where it goes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::conn::{Endpoint, EndpointError};
use crate::pki::issue::{Host, IssuedMeta};

/// What `daemon-config` renders (the CLI has its own clap mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// /etc/docker/daemon.json (tls*, hosts).
    DaemonJson,
    /// systemd drop-in (docker.service.d/override.conf) with the empty `ExecStart=`.
    Systemd,
    /// Plain dockerd command-line flags.
    Flags,
    /// nginx server block fronting the unix socket, client certs required.
    Nginx,
}

/// One `--listen` address for dockerd, read by conn's strict parser:
/// `tcp://HOST[:PORT]` (port 2376 when absent; an empty HOST is every
/// address, as dockerd reads it) or `unix:///path`.
pub fn parse_listen(raw: &str) -> anyhow::Result<Endpoint> {
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        bail!(
            "--listen {raw:?}: dockerd listens on tcp://HOST:PORT (TLS is configured separately), e.g. tcp://0.0.0.0:2376"
        );
    }
    let given = match raw.strip_prefix("tcp://") {
        Some(rest) if rest.is_empty() || rest.starts_with(':') => format!("tcp://0.0.0.0{rest}"),
        _ => raw.to_string(),
    };
    match Endpoint::parse(&given) {
        Ok(Endpoint::Ssh { .. }) | Err(EndpointError::NoScheme { .. }) => bail!(
            "--listen {raw:?}: expected tcp://HOST:PORT (e.g. tcp://0.0.0.0:2376) or unix:///path"
        ),
        Ok(e) => Ok(e.with_default_port(true)),
        Err(e) => bail!("--listen {raw:?}: {e}"),
    }
}

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub listen: Vec<Endpoint>,
    /// Where ca.pem / server-cert.pem / server-key.pem live on the daemon host.
    pub cert_dir: PathBuf,
    /// The daemon's unix socket (kept in `hosts`; the nginx upstream).
    pub socket: PathBuf,
    /// Who the nginx front lets in and what they may do.
    pub front: Front,
}

/// The nginx front's per-person policy and files.
#[derive(Debug, Clone, Default)]
pub struct Front {
    /// `ssl_crl`: the CRL nginx checks client certificates against.
    pub crl: Option<PathBuf>,
    /// Subjects (or bare CNs) with full access. With `allow` or `read_only`
    /// non-empty, nobody else gets in.
    pub allow: Vec<String>,
    /// Subjects (or bare CNs) limited to read routes (`routes::read_only_rules`).
    pub read_only: Vec<String>,
    /// Per-person audit log (JSON lines with subject and serial).
    pub access_log: Option<PathBuf>,
    /// Who to ask for access, named in every refusal.
    pub contact: Option<String>,
}

impl Front {
    fn policy(&self) -> bool {
        !self.allow.is_empty() || !self.read_only.is_empty()
    }
}

/// The subject nginx's `$ssl_client_s_dn` shows (RFC 2253, OpenSSL's
/// escaping) for `--allow` / `--read-only` NAME: a value with `=` is taken as
/// a whole subject, a bare name as a certificate whose subject is just
/// `CN=NAME` (what dctx and OpenBao issue).
pub fn front_subject(raw: &str) -> anyhow::Result<String> {
    if raw.is_empty()
        || raw
            .chars()
            .any(|c| c.is_control() || "\"'$;{}`".contains(c))
    {
        bail!(
            "{:?}: a subject or CN without quotes, $, ;, braces or control characters",
            raw.escape_debug().to_string()
        );
    }
    if raw.contains('=') {
        return Ok(raw.to_string());
    }
    let mut out = String::from("CN=");
    for (i, c) in raw.chars().enumerate() {
        if ",+<>\\".contains(c)
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == raw.chars().count() && c == ' ')
        {
            out.push('\\');
        }
        if !c.is_ascii() {
            bail!(
                "{raw:?}: give the subject exactly as nginx logs it ($ssl_client_s_dn) for a non-ASCII name"
            );
        }
        out.push(c);
    }
    Ok(out)
}

impl DaemonOptions {
    pub fn ca(&self) -> PathBuf {
        self.cert_dir.join("ca.pem")
    }
    pub fn cert(&self) -> PathBuf {
        self.cert_dir.join("server-cert.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.cert_dir.join("server-key.pem")
    }

    /// `hosts` for dockerd: the unix socket first (so local `docker` keeps
    /// working), then every --listen.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        if !self.listen.iter().any(|l| matches!(l, Endpoint::Unix(_))) {
            hosts.push(Endpoint::Unix(self.socket.display().to_string()).to_string());
        }
        hosts.extend(self.listen.iter().map(Endpoint::to_string));
        hosts
    }

    fn tcp(&self) -> impl Iterator<Item = (&str, u16)> {
        self.listen.iter().filter_map(|l| match l {
            Endpoint::Tcp { host, port } => Some((host.as_str(), port.unwrap_or(2376))),
            _ => None,
        })
    }
}

/// Problems worth a warning: a listen address the certificate does not name,
/// the plaintext port, no TCP endpoint at all.
pub fn warnings(opts: &DaemonOptions, server: &IssuedMeta) -> Vec<String> {
    let mut out = Vec::new();
    if opts.tcp().next().is_none() {
        out.push("no tcp:// --listen given: the daemon will not be reachable over TLS".into());
    }
    for (host, port) in opts.tcp() {
        let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        if !unspecified {
            let host_l = host.to_ascii_lowercase();
            let named = server.names.iter().any(|n| {
                n == &host_l
                    || n.strip_prefix("*.").is_some_and(|suffix| {
                        host_l
                            .split_once('.')
                            .is_some_and(|(_, rest)| rest == suffix)
                    })
            });
            if !named {
                out.push(format!(
                    "listening on {host}, but the certificate {:?} names only {}: clients dialing {host} will fail verification \
                     (re-issue with `dctx pki server --host {host} …` or listen on 0.0.0.0)",
                    server.name,
                    server.names.join(", ")
                ));
            }
        }
        if port == 2375 {
            out.push(
                "port 2375 is Docker's conventional *plaintext* port; TLS daemons use 2376".into(),
            );
        }
    }
    out
}

/// Render `format`. The result is the file content only (no instructions).
pub fn render(format: Format, opts: &DaemonOptions, server: &IssuedMeta) -> String {
    match format {
        Format::DaemonJson => daemon_json(opts),
        Format::Systemd => systemd(opts),
        Format::Flags => format!("dockerd {}\n", flags(opts).join(" ")),
        Format::Nginx => nginx(opts, server),
    }
}

pub fn daemon_json(opts: &DaemonOptions) -> String {
    let mut s = serde_json::to_string_pretty(&daemon_json_value(opts)).expect("json");
    s.push('\n');
    s
}

fn daemon_json_value(opts: &DaemonOptions) -> serde_json::Value {
    serde_json::json!({
        "tls": true,
        "tlsverify": true,
        "tlscacert": opts.ca().display().to_string(),
        "tlscert": opts.cert().display().to_string(),
        "tlskey": opts.key().display().to_string(),
        "hosts": opts.hosts(),
    })
}

/// The top-level members of a JSON object, in file order, values verbatim.
struct RawObject(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for RawObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<RawObject, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(RawObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Merge dctx's tls*/hosts keys into an existing daemon.json: every other
/// key stays, in its place, its value byte for byte (numbers are not
/// re-encoded); dctx's keys replace theirs in place or are appended.
/// Refuses a file that is not a JSON object (the caller must not write).
pub fn merge_daemon_json(existing: &str, opts: &DaemonOptions) -> anyhow::Result<String> {
    // dockerd reads an empty daemon.json as no settings: so do we.
    let existing = if existing.trim().is_empty() {
        "{}"
    } else {
        existing
    };
    let RawObject(members) = serde_json::from_str(existing)
        .map_err(|e| anyhow::anyhow!("not a valid JSON object ({e}); refusing to merge into it"))?;
    let serde_json::Value::Object(ours) = daemon_json_value(opts) else {
        unreachable!("daemon_json_value is an object")
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in members {
        let value = match ours.get(&k) {
            // A duplicate of one of our keys was already replaced: drop it.
            Some(_) if out.iter().any(|(o, _)| *o == k) => continue,
            Some(mine) => serde_json::to_string(mine)?,
            None => v.get().to_string(),
        };
        out.push((k, value));
    }
    for (k, v) in &ours {
        if !out.iter().any(|(o, _)| o == k) {
            out.push((k.clone(), serde_json::to_string(v)?));
        }
    }
    let body: Vec<String> = out
        .iter()
        .map(|(k, v)| format!("  {}: {v}", serde_json::to_string(k).expect("json")))
        .collect();
    Ok(format!("{{\n{}\n}}\n", body.join(",\n")))
}

/// Merge the rendered drop-in into an existing one: every `ExecStart=`
/// line of its `[Service]` section (a drop-in holds one command line, the
/// empty reset plus dockerd's) is replaced by dctx's two lines at the place
/// of the first; every other line (Environment=, other sections, comments)
/// is kept as is.
pub fn merge_systemd(existing: &str, opts: &DaemonOptions) -> String {
    let rendered = systemd(opts);
    let exec: Vec<&str> = rendered
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut in_service = false;
    let mut saw_service = false;
    let mut placed = false;
    let mut continuation = false;
    for line in existing.lines() {
        let t = line.trim_start();
        if continuation {
            // The rest of a removed ExecStart= continued with a backslash.
            continuation = t.trim_end().ends_with('\\');
            continue;
        }
        if t.starts_with('[') {
            if in_service && !placed {
                out.extend(exec.iter().map(|s| s.to_string()));
                placed = true;
            }
            in_service = t.trim_end() == "[Service]";
            saw_service |= in_service;
        } else if in_service
            && t.strip_prefix("ExecStart")
                .is_some_and(|r| r.trim_start().starts_with('='))
        {
            continuation = t.trim_end().ends_with('\\');
            if !placed {
                out.extend(exec.iter().map(|s| s.to_string()));
                placed = true;
            }
            continue;
        }
        out.push(line.to_string());
    }
    if !placed {
        if !saw_service || !in_service {
            out.push("[Service]".into());
        }
        out.extend(exec.iter().map(|s| s.to_string()));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// dockerd flags, shell-quoted.
pub fn flags(opts: &DaemonOptions) -> Vec<String> {
    let mut f = vec![
        "--tlsverify".to_string(),
        format!("--tlscacert={}", sh_quote(&opts.ca().display().to_string())),
        format!("--tlscert={}", sh_quote(&opts.cert().display().to_string())),
        format!("--tlskey={}", sh_quote(&opts.key().display().to_string())),
    ];
    for h in opts.hosts() {
        f.push(format!("-H {}", sh_quote(&h)));
    }
    f
}

fn systemd(opts: &DaemonOptions) -> String {
    // Under systemd the unix socket comes from docker.socket (-H fd://).
    let mut f = vec!["-H fd://".to_string()];
    f.extend(
        flags(opts)
            .into_iter()
            .filter(|x| !(x.starts_with("-H ") && x.contains("unix://"))),
    );
    f.push("--containerd=/run/containerd/containerd.sock".into());
    let exec = f.iter().map(|x| systemd_escape(x)).collect::<Vec<_>>();
    format!(
        "# /etc/systemd/system/docker.service.d/override.conf\n\
         # The empty ExecStart= clears the packaged command line; without it systemd\n\
         # refuses a second ExecStart for a simple service.\n\
         # Do NOT also put \"hosts\" or tls* keys in /etc/docker/daemon.json: dockerd\n\
         # refuses to start when a setting is given both as a flag and in the file.\n\
         # Then: systemctl daemon-reload && systemctl restart docker\n\
         [Service]\n\
         ExecStart=\n\
         ExecStart=/usr/bin/dockerd {}\n",
        exec.join(" ")
    )
}

/// The `listen` lines: one per TCP host (2376 when none).
fn nginx_listens(opts: &DaemonOptions) -> String {
    let mut listens = String::new();
    for (host, port) in opts.tcp() {
        let l = match host.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() && ip.is_ipv4() => format!("{port}"),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        listens.push_str(&format!("    listen {l} ssl;\n"));
    }
    if listens.is_empty() {
        listens.push_str("    listen 2376 ssl;\n");
    }
    listens
}

/// The `ssl_crl` line under `--crl`, else nothing.
fn nginx_crl(f: &Front) -> String {
    match &f.crl {
        Some(p) => format!(
            "\x20   # Revoked client certificates (dctx pki crl -o FILE --reload 'nginx -s reload').\n\
             \x20   # Past the CRL's next update nginx refuses every client: re-issue before.\n\
             \x20   ssl_crl                 {};\n",
            nginx_quote(p)
        ),
        None => String::new(),
    }
}

/// Under a policy (`--allow` / `--read-only`): the maps, the refusing
/// guard in `location /` and the audit log's refusal field; else empty.
fn nginx_policy(f: &Front, ask: &str) -> (String, String, &'static str) {
    if !f.policy() {
        return (String::new(), String::new(), "");
    }
    (
        nginx_policy_maps(f),
        format!(
            "\x20       if ($dctx_refusal) {{\n\
             \x20           add_header X-Dctx-Subject $ssl_client_s_dn always;\n\
             \x20           return 403 '{{\"message\":\"dctx front: $dctx_refusal ({ask})\"}}';\n\
             \x20       }}\n"
        ),
        r#","refusal":"$dctx_refusal""#,
    )
}

fn nginx(opts: &DaemonOptions, server: &IssuedMeta) -> String {
    let listens = nginx_listens(opts);
    let names: Vec<&str> = server.names.iter().map(String::as_str).collect();
    let socket = opts.socket.display();
    let f = &opts.front;
    let crl = nginx_crl(f);
    let log = nginx_quote(
        f.access_log
            .as_deref()
            .unwrap_or(Path::new("/var/log/nginx/docker-tls-access.log")),
    );
    let ask = match &f.contact {
        Some(c) => format!("ask {c}"),
        None => "ask the administrator of this daemon".into(),
    };
    let (maps, guard, refusal_field) = nginx_policy(f, &ask);
    format!(
        "# nginx in front of the docker socket, client certificates required (dctx pki).\n\
         # Put this inside http {{ }} (e.g. /etc/nginx/conf.d/docker-tls.conf).\n\
         # The nginx worker user must be able to read and write {socket}:\n\
         # add it to the socket's group (usually `docker`: usermod -aG docker www-data)\n\
         # or run the workers as a user that already is. Anyone holding a client\n\
         # certificate signed by this CA{who} is root-equivalent on this host.\n\
         map $http_upgrade $dctx_connection_upgrade {{\n\
         \x20   default upgrade;\n\
         \x20   ''      close;\n\
         }}\n\
         # Per-person audit: who (certificate subject and serial) did what.\n\
         log_format dctx_audit escape=json '{{\"time\":\"$time_iso8601\",\"remote\":\"$remote_addr\",\
         \"subject\":\"$ssl_client_s_dn\",\"serial\":\"$ssl_client_serial\",\"verify\":\"$ssl_client_verify\",\
         \"request\":\"$request\",\"status\":$status{refusal_field}}}';\n\
         {maps}\
         upstream dctx_docker_socket {{\n\
         \x20   server unix:{socket};\n\
         }}\n\
         server {{\n\
         {listens}\
         \x20   server_name {names};\n\
         \n\
         \x20   ssl_certificate         {cert};\n\
         \x20   ssl_certificate_key     {key};\n\
         \x20   ssl_client_certificate  {ca};\n\
         \x20   ssl_verify_client       on;\n\
         \x20   ssl_verify_depth        1;\n\
         \x20   ssl_protocols           TLSv1.2 TLSv1.3;\n\
         {crl}\
         \x20   access_log              {log} dctx_audit;\n\
         \n\
         \x20   # Refusals are Docker-style JSON errors, which the docker CLI prints.\n\
         \x20   default_type            application/json;\n\
         \x20   error_page 495 = @dctx_cert_refused;\n\
         \x20   location @dctx_cert_refused {{\n\
         \x20       return 403 '{{\"message\":\"dctx front: client certificate refused: $ssl_client_verify ({ask})\"}}';\n\
         \x20   }}\n\
         \n\
         \x20   # docker build / load / push stream large bodies; logs -f and events stay open.\n\
         \x20   client_max_body_size    0;\n\
         \x20   proxy_request_buffering off;\n\
         \x20   proxy_buffering         off;\n\
         \x20   proxy_read_timeout      1h;\n\
         \x20   proxy_send_timeout      1h;\n\
         \n\
         \x20   location / {{\n\
         {guard}\
         \x20       proxy_pass http://dctx_docker_socket;\n\
         \x20       proxy_http_version 1.1;\n\
         \x20       proxy_set_header Host $host;\n\
         \x20       # docker attach / exec hijack the connection with Upgrade: tcp\n\
         \x20       proxy_set_header Upgrade $http_upgrade;\n\
         \x20       proxy_set_header Connection $dctx_connection_upgrade;\n\
         \x20   }}\n\
         }}\n",
        who = if f.policy() { " and allowed below" } else { "" },
        names = names.join(" "),
        cert = nginx_quote(&opts.cert()),
        key = nginx_quote(&opts.key()),
        ca = nginx_quote(&opts.ca()),
    )
}

/// `"…"` for an nginx map key or value.
fn nginx_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The maps behind `--allow` / `--read-only`: the caller's role from the
/// verified subject, whether the request is a read route (the allowlist of
/// `routes`, the one `dctx proxy --read-only` uses), and the refusal text.
fn nginx_policy_maps(f: &Front) -> String {
    let mut roles = String::new();
    for (list, role) in [(&f.allow, "full"), (&f.read_only, "read")] {
        for who in list {
            // Validated by the caller (front_subject); a bad one never renders.
            if let Ok(dn) = front_subject(who) {
                roles.push_str(&format!("    {:<30} {role};\n", nginx_string(&dn)));
            }
        }
    }
    let mut reads = String::new();
    for (method, re) in crate::routes::read_only_rules() {
        let re = re.strip_prefix('^').unwrap_or(&re);
        reads.push_str(&format!(
            "    {} 1;\n",
            nginx_string(&format!("~^{method} {re}"))
        ));
    }
    format!(
        "# Who gets in, by the subject nginx verified ($ssl_client_s_dn, RFC 2253).\n\
         map $ssl_client_s_dn $dctx_role {{\n\
         \x20   default                        none;\n\
         {roles}\
         }}\n\
         # Read routes: the allowlist `dctx proxy --read-only` uses, in every\n\
         # version form dockerd routes (/v1.41/, /v1.41.0/, /v1.41./, none).\n\
         map \"$request_method $uri\" $dctx_read_route {{\n\
         \x20   default 0;\n\
         {reads}\
         }}\n\
         # Read-only callers get no upgrade of any kind (attach, exec, websocket, h2c).\n\
         map $http_upgrade $dctx_upgrade {{\n\
         \x20   default 1;\n\
         \x20   \"\"      0;\n\
         }}\n\
         map $http_connection $dctx_connection {{\n\
         \x20   default     0;\n\
         \x20   \"~*upgrade\" 1;\n\
         }}\n\
         # A path nginx had to decode or normalise (%, //, /./, /../, #) is refused\n\
         # to read-only callers: dockerd then routes exactly the path judged above.\n\
         map $request_uri $dctx_raw_path {{\n\
         \x20   default               plain;\n\
         \x20   \"~^[^?]*(%|//|/\\.|#)\" odd;\n\
         }}\n\
         map \"$dctx_role:$dctx_read_route:$dctx_upgrade$dctx_connection:$dctx_raw_path\" $dctx_refusal {{\n\
         \x20   default            \"read-only access, only reads pass\";\n\
         \x20   \"~^full:\"          \"\";\n\
         \x20   \"read:1:00:plain\"  \"\";\n\
         \x20   \"~^none:\"          \"this client certificate is not allowed here\";\n\
         }}\n"
    )
}

/// What to do with the files, printed next to the rendering (on stderr).
/// `source`: the directory `dctx pki server --out` wrote, if known.
pub fn instructions(format: Format, opts: &DaemonOptions, source: Option<&Path>) -> String {
    let src = |f: &str| match source {
        Some(d) => sh_quote(&d.join(f).display().to_string()),
        None => f.to_string(),
    };
    let mut s = format!(
        "Copy the server files (from `dctx pki server --out`) to the daemon host, with these modes:\n\
         \x20 install -d -m 0700 {dir_q}\n\
         \x20 install -m 0644 {sca} {ca}\n\
         \x20 install -m 0644 {scert} {cert}\n\
         \x20 install -m 0600 {skey} {key}   # root-owned, never world-readable\n",
        dir_q = sh_quote(&opts.cert_dir.display().to_string()),
        sca = src("ca.pem"),
        scert = src("server-cert.pem"),
        skey = src("server-key.pem"),
        ca = sh_quote(&opts.ca().display().to_string()),
        cert = sh_quote(&opts.cert().display().to_string()),
        key = sh_quote(&opts.key().display().to_string()),
    );
    match format {
        Format::DaemonJson => s.push_str(
            "Save the JSON as /etc/docker/daemon.json (0644) and restart docker.\n\
             systemd caveat: the packaged docker.service starts `dockerd -H fd://`; with \"hosts\" in\n\
             daemon.json dockerd refuses to start (\"directives are specified both as a flag and in the\n\
             configuration file\"). Clear the flag with a drop-in containing an empty `ExecStart=` and\n\
             `ExecStart=/usr/bin/dockerd --containerd=/run/containerd/containerd.sock`\n\
             (or use --format systemd instead of daemon.json).\n",
        ),
        Format::Systemd => s.push_str(
            "Save it as /etc/systemd/system/docker.service.d/override.conf (0644), then\n\
             systemctl daemon-reload && systemctl restart docker\n",
        ),
        Format::Flags => s.push_str(
            "Pass the flags to dockerd (and keep hosts/tls* out of daemon.json: a setting may not be given twice).\n",
        ),
        Format::Nginx => s.push_str(&format!(
            "Save the block as /etc/nginx/conf.d/docker-tls.conf (0644; nginx's master process reads the\n\
             0600 key as root), make sure the nginx worker user can use {} (docker group),\n\
             then nginx -t && systemctl reload nginx.\n\
             dockerd itself needs no TCP listener in this layout.\n",
            opts.socket.display()
        )),
    }
    if let (Format::Nginx, Some(crl)) = (format, &opts.front.crl) {
        let crl = sh_quote(&crl.display().to_string());
        s.push_str(&format!(
            "Write the CRL before nginx starts (it refuses to start without it): dctx pki crl -o {crl}\n\
             Past the CRL's next update nginx refuses every client: re-issue it before then, e.g. daily from cron:\n\
             \x20 dctx pki crl -o {crl} --reload 'nginx -s reload'\n"
        ));
    }
    s
}

/// A host entry for hints.
pub fn host_names(hosts: &[Host]) -> String {
    hosts
        .iter()
        .map(Host::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@,+%".contains(c))
    {
        s.to_string()
    } else {
        crate::shell::posix_quote(s)
    }
}

/// systemd ExecStart= words: quote with double quotes when needed.
fn systemd_escape(word: &str) -> String {
    // Words from `flags` are already shell-quoted with '…'; systemd understands
    // single quotes too, so they pass through. Escape % (specifier) only.
    word.replace('%', "%%")
}

fn nginx_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .any(|c| c.is_whitespace() || c == ';' || c == '"' || c == '\'' || c == '{' || c == '}')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen() {
        assert_eq!(
            parse_listen("tcp://0.0.0.0:2376").unwrap(),
            Endpoint::Tcp {
                host: "0.0.0.0".into(),
                port: Some(2376)
            }
        );
        let url = |s: &str| parse_listen(s).unwrap().to_string();
        assert_eq!(url("tcp://[::]:1"), "tcp://[::]:1");
        assert_eq!(url("tcp://h"), "tcp://h:2376");
        assert_eq!(url("tcp://:9"), "tcp://0.0.0.0:9");
        assert_eq!(url("unix:///run/d.sock"), "unix:///run/d.sock");
        assert!(parse_listen("ssh://h").is_err());
        assert!(parse_listen("https://h:2376").is_err());
        assert!(parse_listen("h:2376").is_err());
        assert!(parse_listen("tcp://h:0").is_err());
    }

    fn opts() -> DaemonOptions {
        DaemonOptions {
            listen: vec![parse_listen("tcp://0.0.0.0:2376").unwrap()],
            cert_dir: "/etc/docker/certs".into(),
            socket: "/var/run/docker.sock".into(),
            front: Front::default(),
        }
    }

    #[test]
    fn daemon_json_merge_keeps_other_keys_verbatim() {
        let old = r#"{"data-root": "/srv/docker", "tlscert": "/old.pem",
            "default-shm-size": 12345678901234567890123, "mtu": 1.50,
            "log-opts": {"max-size": "10m"}, "tlscert": "/dup.pem"}"#;
        let m = merge_daemon_json(old, &opts()).unwrap();
        let keys: Vec<_> = m
            .lines()
            .filter_map(|l| l.trim().split('"').nth(1))
            .collect();
        assert_eq!(
            keys,
            [
                "data-root",
                "tlscert",
                "default-shm-size",
                "mtu",
                "log-opts",
                "tls",
                "tlsverify",
                "tlscacert",
                "tlskey",
                "hosts"
            ]
        );
        assert!(
            m.contains("\"default-shm-size\": 12345678901234567890123,"),
            "{m}"
        );
        assert!(m.contains("\"mtu\": 1.50,"), "{m}");
        assert!(m.contains(r#""log-opts": {"max-size": "10m"}"#), "{m}");
        assert!(
            m.contains(r#""tlscert": "/etc/docker/certs/server-cert.pem""#),
            "{m}"
        );
        assert!(!m.contains("/dup.pem") && !m.contains("/old.pem"), "{m}");
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["tlsverify"], true);
        let from_empty: serde_json::Value =
            serde_json::from_str(&merge_daemon_json(" \n", &opts()).unwrap()).unwrap();
        assert_eq!(from_empty, daemon_json_value(&opts()));
        for bad in ["{", "[1]", "{\"a\": }", "{} x", "null"] {
            assert!(merge_daemon_json(bad, &opts()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn front_subjects() {
        assert_eq!(front_subject("alice").unwrap(), "CN=alice");
        assert_eq!(front_subject("a+b,c").unwrap(), "CN=a\\+b\\,c");
        assert_eq!(front_subject(" x ").unwrap(), "CN=\\ x\\ ");
        assert_eq!(front_subject("CN=x,O=Acme").unwrap(), "CN=x,O=Acme");
        for bad in ["", "a\"b", "x;y", "$x", "a{b", "é", "a\nb"] {
            assert!(front_subject(bad).is_err(), "{bad:?}");
        }
    }

    fn server() -> IssuedMeta {
        IssuedMeta {
            name: "server".into(),
            kind: crate::pki::issue::Kind::Server,
            names: vec!["127.0.0.1".into()],
            key_type: crate::pki::issue::KeyType::EcdsaP256,
            serial: "01".into(),
            not_before: 0,
            not_after: 1,
            days: 1,
            sha256: String::new(),
            issued: 0,
            out: None,
        }
    }

    #[test]
    fn nginx_policy_comes_from_the_route_table() {
        let plain = render(Format::Nginx, &opts(), &server());
        assert!(
            !plain.contains("$dctx_refusal") && !plain.contains("ssl_crl"),
            "{plain}"
        );
        let mut o = opts();
        o.front = Front {
            crl: Some("/etc/nginx/crl.pem".into()),
            allow: vec!["CN=alice".into()],
            read_only: vec!["CN=bob".into()],
            access_log: None,
            contact: None,
        };
        let t = render(Format::Nginx, &o, &server());
        assert!(
            t.contains("    ssl_crl                 /etc/nginx/crl.pem;\n"),
            "{t}"
        );
        assert!(t.contains("\"CN=alice\"                     full;"), "{t}");
        assert!(t.contains("\"CN=bob\"                       read;"), "{t}");
        let rules: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("    \"~^") && l.ends_with("\" 1;"))
            .collect();
        assert_eq!(rules.len(), crate::routes::read_only_rules().len(), "{t}");
        assert!(
            rules
                .iter()
                .all(|l| l.starts_with("    \"~^GET ") || l.starts_with("    \"~^HEAD ")),
            "{rules:#?}"
        );
        assert!(
            t.contains("\"~^GET (?:/v[0-9.]+)?/containers/json$\" 1;"),
            "{t}"
        );
    }

    #[test]
    fn systemd_merge_replaces_only_exec_start() {
        let old = "[Unit]\nAfter=x.service\n[Service]\nEnvironment=HTTP_PROXY=http://p:3128\n\
                   ExecStart=\nExecStart=/usr/bin/dockerd -H fd:// \\\n  --old-flag\nLimitNOFILE=1048576\n";
        let m = merge_systemd(old, &opts());
        assert!(
            m.starts_with(
                "[Unit]\nAfter=x.service\n[Service]\nEnvironment=HTTP_PROXY=http://p:3128\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// --tlsverify"
            ),
            "{m}"
        );
        assert!(m.ends_with("containerd.sock\nLimitNOFILE=1048576\n"), "{m}");
        assert!(!m.contains("--old-flag"), "{m}");
        assert_eq!(m.matches("ExecStart=").count(), 2, "{m}");
        // No [Service] section yet: one is added.
        let m = merge_systemd("[Unit]\nAfter=x.service\n", &opts());
        assert!(
            m.starts_with("[Unit]\nAfter=x.service\n[Service]\nExecStart=\n"),
            "{m}"
        );
    }
}
