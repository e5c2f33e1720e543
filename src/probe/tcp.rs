//! A tcp:// or https:// probe, one phase after the other on ONE connection:
//! profile → resolve → connect → handshake → first request → API. Each
//! phase returns what the next needs, or `None` when it failed (and
//! recorded why).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;

use super::api::{self, Fast};
use super::diagnose::{self, Ctx};
use super::finding::{Code, Finding, Phase};
use super::record::Recorder;
use super::report::{CertSummary, Step, StepKind, StepState};
use crate::conn::Target;
use crate::conn::dial::{Dial, Tls};
use crate::conn::http as pipeline;
use crate::conn::tls::{self, Material, Observations, Observed, VerifyMode};

async fn resolve(rec: &mut Recorder, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    rec.phase.set(Phase::Resolve);
    if let Ok(ip) = host.parse::<IpAddr>() {
        rec.step(Step::new(
            StepKind::Resolve,
            StepState::Ok,
            format!("{host} is an IP address"),
        ));
        return Some(vec![SocketAddr::new(ip, port)]);
    }
    let mut fail = |why: String| {
        let msg = format!("cannot resolve {host}: {why}");
        rec.step(Step::new(StepKind::Resolve, StepState::Fail, msg.clone()));
        rec.push(Finding::error(
            Code::DnsFailure,
            msg,
            format!(
                "check the spelling and your DNS (`getent hosts {host}`); add it to /etc/hosts, or use a name or IP address the server certificate holds"
            ),
        ));
    };
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let mut addrs: Vec<SocketAddr> = addrs.collect();
            addrs.dedup();
            if addrs.is_empty() {
                fail("no addresses".into());
                return None;
            }
            let list = addrs
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            rec.step(Step::new(
                StepKind::Resolve,
                StepState::Ok,
                format!("{host} → {list}"),
            ));
            Some(addrs)
        }
        Err(e) => {
            fail(e.to_string());
            None
        }
    }
}

async fn connect(
    rec: &mut Recorder,
    addrs: &[SocketAddr],
    ctx: &Ctx<'_>,
    tls: bool,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    rec.phase.set(Phase::Connect);
    let mut last = None;
    for a in addrs {
        let t0 = Instant::now();
        match crate::conn::dial::tcp(a).await {
            Ok(s) => {
                rec.step(Step::new(
                    StepKind::Connect,
                    StepState::Ok,
                    format!("connected to {a} in {} ms", t0.elapsed().as_millis()),
                ));
                return Some((s, *a));
            }
            Err(e) => last = Some((e, *a)),
        }
    }
    let (e, a) = last?;
    let f = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        diagnose::connection_refused(ctx, a, tls)
    } else {
        Finding::error(
            Code::ConnectFailed,
            format!("cannot connect to {a}: {e}"),
            "check the network path to the host (routing, firewall, VPN)",
        )
    };
    rec.step(Step::new(
        StepKind::Connect,
        StepState::Fail,
        f.message.clone(),
    ));
    rec.push(f);
    None
}

/// A TCP probe, one method per phase; each returns what the next needs
/// (`None`: the phase failed and recorded why).
struct Probe<'a> {
    t: &'a Target,
    rec: &'a mut Recorder,
    ctx: Ctx<'a>,
    timeout: Duration,
    host_header: String,
}

/// The TLS connection after a handshake, with what it revealed.
type TlsConn = tokio_rustls::client::TlsStream<tls::Sniff<tokio::net::TcpStream>>;

/// What the first request on the TLS connection left for the API phase.
struct FirstAnswer {
    /// The pipelined /version and /info answers still to read (healthy path).
    reader: Option<pipeline::Reader<TlsConn>>,
    ping: Option<pipeline::Answer>,
    sent_at: Instant,
}

