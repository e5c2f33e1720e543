//! ssh:// endpoints, probed the way the docker CLI connects: the system
//! `ssh` client (so ~/.ssh/config, the agent and known_hosts apply) runs
//! `docker system dial-stdio` on the remote host, and the Docker API is
//! spoken over the child's stdin/stdout.
//!
//! ssh runs with `-v`: its log on stderr says how far it got (resolved,
//! connected, host key, authenticated, command sent). That drives the doctor
//! steps live, so a deadline hit still shows the layer it was stuck in, and
//! when the session ends early it says which finding applies. The child is
//! killed and reaped when the probe ends, also when the deadline cancels it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::ChildStderr;
use tokio::sync::mpsc::UnboundedSender;

use super::api;
use super::diagnose::{self, Ctx};
use super::finding::{Code, Finding, Phase};
use super::record::{PhaseCell, Recorder};
use super::report::{Step, StepKind, StepState};
use crate::conn::Target;
use crate::conn::ssh::{self, Dest};
use crate::conn::tls::Observations;

/// What ssh's stderr said so far.
#[derive(Debug, Default)]
struct Log {
    /// Every line (capped), for quoting.
    lines: Vec<String>,
    bytes: usize,
    /// "Authenticating to H:P as 'U'".
    user: Option<String>,
    /// (ip, port) of the last "Connecting to H [IP] port P."
    peer: Option<(String, String)>,
    /// "ssh-ed25519 SHA256:…", the key the server presented.
    server_key: Option<String>,
    key_matches: bool,
    host_key_done: bool,
    /// Identities tried, as ssh names them (path, type, fingerprint).
    offered: Vec<String>,
    accepted: Option<String>,
    authenticated: bool,
    command_sent: bool,
    exit_status: Option<i32>,
}

/// Progress worth a doctor step.
#[derive(Debug, PartialEq)]
enum Event {
    Resolved(String),
    Connected(String),
    HostKeyOk(String),
    Authenticated(String),
    CommandSent,
}

const MAX_LOG: usize = 64 * 1024;

impl Log {
    fn observe(&mut self, line: &str) -> Vec<Event> {
        if self.bytes < MAX_LOG {
            self.bytes += line.len();
            self.lines.push(line.to_string());
        }
        let mut ev = Vec::new();
        if let Some(rest) = line.strip_prefix("debug1: ") {
            if let Some(r) = rest.strip_prefix("Connecting to ")
                && let Some((host, r)) = r.split_once(" [")
                && let Some((ip, r)) = r.split_once("] port ")
            {
                let port = r.trim_end_matches('.').to_string();
                ev.push(Event::Resolved(if host == ip {
                    format!("{ip} is an IP address")
                } else {
                    format!("{host} → {ip} (resolved by ssh)")
                }));
                self.peer = Some((ip.to_string(), port));
            } else if rest.starts_with("Connection established") {
                let to = match &self.peer {
                    Some((ip, port)) => format!(" to {ip} port {port}"),
                    None => String::new(),
                };
                ev.push(Event::Connected(format!("ssh connected{to}")));
            } else if let Some(r) = rest.strip_prefix("Authenticating to ")
                && let Some((_, u)) = r.rsplit_once(" as '")
            {
                self.user = Some(u.trim_end_matches('\'').to_string());
            } else if let Some(k) = rest.strip_prefix("Server host key: ") {
                self.server_key = Some(k.trim().to_string());
            } else if rest.starts_with("Host '") && rest.contains("is known and matches") {
                self.key_matches = true;
            } else if let Some(at) = rest.strip_prefix("Found key in ")
                && self.key_matches
                && !self.host_key_done
            {
                self.host_key_done = true;
                ev.push(Event::HostKeyOk(format!(
                    "{} matches {}",
                    self.server_key.as_deref().unwrap_or("the host key"),
                    at.trim()
                )));
            } else if let Some(k) = rest
                .strip_prefix("Offering public key: ")
                .or_else(|| rest.strip_prefix("Trying private key: "))
            {
                self.offered.push(k.trim().to_string());
            } else if let Some(k) = rest.strip_prefix("Server accepts key: ") {
                self.accepted = Some(k.trim().to_string());
            } else if let Some(r) = rest.strip_prefix("Authentication succeeded (") {
                ev.extend(self.authenticated(r.trim_end_matches(['.', ')'])));
            } else if rest.starts_with("Sending command: ") {
                self.command_sent = true;
                ev.push(Event::CommandSent);
            } else if let Some(n) = rest.strip_prefix("Exit status ") {
                self.exit_status = n.trim().parse().ok();
            }
        } else if let Some(r) = line.strip_prefix("Authenticated to ")
            && let Some((_, method)) = r.split_once(" using \"")
        {
            ev.extend(self.authenticated(method.trim_end_matches(['.', '"'])));
        }
        ev
    }

