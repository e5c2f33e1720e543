//! The Docker API calls: HTTP errors, not-Docker peers, transport errors.

use super::client::client_rejected;
use super::front::front_answer;
use super::handshake::{
    alert_name, http_client_cert_answer, is_client_auth_alert, says_tls_expected, tls_expected,
};
use super::{Ctx, clean_body};
use crate::conn::tls::{Material, Observed};
use crate::probe::finding::{Code, Finding};
use std::io;

/// A failed Docker API call (`what` is e.g. "GET /_ping").
pub fn api_failure(
    e: &bollard::errors::Error,
    what: &str,
    obs: &Observed,
    m: Option<&Material>,
    ctx: &Ctx,
) -> Finding {
    use bollard::errors::Error as B;
    // bollard's IOError is transparent: its source() skips the io::Error.
    let io_too_large = matches!(e, B::IOError { err } if crate::conn::http::is_too_large(err));
    if io_too_large || crate::conn::http::is_too_large(e) {
        return not_docker(format!(
            "{what} answered with more than {} KiB",
            crate::conn::http::CONN_CAP / 1024
        ));
    }
    match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => http_refusal(*status_code, message, what, obs, m, ctx),
        B::JsonDataError { .. } | B::JsonSerdeError { .. } | B::APIVersionParseError {} => {
            not_docker(format!("{what} did not answer with Docker's JSON: {e}"))
        }
        B::RequestTimeoutError => {
            Finding::timeout(crate::probe::finding::Phase::Response, ctx.timeout_secs)
        }
        _ => transport_failure(e, what, obs, m, ctx),
    }
}

/// The daemon (or what answers in its place) refused with an HTTP status.
fn http_refusal(
    status_code: u16,
    message: &str,
    what: &str,
    obs: &Observed,
    m: Option<&Material>,
    ctx: &Ctx,
) -> Finding {
    if let Some(m) = m
        && let Some(f) = http_client_cert_answer(status_code, message, obs, m, ctx)
    {
        return f;
    }
    if let Some(f) = front_answer(status_code, message, m, ctx) {
        return f;
    }
    if says_tls_expected(message) {
        return tls_expected(ctx);
    }
    let short = clean_body(message);
    if status_code == 404 {
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

/// No HTTP answer: TLS, the socket, or a peer that does not speak HTTP.
fn transport_failure(
    e: &bollard::errors::Error,
    what: &str,
    obs: &Observed,
    m: Option<&Material>,
    ctx: &Ctx,
) -> Finding {
    let dynerr: &(dyn std::error::Error + 'static) = e;
    if let Some(r) = crate::conn::tls::find_rustls(dynerr) {
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
    if let Some(io) = crate::conn::tls::find_io(dynerr)
        && io.kind() == io::ErrorKind::ConnectionRefused
    {
        return Finding::error(
            Code::ConnectionRefused,
            format!("{}:{} refused the connection", ctx.host, ctx.port),
            "start dockerd with a -H flag for this address and port, or fix the port in the profile",
        );
    }
    if let bollard::errors::Error::HyperResponseError { err } = e
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
    use super::super::fixtures::ctx;
    use super::*;

    /// bollard's errors for the API calls: (case, error, code).
    #[test]
    fn api_failure_table() {
        use bollard::errors::Error as B;
        let server = |status_code: u16, message: &str| B::DockerResponseServerError {
            status_code,
            message: message.into(),
        };
        let too_large = B::IOError {
            err: io::Error::other(crate::conn::http::TooLarge(1024)),
        };
        let cases: Vec<(&str, B, Code)> = vec![
            ("404 page", server(404, "page not found"), Code::NotDocker),
            ("503", server(503, "<title>503</title>"), Code::ApiError),
            ("403", server(403, "authz plugin says no"), Code::ApiError),
            (
                "Go's plain HTTP on a TLS port",
                server(400, "Client sent an HTTP request to an HTTPS server."),
                Code::TlsExpected,
            ),
            (
                "not JSON",
                B::JsonDataError {
                    message: "x".into(),
                    column: 1,
                },
                Code::NotDocker,
            ),
            ("endless body", too_large, Code::NotDocker),
            ("deadline", B::RequestTimeoutError, Code::Timeout),
        ];
        let obs = Observed::default();
        for (case, e, want) in cases {
            let f = api_failure(&e, "GET /version", &obs, None, &ctx("h"));
            assert_eq!(f.code, want, "{case}: {f:?}");
        }
    }
}
