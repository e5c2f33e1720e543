//! The handshake and the first answer: alerts, plain HTTP on a TLS port,
//! client-certificate rejections at the handshake, the first read or in HTTP.

use super::Ctx;
use super::client::client_rejected;
use super::server::{is_v1_cert, v1_cert};
use crate::conn::tls::{Material, Observed};
use crate::probe::finding::{Code, Finding, Severity};
use rustls::AlertDescription;
use std::io;
use std::net::IpAddr;

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

pub(crate) fn is_client_auth_alert(a: AlertDescription) -> bool {
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

pub(crate) fn preview(bytes: &[u8]) -> String {
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

pub(crate) fn plain_http(ctx: &Ctx) -> Finding {
    Finding::with_fix(
        Code::PlainHttp,
        Severity::Error,
        format!(
            "the profile expects TLS, but {}:{} answered in plain HTTP: the daemon listens without TLS \
             (reachable by anyone as root), or this is the wrong port",
            ctx.host, ctx.port
        ),
        ctx.dockerd_tls("restart the daemon with TLS"),
    )
}

/// Nothing listens where the profile dials.
pub fn connection_refused(ctx: &Ctx, addr: std::net::SocketAddr, tls: bool) -> Finding {
    let message = format!(
        "{addr} refused the connection: nothing listens on port {}",
        ctx.port
    );
    if !tls {
        // A plain profile: the fix is TLS on both sides, not a plain listener.
        return Finding::error(
            Code::ConnectionRefused,
            message,
            format!(
                "start dockerd on {} with TLS (`--tlsverify --tlscacert --tlscert --tlskey`) and make this a TLS profile \
                 (`dctx add {} --ca ca.pem --cert cert.pem --key key.pem --replace`); or check the port, or a firewall that rejects it",
                ctx.authority(),
                ctx.name
            ),
        );
    }
    Finding::with_fix(
        Code::ConnectionRefused,
        Severity::Error,
        message,
        ctx.dockerd_tls("start the daemon (or check the port, or a firewall that rejects it)"),
    )
}

/// The daemon served the API without a client certificate: root for anyone
/// who reaches the port, so an error (`check` exits 3).
pub fn client_auth_not_required(ctx: &Ctx, requested: bool) -> Finding {
    Finding::with_fix(
        Code::ClientAuthNotRequired,
        Severity::Error,
        if requested {
            "the daemon asks for a client certificate but answered without one: anyone who reaches the port is root on the host"
        } else {
            "the daemon accepted us without asking for a client certificate: anyone who reaches the port is root on the host"
        },
        ctx.dockerd_tls(
            "restart the daemon with client verification (`--tlsverify`; `--tls` or `--tlsverify=false` do not insist)",
        ),
    )
}

/// A plain tcp:// profile reached the API: an error unless it stays on
/// this machine (loopback).
pub fn plaintext_endpoint(ctx: &Ctx) -> Finding {
    let loopback = ctx.host.eq_ignore_ascii_case("localhost")
        || ctx.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    Finding::new(
        Code::PlaintextEndpoint,
        if loopback {
            Severity::Warning
        } else {
            Severity::Error
        },
        format!(
            "{}:{} serves the Docker API without TLS: anyone who reaches the port is root on the host",
            ctx.host, ctx.port
        ),
        "enable TLS on dockerd (`--tlsverify --tlscacert --tlscert --tlskey`, port 2376) and import a client certificate, \
         or reach it over ssh:// / a unix socket",
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
    if let Some(r) = crate::conn::tls::find_rustls(err)
        && let Some(f) = rustls_failure(r, not_tls, obs, m, ctx)
    {
        return f;
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

/// What rustls said went wrong (None: let the bytes the peer sent tell).
fn rustls_failure(
    r: &rustls::Error,
    not_tls: bool,
    obs: &Observed,
    m: &Material,
    ctx: &Ctx,
) -> Option<Finding> {
    match r {
        rustls::Error::AlertReceived(a) if obs.client_cert_requested => is_client_auth_alert(*a)
            .then(|| {
                client_rejected(
                    &format!("TLS alert {} during the handshake", alert_name(*a)),
                    obs,
                    m,
                    ctx,
                )
            }),
        rustls::Error::AlertReceived(a) => Some(Finding::error(
            Code::TlsError,
            format!(
                "the server aborted the TLS handshake with alert {}",
                alert_name(*a)
            ),
            "the daemon and dctx share no TLS version or cipher (dctx speaks TLS 1.2 and 1.3); check the daemon's TLS settings and logs",
        )),
        _ if not_tls => None,
        other if is_v1_cert(other) => Some(v1_cert(ctx)),
        other => Some(Finding::error(
            Code::TlsError,
            format!("the TLS handshake failed: {other}"),
            "check that the port is dockerd's TLS port and look at the daemon's log",
        )),
    }
}

/// The first read on an established TLS connection failed (TLS 1.3 client
/// certificate rejection arrives here). None when nothing useful to say.
pub fn first_read_failure(err: &io::Error, obs: &Observed, m: &Material, ctx: &Ctx) -> Finding {
    if let Some(rustls::Error::AlertReceived(a)) = crate::conn::tls::find_rustls(err) {
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
    Finding::with_fix(
        Code::TlsExpected,
        Severity::Error,
        format!(
            "the profile uses plain tcp:// without TLS, but {}:{} speaks TLS",
            ctx.host, ctx.port
        ),
        ctx.reimport("make it a TLS profile (docker: DOCKER_TLS_VERIFY=1)"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Ca, ctx, material};
    use super::*;

    fn alert(a: AlertDescription) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, rustls::Error::AlertReceived(a))
    }

    /// What the peer sent back to our ClientHello, and what it means for a
    /// profile without a client certificate: (case, first bytes seen, error,
    /// server asked for a client cert, code).
    #[test]
    fn handshake_failure_table() {
        let m = material(&Ca::new("hs-table-ca"));
        let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        let cases: Vec<(&str, &[u8], io::Error, bool, Code)> = vec![
            (
                "plain HTTP",
                b"HTTP/1.1 400 Bad Request\r\n",
                eof(),
                false,
                Code::PlainHttp,
            ),
            ("garbage", b"\x00\xffGARBAGE", eof(), false, Code::TlsError),
            (
                "client cert refused",
                b"\x16\x03\x03",
                alert(AlertDescription::BadCertificate),
                true,
                Code::ClientCertMissing,
            ),
            (
                "no shared version",
                b"\x15\x03\x03",
                alert(AlertDescription::ProtocolVersion),
                false,
                Code::TlsError,
            ),
            (
                "closed after CertificateRequest",
                b"\x16\x03\x03",
                eof(),
                true,
                Code::ClientCertMissing,
            ),
        ];
        for (case, sniff, err, requested, want) in cases {
            let obs = Observed {
                client_cert_requested: requested,
                ..Default::default()
            };
            let f = handshake_failure(&err, sniff, &obs, &m, &ctx("127.0.0.1"));
            assert_eq!(f.code, want, "{case}: {f:?}");
        }
    }

    /// Plain tcp:// reaching another host is root for the network: an
    /// error; on loopback it stays on this machine: a warning.
    #[test]
    fn plaintext_severity_follows_the_reach() {
        for (host, sev) in [
            ("10.0.0.5", Severity::Error),
            ("docker.example", Severity::Error),
            ("127.0.0.1", Severity::Warning),
            ("::1", Severity::Warning),
            ("localhost", Severity::Warning),
        ] {
            assert_eq!(plaintext_endpoint(&ctx(host)).severity, sev, "{host}");
        }
    }

    /// nginx's answers about client certificates (the profile has none);
    /// other answers are none of this phase's business.
    #[test]
    fn http_client_cert_answer_table() {
        let m = material(&Ca::new("http-table-ca"));
        let obs = Observed::default();
        let cases: &[(u16, &str, Option<Code>)] = &[
            (
                400,
                "<title>400 No required SSL certificate was sent</title>",
                Some(Code::ClientCertMissing),
            ),
            (
                400,
                "<title>400 The SSL certificate error</title>",
                Some(Code::ClientCertMissing),
            ),
            (400, "bad request", None),
            (200, "No required SSL certificate was sent", None),
            (200, "OK", None),
        ];
        for (status, body, want) in cases {
            let got = http_client_cert_answer(*status, body, &obs, &m, &ctx("h")).map(|f| f.code);
            assert_eq!(got, *want, "{status} {body}");
        }
    }
}