    fn authenticated(&mut self, method: &str) -> Vec<Event> {
        if self.authenticated {
            return Vec::new();
        }
        self.authenticated = true;
        let mut ev = Vec::new();
        if !self.host_key_done {
            // StrictHostKeyChecking no / accept-new: ssh went on regardless.
            self.host_key_done = true;
            ev.push(Event::HostKeyOk(format!(
                "{} accepted by ssh",
                self.server_key.as_deref().unwrap_or("the host key")
            )));
        }
        let key = match &self.accepted {
            Some(k) => format!(
                " with {}",
                k.trim_end_matches(" explicit").trim_end_matches(" agent")
            ),
            None => String::new(),
        };
        let user = self.user.as_deref().unwrap_or("the user");
        ev.push(Event::Authenticated(format!(
            "{user} logged in by {method}{key}"
        )));
        ev
    }

    /// ssh's own words: the lines that are not debug chatter, joined.
    fn quote(&self, keep: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        for l in &self.lines {
            let l = l.trim();
            let noise = l.is_empty()
                || l.starts_with("debug")
                || l.starts_with("OpenSSH_")
                || l.starts_with("Transferred: ")
                || l.starts_with("Bytes per second")
                || l.starts_with('@');
            if noise || !keep(l) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(" / ");
            }
            out.push_str(l);
            if out.len() > 600 {
                let mut cut = 600;
                while !out.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.truncate(cut);
                out.push('…');
                break;
            }
        }
        out
    }

    fn has(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.contains(needle))
    }

    /// Remote lines (after the command was sent) containing `needle`.
    fn remote_has(&self, needle: &str) -> bool {
        self.lines
            .iter()
            .skip_while(|l| !l.starts_with("debug1: Sending command"))
            .any(|l| l.contains(needle))
    }
}

/// Why the session ended, from ssh's log and exit status: the step that
/// failed, ssh's words for its detail, and the finding. None when ssh's log
/// explains nothing (the API error is reported instead).
fn classify(log: &Log, d: &Dest, exit: Option<i32>, secs: f64) -> Option<Verdict> {
    let f = Facts::new(log, d, secs);
    let local = [
        resolve,
        host_key_changed,
        host_key_unknown,
        auth_refused,
        connect_failed,
    ];
    if let Some(v) = local.iter().find_map(|rule| rule(&f)) {
        return Some(v);
    }
    if log.command_sent || log.authenticated {
        return remote_failed(&f, exit);
    }
    unexplained(&f, exit)
}

/// A step, its detail (ssh's own words), and the finding.
type Verdict = (StepKind, String, Finding);

const HOST_FP_CMD: &str = "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host";

/// What every rule quotes: ssh's log, and the names it used.
struct Facts<'a> {
    log: &'a Log,
    d: &'a Dest,
    secs: f64,
    /// The whole log, quoted.
    all: String,
    login: String,
    user: String,
    /// The key the server presented, and its fingerprint.
    key: String,
    fp: String,
    port: String,
}