pub async fn probe(
    t: &Target,
    rec: &mut Recorder,
    (host, port, tls): (&str, u16, bool),
    timeout: Duration,
    now: i64,
    warn_days: i64,
) {
    let mut p = Probe {
        t,
        rec,
        ctx: Ctx {
            name: &t.name,
            host,
            port,
            now,
            skip_verify: tls && t.skip_verify,
            timeout_secs: timeout.as_secs_f64(),
            warn_days,
        },
        timeout,
        host_header: if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        },
    };
    let Some(material) = p.profile(tls) else {
        return;
    };
    let Some(addrs) = resolve(p.rec, host, port).await else {
        return;
    };
    let Some((tcp, addr)) = connect(p.rec, &addrs, &p.ctx, tls).await else {
        return;
    };
    let Some(m) = material else {
        return p.plain(tcp, addr).await;
    };
    let Some((stream, obs, sname)) = p.handshake(tcp, &m).await else {
        return;
    };
    let (requested, sent) = {
        let o = obs.lock().unwrap();
        (o.client_cert_requested, o.client_cert_sent)
    };
    let first = p.first_request(stream, &obs, &m).await;
    if p.rec.has_errors() {
        p.rec.skip(
            &[StepKind::Ping, StepKind::Version, StepKind::Info],
            "skipped: fix the errors above first",
        );
        return;
    }
    let ok = p.api(first, &m, addr, sname).await;
    if ok && !(requested && sent) {
        p.rec
            .push(diagnose::client_auth_not_required(&p.ctx, requested));
        // An error now, so the layer it belongs to fails too.
        p.rec.mark_failed(StepKind::ClientCertRequest);
    }
}

