//! Turn observations (certificates, handshake errors, HTTP answers) into
//! findings with concrete fixes. Pure functions: no I/O, no clock reads.

use std::io;
use std::net::IpAddr;

use rustls::{AlertDescription, CertificateError};

use super::finding::{Code, Finding, Severity};
use super::report::{Step, StepKind, StepState};
use super::tls::{Material, Observed, name_to_string};
use crate::pki::CertInfo;
use crate::pki::inspect::rfc3339;

/// Facts about the probe every message may need.
pub struct Ctx<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub now: i64,
    pub skip_verify: bool,
    pub timeout_secs: f64,
}

impl Ctx<'_> {
    fn host_is_ip(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok()
    }

    fn san_for_host(&self) -> String {
        if self.host_is_ip() {
            format!("IP:{}", self.host)
        } else {
            format!("DNS:{}", self.host)
        }
    }

    /// The command lines that reissue the server certificate for this host.
    fn reissue_server(&self) -> String {
        format!(
            "reissue the server certificate from your CA with the right name and usage: \
             `dctx pki server --host {host}` — or with openssl: \
             `openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 \
             -extfile <(printf 'subjectAltName={san}\\nextendedKeyUsage=serverAuth') -out server-cert.pem`; \
             then restart dockerd with --tlscert pointing at it",
            host = self.host,
            san = self.san_for_host()
        )
    }

    /// Server-certificate problems do not break a skip-verify profile.
    fn server_sev(&self) -> Severity {
        if self.skip_verify {
            Severity::Info
        } else {
            Severity::Error
        }
    }
}

fn days_phrase(days: i64) -> String {
    match days {
        1 => "1 day".into(),
        -1 => "1 day".into(),
        d => format!("{} days", d.abs()),
    }
}

// ---------------------------------------------------------------- client cert

/// Problems visible in the profile's own client certificate, before any I/O.
pub fn client_local(info: &CertInfo, key_mismatch: bool, ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let days = info.days_left(ctx.now);
    if key_mismatch {
        out.push(Finding::error(
            Code::KeyMismatch,
            format!(
                "the profile's private key does not belong to its client certificate ({})",
                info.display_name()
            ),
            format!(
                "re-import the key that was generated with this certificate (`dctx add {} --cert cert.pem --key key.pem --ca ca.pem --replace`); \
                 compare `openssl x509 -in cert.pem -noout -pubkey` with `openssl pkey -in key.pem -pubout`",
                ctx.name
            ),
        ));
    }
    if ctx.now >= info.not_after {
        out.push(Finding::error(
            Code::ClientCertExpired,
            format!(
                "the client certificate expired on {} ({} ago)",
                info.not_after_rfc3339(),
                days_phrase(days)
            ),
            "issue a new client certificate from the daemon's CA (`dctx pki client`, or `openssl x509 -req … -extfile <(printf 'extendedKeyUsage=clientAuth')`) and re-import it with `dctx add … --replace`",
        ));
    } else if ctx.now < info.not_before {
        out.push(Finding::error(
            Code::ClientCertNotYetValid,
            format!(
                "the client certificate is not valid before {} — check this machine's clock (clock skew?)",
                info.not_before_rfc3339()
            ),
            "check the clock on both machines (`timedatectl`), or reissue the client certificate",
        ));
    } else if days < 30 {
        out.push(Finding::warning(
            Code::ClientCertExpiring,
            format!(
                "the client certificate expires in {} ({})",
                days_phrase(days),
                info.not_after_rfc3339()
            ),
            "issue a new client certificate before then (`dctx pki client`) and re-import it with `dctx add … --replace`",
        ));
    }
    if !info.allows_client_auth() {
        out.push(Finding::error(
            Code::ClientCertBadUsage,
            format!(
                "the client certificate's extendedKeyUsage is {} — without clientAuth the daemon rejects it",
                info.eku.join(", ")
            ),
            "reissue the client certificate with `extendedKeyUsage=clientAuth` (`dctx pki client`)",
        ));
    }
    out
}