impl<'a> Facts<'a> {
    fn new(log: &'a Log, d: &'a Dest, secs: f64) -> Self {
        let login = match (&d.user, &log.user) {
            (Some(u), _) | (None, Some(u)) => format!("{u}@{}", d.host),
            _ => d.host.clone(),
        };
        let user = log
            .user
            .clone()
            .or(d.user.clone())
            .unwrap_or_else(|| "USER".into());
        let key = log
            .server_key
            .as_deref()
            .unwrap_or("(not shown)")
            .to_string();
        let fp = key.split_whitespace().last().unwrap_or(&key).to_string();
        let port = d
            .port
            .map(|p| p.to_string())
            .or_else(|| log.peer.as_ref().map(|(_, p)| p.clone()))
            .unwrap_or_else(|| "22".into());
        Facts {
            log,
            d,
            secs,
            all: log.quote(|_| true),
            login,
            user,
            key,
            fp,
            port,
        }
    }

    /// `what`, with ssh's own words after it.
    fn said(&self, what: String) -> String {
        if self.all.is_empty() {
            what
        } else if self.all.starts_with("ssh: ") {
            format!("{what} ({})", self.all)
        } else {
            format!("{what} (ssh: {})", self.all)
        }
    }
}

fn resolve(f: &Facts) -> Option<Verdict> {
    if f.log.has("Could not resolve hostname") {
        return Some((
            StepKind::Resolve,
            f.all.clone(),
            Finding::error(
                Code::DnsFailure,
                f.said(format!("ssh cannot resolve {}", f.d.host)),
                format!(
                    "check the spelling, your DNS (`getent hosts {h}`) and any HostName for it in ~/.ssh/config (`ssh -G {h} | grep ^hostname`)",
                    h = f.d.host
                ),
            ),
        ));
    }
    None
}

fn host_key_changed(f: &Facts) -> Option<Verdict> {
    let key = &f.key;
    let fp = &f.fp;
    let host_fp_cmd = HOST_FP_CMD;
    if f.log.has("REMOTE HOST IDENTIFICATION HAS CHANGED") || f.log.has("has changed and you have")
    {
        let detail = f
            .log
            .quote(|l| l.contains("has changed") || l.starts_with("Offending"));
        let offending = f
            .log
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("Offending "))
            .and_then(|r| r.split_once(" key in "))
            .map(|(_, at)| at.trim().to_string())
            .unwrap_or_else(|| "known_hosts".into());
        return Some((
            StepKind::SshHandshake,
            detail,
            Finding::error(
                Code::SshHostKeyChanged,
                format!(
                    "WARNING: the host key of {} has CHANGED: the server now presents {key}, not the key recorded in {offending}. Someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled",
                    f.d.known_name()
                ),
                format!(
                    "do not accept the new key blindly: confirm {fp} with the host's administrator over another channel ({host_fp_cmd}); only if it matches, replace the stale entry at {offending}"
                ),
            ),
        ));
    }
    None
}

fn host_key_unknown(f: &Facts) -> Option<Verdict> {
    let key = &f.key;
    let fp = &f.fp;
    let port = &f.port;
    let host_fp_cmd = HOST_FP_CMD;
    if f.log.has("Host key verification failed") || f.log.has("host key is known for") {
        return Some((
            StepKind::SshHandshake,
            f.all.clone(),
            Finding::error(
                Code::SshHostKeyUnknown,
                format!(
                    "the host key of {} is not in known_hosts (the server presents {key}); ssh in batch mode, as dctx and the docker CLI run it, cannot ask you to accept it",
                    f.d.known_name()
                ),
                format!(
                    "check that {fp} is the host's key ({host_fp_cmd}), then: `ssh-keyscan -p {port} {h} >> ~/.ssh/known_hosts`",
                    h = f.d.host
                ),
            ),
        ));
    }
    None
}