impl Probe<'_> {
    /// The profile step: its TLS material (`Some(None)` for plain TCP), and
    /// what the client certificate shows before any I/O.
    fn profile(&mut self, tls: bool) -> Option<Option<Material>> {
        let (host, port) = (self.ctx.host, self.ctx.port);
        let material = if tls {
            match tls::load_material(self.t) {
                Ok(m) => Some(m),
                Err(e) => {
                    self.rec.invalid_profile(e);
                    return None;
                }
            }
        } else {
            None
        };
        let mut profile = if tls {
            format!("tcp://{host}:{port} with TLS")
        } else {
            format!("tcp://{host}:{port} without TLS")
        };
        if let Some(m) = &material {
            if m.system_roots {
                profile.push_str(", server verified against the system roots");
            } else if let Some(ca) = m.ca.first() {
                profile.push_str(&format!(", CA {}", ca.subject));
            }
            match &m.client_info {
                Some(c) => {
                    let e = crate::text::expiry::Expiry::new(c.not_after, self.ctx.now);
                    profile.push_str(&format!(
                        ", client cert {} ({})",
                        c.display_name(),
                        if e.expired() {
                            e.short()
                        } else if self.ctx.now >= c.not_after {
                            "expired".into()
                        } else {
                            format!("{} days left", e.days_left())
                        }
                    ));
                    self.rec.client_cert(CertSummary::new(c, self.ctx.now));
                    self.rec
                        .extend(diagnose::client_local(c, &m.ca, m.key_mismatch, &self.ctx));
                }
                None => profile.push_str(", no client cert"),
            }
            self.rec.extend(diagnose::ca_local(&m.ca, &self.ctx));
            if self.ctx.skip_verify {
                self.rec.push(Finding::warning(
                    Code::SkipVerify,
                    "the profile skips server certificate verification: anyone on the path can impersonate the daemon",
                    format!(
                        "import the daemon's CA and drop skip-verify: `dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace`",
                        self.t.name
                    ),
                ));
            }
        }
        let profile_state = if self.rec.has_errors() {
            StepState::Fail
        } else {
            StepState::Ok
        };
        self.rec
            .step(Step::new(StepKind::Profile, profile_state, profile));
        Some(material)
    }

    /// A plain tcp:// profile: the API phase on the connection, and the
    /// plain-HTTP check (does the port speak TLS instead?).
    async fn plain(&mut self, tcp: tokio::net::TcpStream, addr: SocketAddr) {
        self.rec.skip(StepKind::TLS, "plain tcp:// profile: no TLS");
        let fast = api::stream(self.rec, tcp, &self.host_header).await;
        let ok = match fast {
            Fast::Ok => true,
            Fast::Failed => false,
            Fast::Fallback => {
                let obs = Observations::default();
                let dial = Dial::addr(addr, None);
                api::calls(
                    self.rec,
                    dial,
                    &self.host_header,
                    &self.ctx,
                    &obs,
                    None,
                    self.timeout,
                )
                .await
            }
        };
        if ok {
            self.rec.push(diagnose::plaintext_endpoint(&self.ctx));
        } else if matches!(fast, Fast::Fallback)
            && self.rec.has_finding(&[Code::NotDocker, Code::ApiError])
            && speaks_tls(self.rec, addr, self.ctx.host).await
        {
            self.rec.withdraw(&[Code::NotDocker, Code::ApiError]);
            self.rec.push(diagnose::tls_expected(&self.ctx));
            self.rec.step(Step::new(
                StepKind::Ping,
                StepState::Fail,
                "the port speaks TLS, the profile plain HTTP",
            ));
        }
    }

    /// The handshake, verifying and recording at once: the verifier runs the
    /// real webpki verification and keeps the chain and its verdict, but lets
    /// the handshake go on, so a bad chain still shows what the server does
    /// with our client certificate.
    async fn handshake(
        &mut self,
        tcp: tokio::net::TcpStream,
        m: &Material,
    ) -> Option<(TlsConn, Observations, ServerName<'static>)> {
        let sname = match tls::server_name(self.ctx.host) {
            Ok(n) => n,
            Err(e) => {
                self.rec.invalid_profile(e);
                return None;
            }
        };
        self.rec.phase.set(Phase::Handshake);
        let obs = Observations::default();
        let cfg = match tls::client_config(Some(m), VerifyMode::Diagnose, self.ctx.now, obs.clone())
        {
            Ok(c) => c,
            Err(e) => {
                self.rec.invalid_profile(e);
                return None;
            }
        };
        let (sniffed, seen) = tls::Sniff::new(tcp);
        let hs = tokio_rustls::TlsConnector::from(cfg)
            .connect(sname.clone(), sniffed)
            .await;
        let stream = match hs {
            Err(e) => {
                let o = obs.lock().unwrap();
                let sniff = seen.lock().unwrap().clone();
                self.handshake_failed(&e, &sniff, &o, m);
                return None;
            }
            Ok(s) => s,
        };
        let conn = stream.get_ref().1;
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        self.rec.step(Step::new(
            StepKind::TlsHandshake,
            StepState::Ok,
            format!("{version}, {suite}"),
        ));
        {
            let o = obs.lock().unwrap();
            self.server_findings(&o, m);
            let (fs, step) = diagnose::client_request(&o, m, &self.ctx);
            self.rec.extend(fs);
            self.rec.step(step);
        }
        Some((stream, obs, sname))
    }

    /// What the server's chain shows (also after a failed handshake).
    fn server_findings(&mut self, o: &Observed, m: &Material) {
        // Kept for the compatibility lint (doctor) and the metrics.
        self.rec.server_chain(o.chain.clone());
        let chain: Vec<crate::pki::CertInfo> = o
            .chain
            .iter()
            .filter_map(|d| crate::pki::CertInfo::from_der(d).ok())
            .collect();
        if let Some(leaf) = chain.first() {
            self.rec.server_cert(CertSummary::new(leaf, self.ctx.now));
            let (fs, steps) = diagnose::server_cert(&chain, o.verify_error.as_ref(), m, &self.ctx);
            self.rec.extend(fs);
            for s in steps {
                self.rec.step(s);
            }
        }
    }

    /// The handshake failed: which layer refused, and why.
    fn handshake_failed(&mut self, e: &std::io::Error, sniff: &[u8], o: &Observed, m: &Material) {
        let f = diagnose::handshake_failure(e, sniff, o, m, &self.ctx);
        self.server_findings(o, m);
        if o.client_cert_requested {
            let (fs, step) = diagnose::client_request(o, m, &self.ctx);
            self.rec.extend(fs);
            self.rec.step(step);
        }
        if matches!(f.code, Code::ClientCertRejected | Code::ClientCertMissing) {
            self.rec.step(Step::new(
                StepKind::TlsHandshake,
                StepState::Fail,
                "the server aborted the handshake at client authentication",
            ));
            self.rec.step(Step::new(
                StepKind::ClientCertAccepted,
                StepState::Fail,
                f.message.clone(),
            ));
        } else {
            self.rec.step(Step::new(
                StepKind::TlsHandshake,
                StepState::Fail,
                f.message.clone(),
            ));
        }
        // A v1 chain's own finding (server step) names the cause and the fix.
        let v1_known = o.chain.first().is_some_and(|d| diagnose::is_v1_der(d));
        if !(v1_known && f.code == Code::TlsError) {
            self.rec.push(f);
        }
    }

    /// A real request on the TLS connection: TLS 1.3 client-cert rejections
    /// and nginx's "400 No required SSL certificate" show up only here. When
    /// nothing is wrong so far (the chain verified), /version and /info ride
    /// along pipelined, so a healthy probe is one connection and ~3 RTT.
    async fn first_request(
        &mut self,
        mut stream: TlsConn,
        obs: &Observations,
        m: &Material,
    ) -> FirstAnswer {
        self.rec.phase.set(Phase::Response);
        let healthy = !self.rec.has_errors();
        let sent_at = Instant::now();
        let mut reader = None;
        let first = if healthy {
            match pipeline::send(&mut stream, &self.host_header).await {
                Err(e) => Err(e),
                Ok(()) => {
                    let r = reader.insert(pipeline::Reader::new(stream));
                    r.next().await.map(|a| (a.status, a.text(), Some(a)))
                }
            }
        } else {
            // One request, `Connection: close`: the answer's words matter, not speed.
            let req = pipeline::requests(&self.host_header, &["/_ping"]);
            match stream.write_all(&req).await {
                Err(e) => Err(e),
                Ok(()) => pipeline::Reader::new(&mut stream)
                    .next()
                    .await
                    .map(|a| (a.status, a.text(), None)),
            }
        };
        let mut ping = None;
        let o = obs.lock().unwrap();
        let (state, msg) = match first {
            Err(e) => {
                let f = diagnose::first_read_failure(&e, &o, m, &self.ctx);
                let msg = f.message.clone();
                self.rec.push(f);
                (StepState::Fail, msg)
            }
            Ok((status, body, answer)) => {
                ping = answer;
                if let Some(f) = diagnose::http_client_cert_answer(status, &body, &o, m, &self.ctx)
                {
                    let msg = f.message.clone();
                    self.rec.push(f);
                    (StepState::Fail, msg)
                } else if !o.client_cert_requested {
                    (
                        StepState::Warn,
                        "the server answered without asking for a client certificate".into(),
                    )
                } else if o.client_cert_sent {
                    (
                        StepState::Ok,
                        format!("the server accepted it and answered HTTP {status}"),
                    )
                } else {
                    (
                        StepState::Warn,
                        format!("none sent; the server answered HTTP {status} anyway"),
                    )
                }
            }
        };
        self.rec
            .step(Step::new(StepKind::ClientCertAccepted, state, msg));
        FirstAnswer {
            reader,
            ping,
            sent_at,
        }
    }

    /// The API phase: the pipelined answers when the first request carried
    /// them, else (or when they were not plainly Docker's) a second,
    /// diagnosing connection.
    async fn api(
        &mut self,
        first: FirstAnswer,
        m: &Material,
        addr: SocketAddr,
        sname: ServerName<'static>,
    ) -> bool {
        let fast = match (first.reader, first.ping) {
            (Some(mut r), Some(ping)) => {
                api::pipelined(self.rec, &mut r, ping, first.sent_at).await
            }
            _ => Fast::Fallback,
        };
        match fast {
            Fast::Ok => true,
            Fast::Failed => false,
            Fast::Fallback => {
                second_pass(
                    self.rec,
                    &self.ctx,
                    m,
                    addr,
                    sname,
                    &self.host_header,
                    self.timeout,
                )
                .await
            }
        }
    }
}