/// Did the server ask for a client certificate, and from which CAs?
pub fn client_request(obs: &Observed, m: &Material, ctx: &Ctx) -> (Vec<Finding>, Step) {
    let mut out = Vec::new();
    if !obs.client_cert_requested {
        return (
            out,
            Step::new(
                StepKind::ClientCertRequest,
                StepState::Warn,
                "the server did not ask for a client certificate",
            ),
        );
    }
    let cas: Vec<String> = obs
        .acceptable_cas
        .iter()
        .map(|d| name_to_string(d))
        .collect();
    let accepted = if cas.is_empty() {
        "any CA (it listed none)".to_string()
    } else {
        cas.join("; ")
    };
    let mut state = StepState::Ok;
    let mut detail = format!("yes; it accepts certificates issued by: {accepted}");
    match (&m.client_info, &m.client_issuer_der) {
        // Whether that is fatal shows on the first read (or HTTP 400):
        // some servers ask but do not insist.
        (None, _) => {
            state = StepState::Warn;
            detail.push_str("; the profile has none to send");
        }
        (Some(info), Some(issuer)) => {
            if !obs.acceptable_cas.is_empty() && !obs.acceptable_cas.iter().any(|h| h == issuer) {
                state = StepState::Fail;
                out.push(Finding::error(
                    Code::ClientCaNotAccepted,
                    format!(
                        "the server accepts client certificates from {accepted}, but ours ({}) was issued by {}",
                        info.display_name(),
                        info.issuer
                    ),
                    format!(
                        "get a client certificate issued by the daemon's CA ({accepted}) and re-import it \
                         (`dctx add {} --cert cert.pem --key key.pem --replace`), or add the CA {} to the daemon's --tlscacert bundle",
                        ctx.name, info.issuer
                    ),
                ));
            } else {
                detail.push_str(&format!("; ours is issued by {}", info.issuer));
            }
        }
        _ => {}
    }
    (out, Step::new(StepKind::ClientCertRequest, state, detail))
}

fn missing_client_cert(ctx: &Ctx, accepted: &str) -> Finding {
    Finding::error(
        Code::ClientCertMissing,
        format!(
            "the daemon requires a client certificate (from {accepted}) and the profile has none"
        ),
        format!(
            "import the client certificate and key issued by the daemon's CA: \
             `dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace` (issue one with `dctx pki client`)",
            ctx.name
        ),
    )
}

/// The server refused our client certificate (or its absence); `how` says
/// how it said so.
pub fn client_rejected(how: &str, obs: &Observed, m: &Material, ctx: &Ctx) -> Finding {
    let Some(info) = &m.client_info else {
        let accepted = if obs.acceptable_cas.is_empty() {
            "its CA".to_string()
        } else {
            obs.acceptable_cas
                .iter()
                .map(|d| name_to_string(d))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut f = missing_client_cert(ctx, &accepted);
        f.message = format!("{} ({how})", f.message);
        return f;
    };
    let fix = if m.key_mismatch {
        "use the private key that belongs to the client certificate (see key-mismatch)".to_string()
    } else if ctx.now >= info.not_after {
        "renew the expired client certificate (`dctx pki client`) and re-import it".to_string()
    } else if !info.allows_client_auth() {
        "reissue the client certificate with extendedKeyUsage=clientAuth".to_string()
    } else {
        format!(
            "the daemon's --tlscacert must contain the CA that issued our client certificate ({}); \
             either get a client certificate from the daemon's CA, or add that CA to the daemon's --tlscacert and restart it",
            info.issuer
        )
    };
    Finding::error(
        Code::ClientCertRejected,
        format!(
            "the daemon rejected our client certificate {} ({how})",
            info.display_name()
        ),
        fix,
    )
}

// ---------------------------------------------------------------- server cert

fn name_matches(leaf: &CertInfo, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return leaf.ip_addrs.contains(&ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    leaf.dns_names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => n == host,
        }
    })
}

fn signed_or_same(c: &CertInfo, ca: &CertInfo) -> bool {
    c.sha256 == ca.sha256 || c.is_signed_by(ca)
}