fn auth_refused(f: &Facts) -> Option<Verdict> {
    let login = &f.login;
    let user = &f.user;
    if f.log.has("Permission denied (") || f.log.has("Too many authentication failures") {
        let offered = if f.log.offered.is_empty() {
            "no key was offered (none in ~/.ssh, the agent or an IdentityFile)".to_string()
        } else {
            format!("keys offered: {}", f.log.offered.join("; "))
        };
        return Some((
            StepKind::SshAuth,
            f.all.clone(),
            Finding::error(
                Code::SshAuthRefused,
                format!("{login} refused the authentication; {offered}"),
                format!(
                    "authorize your public key for {user} on the host: `ssh-copy-id {}{}` (or append it to ~{user}/.ssh/authorized_keys there), or set the right IdentityFile for the host in ~/.ssh/config",
                    f.d.port_flag("-p"),
                    f.d.login()
                ),
            ),
        ));
    }
    None
}

fn connect_failed(f: &Facts) -> Option<Verdict> {
    let port = &f.port;
    if let Some(l) = f
        .log
        .lines
        .iter()
        .find(|l| l.starts_with("ssh: connect to host"))
    {
        let step = StepKind::Connect;
        if l.contains("Connection refused") {
            return Some((
                step,
                f.all.clone(),
                Finding::error(
                    Code::ConnectionRefused,
                    format!(
                        "{} refused the connection: no sshd listens on port {port}",
                        f.d.host
                    ),
                    format!(
                        "start sshd on the host (`systemctl start ssh`), check the port (ssh://{}:PORT) or a firewall that rejects it",
                        f.d.login()
                    ),
                ),
            ));
        }
        if l.contains("timed out") {
            let mut t = timeout(Phase::Connect, f.secs);
            t.message = f.said("ssh gave up connecting (ConnectTimeout)".into());
            return Some((step, f.all.clone(), t));
        }
        return Some((
            step,
            f.all.clone(),
            Finding::error(
                Code::ConnectFailed,
                f.said(format!("ssh cannot connect to {}", f.d.host)),
                "check the network path to the host (routing, firewall, VPN)",
            ),
        ));
    }
    if f.log.has("timed out during banner exchange") {
        let mut t = timeout(Phase::SshHandshake, f.secs);
        t.message = f.said("ssh gave up waiting for the server's greeting (ConnectTimeout)".into());
        return Some((StepKind::SshHandshake, f.all.clone(), t));
    }
    None
}

/// The session was up: the remote side failed. Every rule quotes the
/// remote side's words (the `dial-stdio` step's detail).
fn remote_failed(f: &Facts, exit: Option<i32>) -> Option<Verdict> {
    let remote = f.log.quote(|l| !l.starts_with("Authenticated to "));
    let code = exit.or(f.log.exit_status);
    let rules: [RemoteRule; 5] = [
        no_remote_docker,
        no_dial_stdio,
        socket_denied,
        no_remote_daemon,
        remote_exit,
    ];
    let finding = rules.iter().find_map(|rule| rule(f, &remote, code))?;
    Some((StepKind::DialStdio, remote, finding))
}

/// A remote-side rule: the log, ssh's quote of the remote side, its exit code.
type RemoteRule = fn(&Facts, &str, Option<i32>) -> Option<Finding>;

fn no_remote_docker(f: &Facts, _: &str, code: Option<i32>) -> Option<Finding> {
    let found = code == Some(127)
        || f.log.remote_has("docker: command not found")
        || f.log.remote_has("docker: not found");
    found.then(|| {
        Finding::error(
            Code::SshNoDocker,
            format!("there is no `docker` on the PATH of {}'s ssh sessions", f.login),
            format!(
                "install the docker CLI on the host, or put it on the PATH non-interactive ssh sessions get (`ssh {}{} command -v docker` must print it)",
                f.d.port_flag("-p"),
                f.d.login()
            ),
        )
    })
}

fn no_dial_stdio(f: &Facts, _: &str, _: Option<i32>) -> Option<Finding> {
    let found = f.log.remote_has("dial-stdio")
        && (f.log.remote_has("not a docker command")
            || f.log.remote_has("unknown command")
            || f.log.remote_has("unrecognized command"));
    found.then(|| {
        Finding::error(
            Code::SshDialStdioUnsupported,
            format!(
                "the docker CLI on {} has no `docker system dial-stdio` (Docker older than 18.09)",
                f.d.host
            ),
            "upgrade Docker on the host to 18.09 or later (the docker CLI's own ssh:// needs it too)",
        )
    })
}