/// Pass 2, only when the first connection's answers were not plainly
/// Docker's: a fresh, strictly verifying connection through bollard, whose
/// errors get the full diagnosis.
async fn second_pass(
    rec: &mut Recorder,
    ctx: &Ctx<'_>,
    m: &Material,
    addr: SocketAddr,
    sname: ServerName<'static>,
    host_header: &str,
    timeout: Duration,
) -> bool {
    let mode = if ctx.skip_verify {
        VerifyMode::Insecure
    } else {
        VerifyMode::Strict
    };
    let obs2 = Observations::default();
    let cfg = match tls::client_config(Some(m), mode, ctx.now, obs2.clone()) {
        Ok(c) => c,
        Err(e) => {
            rec.invalid_profile(e);
            return false;
        }
    };
    api::calls(
        rec,
        Dial::addr(
            addr,
            Some(Tls::Fixed {
                config: cfg,
                name: sname,
            }),
        ),
        host_header,
        ctx,
        &obs2,
        Some(m),
        timeout,
    )
    .await
}

/// Does the peer speak TLS? (For a plain tcp:// profile that got no Docker answer.)
async fn speaks_tls(rec: &mut Recorder, addr: SocketAddr, host: &str) -> bool {
    rec.phase.set(Phase::Connect);
    let Ok(tcp) = crate::conn::dial::tcp(addr).await else {
        return false;
    };
    let Ok(name) = tls::server_name(host) else {
        return false;
    };
    let obs = Observations::default();
    let Ok(cfg) = tls::client_config(None, VerifyMode::Insecure, 0, obs.clone()) else {
        return false;
    };
    rec.phase.set(Phase::Handshake);
    let res = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await;
    let seen_cert = !obs.lock().unwrap().chain.is_empty();
    match res {
        Ok(_) => true,
        Err(e) => {
            seen_cert || matches!(tls::find_rustls(&e), Some(rustls::Error::AlertReceived(_)))
        }
    }
}