fn chain_reaches_ca(chain: &[CertInfo], ca: &[CertInfo]) -> bool {
    let Some(leaf) = chain.first() else {
        return false;
    };
    if ca.iter().any(|a| signed_or_same(leaf, a)) {
        return true;
    }
    chain[1..]
        .iter()
        .any(|i| leaf.is_signed_by(i) && ca.iter().any(|a| signed_or_same(i, a)))
}

fn is_untrusted(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        )
    )
}

/// Server certificate checks: chain vs the profile's CA, host name vs SANs,
/// validity dates, EKU. Returns findings and the four doctor steps.
pub fn server_cert(
    chain: &[CertInfo],
    verify_error: Option<&rustls::Error>,
    m: &Material,
    ctx: &Ctx,
) -> (Vec<Finding>, Vec<Step>) {
    let mut out = Vec::new();
    let mut steps = Vec::new();
    let Some(leaf) = chain.first() else {
        return (out, steps);
    };
    let sev = ctx.server_sev();
    let bad = if ctx.skip_verify {
        StepState::Warn
    } else {
        StepState::Fail
    };

    // Chain.
    let trusted = match verify_error {
        Some(e) if is_untrusted(e) => false,
        _ if m.ca.is_empty() => true,
        None => true,
        Some(_) => chain_reaches_ca(chain, &m.ca),
    };
    if trusted {
        let by = if m.system_roots {
            "a CA in the system trust store".to_string()
        } else {
            m.ca.iter()
                .find(|a| chain.iter().any(|c| signed_or_same(c, a)))
                .map(|a| a.subject.clone())
                .unwrap_or_else(|| "the profile's CA".into())
        };
        steps.push(Step::new(
            StepKind::ServerChain,
            StepState::Ok,
            format!("issued by {}, trusted via {by}", leaf.issuer),
        ));
    } else {
        let leaf_id = format!(
            "issuer {}{}",
            leaf.issuer,
            leaf.aki
                .as_deref()
                .map(|a| format!(", AKI {a}"))
                .unwrap_or_default()
        );
        let (message, fix) = if m.system_roots {
            (
                format!(
                    "the server certificate ({leaf_id}) is not signed by any CA in the system trust store, and the profile has no CA of its own"
                ),
                format!(
                    "add the daemon's CA to the profile: `dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace`",
                    ctx.name
                ),
            )
        } else {
            let cas =
                m.ca.iter()
                    .map(|a| {
                        format!(
                            "{}{}",
                            a.subject,
                            a.ski
                                .as_deref()
                                .map(|s| format!(", SKI {s}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
            let self_signed = if leaf.is_self_signed() {
                " (the server certificate is self-signed)"
            } else {
                ""
            };
            (
                format!(
                    "the server certificate ({leaf_id}) is not signed by the profile's CA ({cas}){self_signed}"
                ),
                format!(
                    "the profile's CA file is the wrong one, or the daemon uses a certificate from another CA. \
                     Import the CA whose subject is {} and whose SKI equals the AKI above \
                     (`dctx add {} --ca right-ca.pem … --replace`; check with `openssl x509 -in ca.pem -noout -subject -ext subjectKeyIdentifier`), \
                     or {}",
                    leaf.issuer,
                    ctx.name,
                    ctx.reissue_server()
                ),
            )
        };
        out.push(Finding::new(Code::UnknownCa, sev, message.clone(), fix));
        steps.push(Step::new(StepKind::ServerChain, bad, message));
    }

    // Host name.
    let names = if leaf.sans.is_empty() {
        "no names".to_string()
    } else {
        leaf.sans.join(", ")
    };
    if !leaf.has_san_ext {
        let cn = leaf.common_name.clone().unwrap_or_default();
        let msg = format!(
            "the server certificate has no subjectAltName extension, only CN={cn}; \
             Go (dockerd, docker CLI) and rustls ignore the CN, so no host name can match"
        );
        out.push(Finding::new(
            Code::CnOnly,
            sev,
            msg.clone(),
            ctx.reissue_server(),
        ));
        steps.push(Step::new(StepKind::HostName, bad, msg));
    } else if name_matches(leaf, ctx.host) {
        steps.push(Step::new(
            StepKind::HostName,
            StepState::Ok,
            format!("{} is among the certificate's names ({names})", ctx.host),
        ));
    } else {
        let mut msg = format!(
            "the server certificate is not valid for {}; it holds {names}",
            ctx.host
        );
        if ctx.host_is_ip() && leaf.ip_addrs.is_empty() {
            msg.push_str(&format!(
                " — you dialled the IP address {} and the certificate has no IP SAN at all",
                ctx.host
            ));
        }
        let alt = leaf
            .dns_names
            .iter()
            .find(|n| !n.starts_with('*'))
            .map(|n| n.to_string())
            .or_else(|| leaf.ip_addrs.first().map(|i| i.to_string()));
        let fix = match alt {
            Some(a) => {
                let a = if a.contains(':') { format!("[{a}]") } else { a };
                format!(
                    "use a host name the certificate holds: point the profile at tcp://{a}:{} (it must resolve to this daemon, e.g. via /etc/hosts), or {}",
                    ctx.port,
                    ctx.reissue_server()
                )
            }
            None => ctx.reissue_server(),
        };
        out.push(Finding::new(Code::NameMismatch, sev, msg.clone(), fix));
        steps.push(Step::new(StepKind::HostName, bad, msg));
    }

    // Dates.
    let days = leaf.days_left(ctx.now);
    if ctx.now >= leaf.not_after {
        let msg = format!(
            "the server certificate expired on {} ({} ago)",
            leaf.not_after_rfc3339(),
            days_phrase(days)
        );
        out.push(Finding::new(
            Code::ServerCertExpired,
            sev,
            msg.clone(),
            ctx.reissue_server(),
        ));
        steps.push(Step::new(StepKind::Validity, bad, msg));
    } else if ctx.now < leaf.not_before {
        let msg = format!(
            "the server certificate is valid only from {}, but this machine's clock says {} — clock skew on this machine or on the CA host?",
            leaf.not_before_rfc3339(),
            rfc3339(ctx.now)
        );
        out.push(Finding::new(
            Code::ServerCertNotYetValid,
            sev,
            msg.clone(),
            "check the clocks (`timedatectl`, NTP) on this machine and on the machine that issued the certificate; \
             or reissue it with a notBefore in the past",
        ));
        steps.push(Step::new(StepKind::Validity, bad, msg));
    } else if days < 30 {
        let msg = format!(
            "the server certificate expires in {} ({})",
            days_phrase(days),
            leaf.not_after_rfc3339()
        );
        out.push(Finding::warning(
            Code::ServerCertExpiring,
            msg.clone(),
            format!("renew it before then: {}", ctx.reissue_server()),
        ));
        steps.push(Step::new(StepKind::Validity, StepState::Warn, msg));
    } else {
        steps.push(Step::new(
            StepKind::Validity,
            StepState::Ok,
            format!(
                "valid {} → {} ({} left)",
                leaf.not_before_rfc3339(),
                leaf.not_after_rfc3339(),
                days_phrase(days)
            ),
        ));
    }

    // EKU.
    if leaf.allows_server_auth() {
        let eku = if leaf.has_eku_ext {
            leaf.eku.join(", ")
        } else {
            "no EKU extension (any use)".into()
        };
        steps.push(Step::new(StepKind::ServerEku, StepState::Ok, eku));
    } else {
        let msg = format!(
            "the server certificate's extendedKeyUsage is {} — serverAuth is missing",
            leaf.eku.join(", ")
        );
        out.push(Finding::new(
            Code::ServerCertBadUsage,
            sev,
            msg.clone(),
            ctx.reissue_server(),
        ));
        steps.push(Step::new(StepKind::ServerEku, bad, msg));
    }

    // A verifier complaint none of the checks above explains.
    if let Some(e) = verify_error
        && is_v1_cert(e)
    {
        let mut f = v1_cert(ctx);
        f.severity = sev;
        out.push(f);
    } else if let Some(e) = verify_error
        && out.iter().all(|f| f.severity == Severity::Warning)
    {
        out.push(Finding::new(
            Code::TlsError,
            sev,
            format!("the server certificate failed verification: {e}"),
            ctx.reissue_server(),
        ));
    }
    (out, steps)
}

/// webpki refuses X.509 v1 certificates (`UnsupportedCertVersion`, only
/// reachable through rustls' `Other` error, hence the Debug match).
fn is_v1_cert(e: &rustls::Error) -> bool {
    format!("{e:?}").contains("UnsupportedCertVersion")
}

fn v1_cert(ctx: &Ctx) -> Finding {
    Finding::error(
        Code::TlsError,
        "the server certificate is an X.509 v1 certificate (no extensions: no subjectAltName, no extendedKeyUsage); \
         TLS clients such as dctx and the docker CLI refuse v1 certificates",
        format!(
            "reissue it as a v3 certificate with extensions: `dctx pki server --host {host}` — or with openssl, \
             add `-extfile <(printf 'subjectAltName={san}\\nextendedKeyUsage=serverAuth')` to `openssl x509 -req`; \
             then restart dockerd with --tlscert pointing at it",
            host = ctx.host,
            san = ctx.san_for_host()
        ),
    )
}

// ---------------------------------------------------------------- handshake

/// `bad_certificate` rather than `BadCertificate`.
pub fn alert_name(a: AlertDescription) -> String {
    let s = format!("{a:?}");
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out.replace("unknown_c_a", "unknown_ca")
}

fn is_client_auth_alert(a: AlertDescription) -> bool {
    matches!(
        a,
        AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRequired
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::HandshakeFailure
            | AlertDescription::DecryptError
            | AlertDescription::AccessDenied
    )
}

fn preview(bytes: &[u8]) -> String {
    let s: String = bytes
        .iter()
        .take(24)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{s:?}")
}

fn plain_http(ctx: &Ctx) -> Finding {
    Finding::error(
        Code::PlainHttp,
        format!(
            "the profile expects TLS, but {}:{} answered in plain HTTP",
            ctx.host, ctx.port
        ),
        "the daemon listens without TLS: start dockerd with `--tlsverify --tlscacert=ca.pem --tlscert=server-cert.pem --tlskey=server-key.pem` \
         (conventionally on port 2376), or check you have the right port; a TLS-less port is reachable by anyone as root",
    )
}

/// The diagnosis handshake failed.
pub fn handshake_failure(
    err: &io::Error,
    sniff: &[u8],
    obs: &Observed,
    m: &Material,
    ctx: &Ctx,
) -> Finding {
    if sniff.starts_with(b"HTTP/") {
        return plain_http(ctx);
    }
    let not_tls = !sniff.is_empty() && !(0x14..=0x17).contains(&sniff[0]);
    if let Some(r) = super::tls::find_rustls(err) {
        match r {
            rustls::Error::AlertReceived(a) if obs.client_cert_requested => {
                if is_client_auth_alert(*a) {
                    return client_rejected(
                        &format!("TLS alert {} during the handshake", alert_name(*a)),
                        obs,
                        m,
                        ctx,
                    );
                }
            }
            rustls::Error::AlertReceived(a) => {
                return Finding::error(
                    Code::TlsError,
                    format!(
                        "the server aborted the TLS handshake with alert {}",
                        alert_name(*a)
                    ),
                    "the daemon and dctx share no TLS version or cipher (dctx speaks TLS 1.2 and 1.3); check the daemon's TLS settings and logs",
                );
            }
            _ if not_tls => {}
            other if is_v1_cert(other) => return v1_cert(ctx),
            other => {
                return Finding::error(
                    Code::TlsError,
                    format!("the TLS handshake failed: {other}"),
                    "check that the port is dockerd's TLS port and look at the daemon's log",
                );
            }
        }
    }
    if not_tls {
        return Finding::error(
            Code::TlsError,
            format!(
                "{}:{} does not speak TLS: it answered {}",
                ctx.host,
                ctx.port,
                preview(sniff)
            ),
            "something else listens on this port; check the port number and what listens there (`ss -ltnp` on the host)",
        );
    }
    if obs.client_cert_requested
        && matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        )
    {
        return client_rejected(
            "it closed the connection right after asking for a client certificate",
            obs,
            m,
            ctx,
        );
    }
    Finding::error(
        Code::TlsError,
        format!(
            "the TLS handshake with {}:{} failed: {err}{}",
            ctx.host,
            ctx.port,
            if sniff.is_empty() {
                " (the peer closed the connection without answering the ClientHello)"
            } else {
                ""
            }
        ),
        "check that this is dockerd's TLS port (usually 2376) and look at the daemon's log",
    )
}

/// The first read on an established TLS connection failed (TLS 1.3 client
/// certificate rejection arrives here). None when nothing useful to say.
pub fn first_read_failure(err: &io::Error, obs: &Observed, m: &Material, ctx: &Ctx) -> Finding {
    if let Some(rustls::Error::AlertReceived(a)) = super::tls::find_rustls(err) {
        if obs.client_cert_requested && is_client_auth_alert(*a) {
            return client_rejected(
                &format!(
                    "TLS alert {} on the first read after the handshake",
                    alert_name(*a)
                ),
                obs,
                m,
                ctx,
            );
        }
        return Finding::error(
            Code::TlsError,
            format!(
                "the server sent TLS alert {} after the handshake",
                alert_name(*a)
            ),
            "look at the daemon's log for the reason",
        );
    }
    if obs.client_cert_requested {
        return client_rejected(
            &format!("the connection ended after the handshake: {err}"),
            obs,
            m,
            ctx,
        );
    }
    Finding::error(
        Code::ApiError,
        format!("the connection ended before any answer: {err}"),
        "look at the daemon's log; a proxy in front of it may be failing",
    )
}

/// nginx-style HTTP answers about client certificates.
pub fn http_client_cert_answer(
    status: u16,
    body: &str,
    obs: &Observed,
    m: &Material,
    ctx: &Ctx,
) -> Option<Finding> {
    if status != 400 && status != 495 && status != 496 {
        return None;
    }
    if body.contains("No required SSL certificate was sent") {
        return Some(client_rejected(
            "HTTP 400 \"No required SSL certificate was sent\"",
            obs,
            m,
            ctx,
        ));
    }
    if body.contains("The SSL certificate error") {
        return Some(client_rejected(
            "HTTP 400 \"The SSL certificate error\"",
            obs,
            m,
            ctx,
        ));
    }
    None
}

/// A TLS port answered our plain HTTP request (Go's and nginx's wording).
pub fn says_tls_expected(body: &str) -> bool {
    body.contains("Client sent an HTTP request to an HTTPS server")
        || body.contains("plain HTTP request was sent to HTTPS port")
}

pub fn tls_expected(ctx: &Ctx) -> Finding {
    Finding::error(
        Code::TlsExpected,
        format!(
            "the profile uses plain tcp:// without TLS, but {}:{} speaks TLS",
            ctx.host, ctx.port
        ),
        format!(
            "make it a TLS profile with the daemon's CA and a client certificate: \
             `dctx add {} --host tcp://{}:{} --ca ca.pem --cert cert.pem --key key.pem --replace` \
             (docker: DOCKER_TLS_VERIFY=1)",
            ctx.name, ctx.host, ctx.port
        ),
    )
}

/// A failed Docker API call (`what` is e.g. "GET /_ping").
pub fn api_failure(
    e: &bollard::errors::Error,
    what: &str,
    obs: &Observed,
    m: Option<&Material>,
    ctx: &Ctx,
) -> Finding {
    use bollard::errors::Error as B;
    if super::pipeline::is_too_large(e) {
        return not_docker(format!(
            "{what} answered with more than {} KiB",
            super::pipeline::CONN_CAP / 1024
        ));
    }
    match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => {
            if let Some(m) = m
                && let Some(f) = http_client_cert_answer(*status_code, message, obs, m, ctx)
            {
                return f;
            }
            if says_tls_expected(message) {
                return tls_expected(ctx);
            }
            let short = clean_body(message);
            if *status_code == 404 {
                return not_docker(format!("{what} answered HTTP 404 ({short})"));
            }
            Finding::error(
                Code::ApiError,
                format!("{what} answered HTTP {status_code}: {short}"),
                match status_code {
                    401 | 403 => {
                        "access denied: an authorization plugin or an authenticating proxy in front of dockerd refuses this client"
                    }
                    500..=599 => {
                        "the daemon (or a proxy in front of it) failed; look at `journalctl -u docker` on the host"
                    }
                    _ => "look at the daemon's log for why it refused the request",
                },
            )
        }
        B::JsonDataError { .. } | B::JsonSerdeError { .. } | B::APIVersionParseError {} => {
            not_docker(format!("{what} did not answer with Docker's JSON: {e}"))
        }
        B::RequestTimeoutError => {
            Finding::timeout(super::finding::Phase::Response, ctx.timeout_secs)
        }
        _ => {
            let dynerr: &(dyn std::error::Error + 'static) = e;
            if let Some(r) = super::tls::find_rustls(dynerr) {
                if let Some(m) = m
                    && let rustls::Error::AlertReceived(a) = r
                    && obs.client_cert_requested
                    && is_client_auth_alert(*a)
                {
                    return client_rejected(
                        &format!("TLS alert {} during {what}", alert_name(*a)),
                        obs,
                        m,
                        ctx,
                    );
                }
                return Finding::error(
                    Code::TlsError,
                    format!("{what} failed at the TLS layer: {r}"),
                    "run `dctx doctor` for a step-by-step diagnosis",
                );
            }
            if let Some(io) = super::tls::find_io(dynerr)
                && io.kind() == io::ErrorKind::ConnectionRefused
            {
                return Finding::error(
                    Code::ConnectionRefused,
                    format!("{}:{} refused the connection", ctx.host, ctx.port),
                    "start dockerd with a -H flag for this address and port, or fix the port in the profile",
                );
            }
            if let B::HyperResponseError { err } = e
                && err.is_parse()
            {
                return not_docker(format!("{what}: the peer does not speak HTTP ({err})"));
            }
            Finding::error(
                Code::ApiError,
                format!("{what} failed: {}", full_chain(dynerr)),
                "look at the daemon's log; a proxy in front of it may be failing",
            )
        }
    }
}

/// An HTTP body in one short line: an HTML page becomes its <title> (or its
/// text), whitespace collapses, long text is cut.
pub fn clean_body(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let text = if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        body.get(a + 7..b).unwrap_or(body).to_string()
    } else if lower.contains('<') {
        let mut out = String::new();
        let mut in_tag = false;
        for ch in body.chars() {
            match ch {
                '<' => {
                    in_tag = true;
                    out.push(' ');
                }
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    } else {
        body.to_string()
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut one = words.join(" ");
    if one.chars().count() > 160 {
        one = one.chars().take(157).collect::<String>() + "…";
    }
    one
}

pub fn not_docker(detail: String) -> Finding {
    Finding::error(
        Code::NotDocker,
        format!("the peer answered but is not a Docker API: {detail}"),
        "check the host and port: this is some other service (or a proxy path that does not lead to dockerd)",
    )
}

/// `a: b: c` for an error and its sources.
pub fn full_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cleaned() {
        assert_eq!(
            clean_body(
                "<html>\n<head><title>503 Service Temporarily Unavailable</title></head></html>"
            ),
            "503 Service Temporarily Unavailable"
        );
        assert_eq!(clean_body("<p>a\n  b</p>"), "a b");
        assert_eq!(clean_body("page not found\n"), "page not found");
    }

    #[test]
    fn alert_names() {
        assert_eq!(
            alert_name(AlertDescription::BadCertificate),
            "bad_certificate"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required"
        );
    }
}