fn socket_denied(f: &Facts, _: &str, _: Option<i32>) -> Option<Finding> {
    let found = f.log.remote_has("connect: permission denied")
        || f.log
            .remote_has("permission denied while trying to connect");
    let user = &f.user;
    found.then(|| {
        Finding::error(
            Code::SshSocketDenied,
            format!("{user} on {} may not open the Docker daemon socket", f.d.host),
            format!(
                "on the host: `sudo usermod -aG docker {user}` (then a new ssh login; docker group members are root-equivalent), or connect as a user who may"
            ),
        )
    })
}

fn no_remote_daemon(f: &Facts, _: &str, _: Option<i32>) -> Option<Finding> {
    let found = f.log.remote_has("connect: no such file or directory")
        || f.log.remote_has("connect: connection refused")
        || f.log.remote_has("Cannot connect to the Docker daemon");
    found.then(|| {
        Finding::error(
            Code::SshDaemonNotRunning,
            format!(
                "the remote docker finds no daemon behind its socket on {}: dockerd is not running there (or DOCKER_HOST points elsewhere)",
                f.d.host
            ),
            "start the daemon on the host (`sudo systemctl start docker`); check which socket the remote docker dials (quoted above)",
        )
    })
}

fn remote_exit(f: &Facts, remote: &str, code: Option<i32>) -> Option<Finding> {
    let code = code.filter(|c| f.log.command_sent && *c != 0)?;
    Some(Finding::error(
        Code::SshError,
        format!("the remote `docker system dial-stdio` failed (exit status {code}): {remote}"),
        format!(
            "run it by hand to see why: `ssh {}{} docker system dial-stdio`",
            f.d.port_flag("-p"),
            f.d.login()
        ),
    ))
}

/// ssh failed before authenticating, for a reason no rule names.
fn unexplained(f: &Facts, exit: Option<i32>) -> Option<Verdict> {
    let all = &f.all;
    // ssh failed before authenticating, for a reason not matched above.
    if exit == Some(255) || !f.all.is_empty() {
        return Some((
            StepKind::SshHandshake,
            f.all.clone(),
            Finding::error(
                Code::SshError,
                if f.all.is_empty() {
                    "ssh failed without saying why".to_string()
                } else {
                    format!("ssh failed: {all}")
                },
                format!(
                    "run ssh by hand to see more: `ssh -v {}{} docker version`",
                    f.d.port_flag("-p"),
                    f.d.login()
                ),
            ),
        ));
    }
    None
}

/// A `timeout` finding worded for ssh.
pub fn timeout(phase: Phase, secs: f64) -> Finding {
    let mut f = Finding::timeout(phase, secs);
    let (what, fix) = match phase {
        Phase::Resolve => (
            "while ssh resolved the host name",
            "check the DNS server (`getent hosts <host>`) and the host's HostName in ~/.ssh/config",
        ),
        Phase::Connect => (
            "while ssh connected (no TCP answer: a firewall silently dropping packets, or the host is down)",
            "check that the host is up and that a firewall allows the ssh port (`nc -vz <host> <port>`)",
        ),
        Phase::Handshake | Phase::SshHandshake => (
            "during the ssh handshake (the peer accepted the connection but never completed key exchange and authentication)",
            "something that is not an sshd holds the port, or sshd is overloaded (MaxStartups); check what listens there (`ss -ltnp` on the host)",
        ),
        Phase::Response => (
            "waiting for the remote `docker system dial-stdio` and the daemon behind it (ssh itself was done)",
            "the daemon on the host does not answer; check `journalctl -u docker` there, or raise --timeout",
        ),
    };
    f.message = format!("no answer within {secs} s: timed out {what}");
    f.fix = fix.into();
    f
}

/// The step a deadline hit in `phase` belongs to.
pub fn timeout_step(phase: Phase, rec: &mut Recorder) -> StepKind {
    let has = |k: StepKind| rec.has_step(k);
    match phase {
        Phase::Resolve => StepKind::Resolve,
        Phase::Connect => StepKind::Connect,
        Phase::Handshake | Phase::SshHandshake if has(StepKind::SshHandshake) => StepKind::SshAuth,
        Phase::Handshake | Phase::SshHandshake => StepKind::SshHandshake,
        Phase::Response => [
            StepKind::DialStdio,
            StepKind::Ping,
            StepKind::Version,
            StepKind::Info,
        ]
        .into_iter()
        .find(|k| !has(*k))
        .unwrap_or(StepKind::Info),
    }
}

/// Read ssh's log as it comes: each event is a step for the recorder (sent
/// over `steps`) and moves the phase a deadline would report.
async fn read_stderr(
    err: ChildStderr,
    log: Arc<Mutex<Log>>,
    steps: UnboundedSender<Step>,
    phase: PhaseCell,
) {
    let mut r = BufReader::new(err);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Bounded lines: the remote side may print anything.
        match (&mut r).take(8192).read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let events = log
            .lock()
            .unwrap()
            .observe(line.trim_end_matches(['\r', '\n']));
        for ev in events {
            match ev {
                Event::Resolved(d) => {
                    let _ = steps.send(Step::new(StepKind::Resolve, StepState::Ok, d));
                    phase.set(Phase::Connect);
                }
                Event::Connected(d) => {
                    let _ = steps.send(Step::new(StepKind::Connect, StepState::Ok, d));
                    phase.set(Phase::SshHandshake);
                }
                Event::HostKeyOk(d) => {
                    let _ = steps.send(Step::new(StepKind::SshHandshake, StepState::Ok, d));
                }
                Event::Authenticated(d) => {
                    let _ = steps.send(Step::new(StepKind::SshAuth, StepState::Ok, d));
                    phase.set(Phase::Response);
                }
                Event::CommandSent => phase.set(Phase::Response),
            }
        }
    }
}

/// Probe an ssh:// target: ssh, dial-stdio, then the API calls on that stream.
pub async fn probe(t: &Target, rec: &mut Recorder, d: Dest, timeout: Duration, now: i64) {
    let started = Instant::now();
    let port = d.port.unwrap_or(22);
    let ctx = Ctx::no_tls(&t.name, &d.host, port, now, timeout.as_secs_f64());
    rec.step(Step::new(
        StepKind::Profile,
        StepState::Ok,
        format!(
            "ssh {}{} docker system dial-stdio (the system ssh client, as the docker CLI runs it)",
            d.port_flag("-p"),
            d.login()
        ),
    ));
    let session = match ssh::spawn(&d, timeout) {
        Ok(c) => c,
        Err(e) => return no_client(rec, e),
    };
    let mut child = session.child;
    let log = Arc::new(Mutex::new(Log::default()));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    rec.attach(rx);
    let reader = tokio::spawn(read_stderr(
        session.stderr,
        log.clone(),
        tx,
        rec.phase.clone(),
    ));
    // Dropping the client closes our end of the stream: dial-stdio ends, then ssh.
    let docker = crate::conn::docker::over_stream(session.stream, "docker", timeout);
    let grace = || {
        timeout
            .saturating_sub(started.elapsed())
            .saturating_sub(Duration::from_millis(100))
            .min(Duration::from_secs(2))
    };

    let t0 = Instant::now();
    let first = docker.ping().await;
    let first_ms = t0.elapsed().as_millis() as u64;
    if let Err(e) = first {
        drop(docker);
        let status = tokio::time::timeout(grace(), child.0.wait()).await;
        let exit = status.ok().and_then(|s| s.ok()).and_then(|s| s.code());
        drop(child);
        let _ = tokio::time::timeout(grace(), reader).await;
        let verdict = classify(&log.lock().unwrap(), &d, exit, ctx.timeout_secs);
        // ssh's own steps first: a failure replaces the step it failed.
        rec.drain();
        session_failed(rec, verdict, &e, &ctx);
        return;
    }
    rec.step(Step::new(
        StepKind::DialStdio,
        StepState::Ok,
        format!("the remote `docker system dial-stdio` answered GET /_ping in {first_ms} ms (ssh login included)"),
    ));
    let obs = Observations::default();
    if api::calls_with(rec, &docker, &ctx, &obs, None).await {
        // Like a TLS probe's: the first answer on a fresh connection.
        rec.latency(first_ms);
    }
    drop(docker);
    let _ = tokio::time::timeout(grace(), child.0.wait()).await;
    drop(child);
    let _ = tokio::time::timeout(grace(), reader).await;
}

/// ssh cannot be started.
fn no_client(rec: &mut Recorder, e: std::io::Error) {
    let msg = if e.kind() == std::io::ErrorKind::NotFound {
        "there is no `ssh` client on this machine's PATH".to_string()
    } else {
        format!("cannot start ssh: {e}")
    };
    rec.step(Step::new(StepKind::Profile, StepState::Fail, msg.clone()));
    rec.push(Finding::error(
        Code::SshClientMissing,
        msg,
        "install the OpenSSH client (`apt install openssh-client`, `dnf install openssh-clients`)",
    ));
}

/// The first request failed: what ssh's log says (`verdict`), else the API
/// error; the steps after the failed one are not reached.
fn session_failed(
    rec: &mut Recorder,
    verdict: Option<Verdict>,
    e: &bollard::errors::Error,
    ctx: &Ctx,
) {
    let kind = match verdict {
        Some((kind, detail, f)) => {
            let detail = if detail.is_empty() {
                f.message.clone()
            } else if detail.starts_with("ssh: ") {
                detail
            } else {
                format!("ssh: {detail}")
            };
            rec.step(Step::new(kind, StepState::Fail, detail));
            rec.push(f);
            kind
        }
        None => {
            let f = diagnose::api_failure(e, "GET /_ping", &Default::default(), None, ctx);
            rec.fail(StepKind::Ping, f);
            StepKind::Ping
        }
    };
    for k in StepKind::SSH.iter().filter(|k| **k > kind) {
        rec.skip(&[*k], "not reached");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Log {
        let mut l = Log::default();
        for line in text.lines() {
            l.observe(line);
        }
        l
    }

    fn dest() -> Dest {
        Dest {
            user: Some("root".into()),
            host: "127.0.0.1".into(),
            port: Some(2222),
        }
    }

    fn code(text: &str, exit: Option<i32>) -> Option<Code> {
        classify(&log(text), &dest(), exit, 5.0).map(|(_, _, f)| f.code)
    }

    #[test]
    fn progress_events() {
        let mut l = Log::default();
        assert_eq!(
            l.observe("debug1: Connecting to box.lan [10.0.0.5] port 2222."),
            vec![Event::Resolved(
                "box.lan → 10.0.0.5 (resolved by ssh)".into()
            )]
        );
        assert_eq!(
            l.observe("debug1: Connection established."),
            vec![Event::Connected(
                "ssh connected to 10.0.0.5 port 2222".into()
            )]
        );
        l.observe("debug1: Server host key: ssh-ed25519 SHA256:abc");
        l.observe("debug1: Host '[box.lan]:2222' is known and matches the ED25519 host key.");
        assert_eq!(
            l.observe("debug1: Found key in /home/me/.ssh/known_hosts:3"),
            vec![Event::HostKeyOk(
                "ssh-ed25519 SHA256:abc matches /home/me/.ssh/known_hosts:3".into()
            )]
        );
        l.observe("debug1: Authenticating to box.lan:2222 as 'me'");
        l.observe("debug1: Server accepts key: /k ED25519 SHA256:kk explicit");
        assert_eq!(
            l.observe("Authenticated to box.lan ([10.0.0.5]:2222) using \"publickey\"."),
            vec![Event::Authenticated(
                "me logged in by publickey with /k ED25519 SHA256:kk".into()
            )]
        );
        // Older clients say it at debug level; once is enough.
        assert_eq!(
            l.observe("debug1: Authentication succeeded (publickey)."),
            vec![]
        );
        assert_eq!(
            l.observe("debug1: Sending command: docker system dial-stdio"),
            vec![Event::CommandSent]
        );
    }

    #[test]
    fn classifies_ssh_failures() {
        assert_eq!(
            code(
                "ssh: Could not resolve hostname nosuch.invalid: Name or service not known",
                Some(255)
            ),
            Some(Code::DnsFailure)
        );
        assert_eq!(
            code(
                "ssh: connect to host 127.0.0.1 port 2222: Connection refused",
                Some(255)
            ),
            Some(Code::ConnectionRefused)
        );
        assert_eq!(
            code(
                "ssh: connect to host 10.1.1.1 port 22: Connection timed out",
                Some(255)
            ),
            Some(Code::Timeout)
        );
        assert_eq!(
            code(
                "ssh: connect to host 10.1.1.1 port 22: No route to host",
                Some(255)
            ),
            Some(Code::ConnectFailed)
        );
        assert_eq!(
            code("Connection timed out during banner exchange", Some(255)),
            Some(Code::Timeout)
        );
        assert_eq!(
            code(
                "debug1: Server host key: ssh-ed25519 SHA256:xyz\nHost key verification failed.",
                Some(255)
            ),
            Some(Code::SshHostKeyUnknown)
        );
        assert_eq!(
            code(
                "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nOffending ED25519 key in /k:1\nHost key verification failed.",
                Some(255)
            ),
            Some(Code::SshHostKeyChanged)
        );
        assert_eq!(
            code(
                "debug1: Offering public key: /k ED25519 SHA256:kk explicit\nroot@127.0.0.1: Permission denied (publickey).",
                Some(255)
            ),
            Some(Code::SshAuthRefused)
        );
        assert_eq!(
            code(
                "kex_exchange_identification: Connection closed by remote host",
                Some(255)
            ),
            Some(Code::SshError)
        );
    }

    #[test]
    fn classifies_remote_failures() {
        let after = |remote: &str| {
            format!(
                "Authenticated to h ([h]:22) using \"publickey\".\ndebug1: Sending command: docker system dial-stdio\n{remote}"
            )
        };
        assert_eq!(
            code(&after("bash: line 1: docker: command not found"), Some(127)),
            Some(Code::SshNoDocker)
        );
        assert_eq!(
            code(&after("rec: 1: docker: not found"), None),
            Some(Code::SshNoDocker)
        );
        assert_eq!(
            code(
                &after("docker: 'system dial-stdio' is not a docker command.\nSee 'docker --help'"),
                Some(1)
            ),
            Some(Code::SshDialStdioUnsupported)
        );
        assert_eq!(
            code(
                &after(
                    "failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: permission denied"
                ),
                Some(1)
            ),
            Some(Code::SshSocketDenied)
        );
        assert_eq!(
            code(
                &after(
                    "failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: no such file or directory"
                ),
                Some(1)
            ),
            Some(Code::SshDaemonNotRunning)
        );
        assert_eq!(code(&after("something odd"), Some(3)), Some(Code::SshError));
        assert_eq!(code(&after(""), Some(0)), None);
    }

    #[test]
    fn fixes_name_the_host_and_fingerprint() {
        let (_, _, f) = classify(
            &log("debug1: Server host key: ssh-ed25519 SHA256:xyz\nHost key verification failed."),
            &dest(),
            Some(255),
            5.0,
        )
        .unwrap();
        assert!(f.message.contains("SHA256:xyz"), "{f:?}");
        assert!(
            f.fix
                .contains("ssh-keyscan -p 2222 127.0.0.1 >> ~/.ssh/known_hosts"),
            "{f:?}"
        );
        let (_, _, f) = classify(
            &log("debug1: Offering public key: /k ED25519 SHA256:kk explicit\nroot@127.0.0.1: Permission denied (publickey)."),
            &dest(),
            Some(255),
            5.0,
        )
        .unwrap();
        assert!(f.message.contains("/k ED25519 SHA256:kk"), "{f:?}");
        assert!(
            f.fix.contains("ssh-copy-id -p 2222 root@127.0.0.1"),
            "{f:?}"
        );
    }
}
