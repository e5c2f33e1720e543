//! The probe against real peers on loopback: the shared TLS dockerd, an
//! nginx with one server block per failure, and in-process misbehaving
//! peers. Library level: targets are built directly from test certs.

use std::time::{Duration, Instant};

use dctx::conn::Target;
use dctx::probe::{self, Code, Phase, Report, Severity, Status, StepKind, StepState};
use zeroize::Zeroizing;

use crate::support::peers;
use crate::support::snap::{Filters, text_snapshot};
use crate::support::{Issued, Leaf};
use crate::support::{TestCa, dockerd, free_port};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tls_target(name: &str, host: &str, ca: Option<&str>, client: Option<&Issued>) -> Target {
    Target {
        name: name.into(),
        host: host.into(),
        tls: true,
        skip_verify: false,
        ca_pem: ca.map(|c| c.as_bytes().to_vec()),
        cert_pem: client.map(|c| c.cert_pem.as_bytes().to_vec()),
        key_pem: client.map(|c| Zeroizing::new(c.key_pem.as_bytes().to_vec())),
    }
}

/// A TLS target with dockerd's CA and its valid client cert.
fn good(name: &str, host: &str) -> Target {
    let d = dockerd();
    tls_target(name, host, Some(&d.ca.cert_pem), Some(&d.client))
}

fn plain(name: &str, host: &str) -> Target {
    Target {
        name: name.into(),
        host: host.into(),
        tls: false,
        skip_verify: false,
        ca_pem: None,
        cert_pem: None,
        key_pem: None,
    }
}

fn run_secs(t: &Target, secs: f64) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(probe::run(t, Duration::from_secs_f64(secs), now()))
}

fn run(t: &Target) -> Report {
    run_secs(t, 10.0)
}

fn front(name: &str) -> String {
    format!("tcp://127.0.0.1:{}", peers::bed().port(name))
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

/// Every finding of `r` as `check --json` prints them (code, severity,
/// message, fix and its commands), snapshotted as `name`.
fn findings_snapshot(r: &Report, name: &str) {
    let text = serde_json::to_string_pretty(&r.findings).unwrap();
    text_snapshot!(Filters::daemon(), name, text);
}

#[track_caller]
fn assert_code(r: &Report, code: Code, status: Status) {
    assert!(
        r.has(code),
        "{}: expected {code}, got {:?}\n{:#?}",
        r.name,
        codes(r),
        r.findings
    );
    assert_eq!(r.status, status, "{}: {:#?}", r.name, r.findings);
    let f = r.finding(code).unwrap();
    assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:?}");
}

// ------------------------------------------------------------------ healthy

#[test]
fn healthy_tls_dockerd() {
    let d = dockerd();
    let r = run(&good("prod", &d.host));
    assert_eq!(r.status, Status::Ok, "{:#?}", r.findings);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    let docker = r.docker.as_ref().expect("docker info");
    assert_eq!(docker.version, d.version);
    assert!(!docker.api_version.is_empty());
    assert_eq!(docker.os, "linux");
    assert!(docker.containers_running.is_some());
    assert!(r.latency_ms.is_some());
    let sc = r.server_cert.as_ref().unwrap();
    assert!(sc.days_left > 300, "{sc:?}");
    assert!(sc.sans.contains(&"IP:127.0.0.1".to_string()));
    assert!(r.client_cert.as_ref().unwrap().days_left > 300);
    for k in StepKind::ALL {
        let s = r.step(k).unwrap();
        assert_eq!(s.state, StepState::Ok, "{s:?}");
    }
    // JSON shape.
    let v: serde_json::Value =
        serde_json::from_str(&dctx::output::probe_json::check(std::slice::from_ref(&r))).unwrap();
    let o = &v[0];
    assert_eq!(o["name"], "prod");
    assert_eq!(o["status"], "ok");
    assert_eq!(o["docker"]["version"], d.version.as_str());
    assert!(o["latency_ms"].is_u64());
    assert!(o["server_cert"]["days_left"].is_i64());
    assert!(o["client_cert"]["not_after"].is_string());
    assert!(o["findings"].as_array().unwrap().is_empty());
    assert!(o.get("steps").is_none());
}

#[test]
fn healthy_unix_socket() {
    let d = dockerd();
    let r = run(&plain("local", &format!("unix://{}", d.socket.display())));
    assert_eq!(r.status, Status::Ok, "{:#?}", r.findings);
    assert_eq!(r.docker.as_ref().unwrap().version, d.version);
    // No TCP and no TLS on a unix socket: "connect", and no TLS layers.
    assert!(r.step(StepKind::TlsHandshake).is_none(), "{:#?}", r.steps);
    assert_eq!(r.step(StepKind::Connect).unwrap().name, "connect");
}

#[test]
fn missing_unix_socket_is_refused() {
    let r = run(&plain("gone", "unix:///nonexistent/dctx/docker.sock"));
    assert_code(&r, Code::ConnectionRefused, Status::Fail);
}

#[test]
fn nginx_mtls_front_is_ok() {
    let r = run(&good("front", &front("front_ok")));
    assert_eq!(r.status, Status::Ok, "{:#?}", r.findings);
    assert_eq!(r.docker.as_ref().unwrap().version, dockerd().version);
}

/// A healthy probe is one TCP connection (one TLS handshake, the API calls
/// pipelined on it): counted by a relay in front of the real dockerd.
#[test]
fn healthy_probe_opens_one_connection() {
    let d = dockerd();
    let (port, accepted) = peers::relay(d.host.trim_start_matches("tcp://"));
    let r = run(&good("relayed", &format!("tcp://127.0.0.1:{port}")));
    assert_eq!(r.status, Status::Ok, "{:#?}", r.findings);
    assert_eq!(r.docker.as_ref().unwrap().version, d.version);
    assert!(r.docker.as_ref().unwrap().containers_running.is_some());
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A failing probe still opens the second, diagnosing connection: a 503
/// behind a healthy handshake is diagnosed by bollard on a fresh one.
#[test]
fn unhealthy_answer_gets_a_second_connection() {
    let (port, accepted) = peers::relay(&format!("127.0.0.1:{}", peers::bed().port("api_error")));
    let r = run(&good("relayed-503", &format!("tcp://127.0.0.1:{port}")));
    assert_code(&r, Code::ApiError, Status::Fail);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

// ------------------------------------------------------------------ server cert

#[test]
fn name_mismatch_lists_names_and_ip() {
    let r = run(&good("ws", &front("wrong_san")));
    assert_code(&r, Code::NameMismatch, Status::Fail);
    // The names it has (DNS:wrong.example…, no IP SAN); the reissue keeps
    // both old names and adds the dialled IP (subjectAltName=…).
    findings_snapshot(&r, "name-mismatch-by-ip");
    let f = r.finding(Code::NameMismatch).unwrap();
    assert!(
        f.fix_alternatives[0].starts_with(
            "dctx pki --dir . server --host wrong.example --host other.example --host 127.0.0.1 "
        ),
        "{:?}",
        f.fix_alternatives
    );
    // Nothing else is wrong with it: the chain is fine.
    assert_eq!(r.step(StepKind::ServerChain).unwrap().state, StepState::Ok);
    // Never "ok" after the unverified pass: the API steps did not run.
    assert!(r.docker.is_none());
}

#[test]
fn name_mismatch_by_dns_name() {
    let port = peers::bed().port("wrong_san");
    let r = run(&good("ws", &format!("tcp://localhost:{port}")));
    assert_code(&r, Code::NameMismatch, Status::Fail);
    // No "no IP SAN" when a name was dialled.
    findings_snapshot(&r, "name-mismatch-by-name");
}

#[test]
fn cn_only_server_cert() {
    let r = run(&good("cn", &front("cn_only")));
    assert_code(&r, Code::CnOnly, Status::Fail);
    assert!(!r.has(Code::NameMismatch));
}

#[test]
fn server_cert_from_other_ca() {
    let r = run(&good("oca", &front("other_ca")));
    assert_code(&r, Code::UnknownCa, Status::Fail);
    // Both CAs by name, and the AKI/SKI that do not match.
    findings_snapshot(&r, "server-cert-other-ca");
}

#[test]
fn wrong_ca_in_profile_against_dockerd() {
    let d = dockerd();
    let other = TestCa::new("dctx unrelated CA");
    let r = run(&tls_target(
        "wca",
        &d.host,
        Some(&other.cert_pem),
        Some(&d.client),
    ));
    assert_code(&r, Code::UnknownCa, Status::Fail);
}

#[test]
fn expired_server_cert() {
    let r = run(&good("exp", &front("expired")));
    assert_code(&r, Code::ServerCertExpired, Status::Fail);
    assert_eq!(r.step(StepKind::ServerChain).unwrap().state, StepState::Ok);
    assert!(r.server_cert.as_ref().unwrap().days_left < 0);
}

#[test]
fn not_yet_valid_server_cert() {
    let r = run(&good("ny", &front("not_yet")));
    assert_code(&r, Code::ServerCertNotYetValid, Status::Fail);
    // Points at the clock.
    findings_snapshot(&r, "server-cert-not-yet-valid");
}

/// An X.509 v1 server certificate (openssl x509 -req without -extfile):
/// once the raw `Other(OtherError(UnsupportedCertVersion))` with an
/// unrelated fix.
#[test]
fn v1_server_cert_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let sh = |script: &str| {
        let out = std::process::Command::new("bash")
            .args(["-ec", script])
            .current_dir(dir.path())
            .output()
            .expect("bash and openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem \
          -out ca.pem -days 400 -subj /CN=v1-test-ca 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
          -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 400 \
          -out cert.pem 2>/dev/null
        openssl x509 -in cert.pem -noout -text | grep -q 'Version: 1 (0x0)'",
    );
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let d = dockerd();
    let server = Issued {
        cert_pem: read("cert.pem"),
        key_pem: read("key.pem"),
    };
    let port = peers::rustls_tls12_mtls(&server, &d.ca.cert_pem);
    let ca = read("ca.pem");
    let r = run(&tls_target(
        "v1",
        &format!("tcp://127.0.0.1:{port}"),
        Some(&ca),
        Some(&d.client),
    ));
    assert_eq!(r.status, Status::Fail, "{:#?}", r.findings);
    // One cause (an X.509 v1 certificate, signed without -extfile), one
    // finding, one reissue with -extfile; no raw OtherError.
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].code, Code::CnOnly);
    findings_snapshot(&r, "v1-server-cert");
}

#[test]
fn server_cert_without_server_auth() {
    let r = run(&good("eku", &front("no_server_eku")));
    assert_code(&r, Code::ServerCertBadUsage, Status::Fail);
}

#[test]
fn expiring_server_cert_is_a_warning() {
    let r = run(&good("soon", &front("expiring")));
    assert_code(&r, Code::ServerCertExpiring, Status::Warn);
    assert_eq!(
        r.finding(Code::ServerCertExpiring).unwrap().severity,
        Severity::Warning
    );
    // Still fully probed.
    assert_eq!(r.docker.as_ref().unwrap().version, dockerd().version);
}

#[test]
fn skip_verify_is_a_warning_and_still_probes() {
    let d = dockerd();
    let other = TestCa::new("dctx unrelated CA 2");
    let mut t = tls_target("sv", &d.host, Some(&other.cert_pem), Some(&d.client));
    t.skip_verify = true;
    let r = run(&t);
    assert_code(&r, Code::SkipVerify, Status::Warn);
    assert_eq!(r.finding(Code::UnknownCa).unwrap().severity, Severity::Info);
    assert_eq!(r.docker.as_ref().unwrap().version, d.version);
}

// ------------------------------------------------------------------ client cert

#[test]
fn no_client_cert_against_dockerd() {
    let d = dockerd();
    let r = run(&tls_target("nocert", &d.host, Some(&d.ca.cert_pem), None));
    assert_code(&r, Code::ClientCertMissing, Status::Fail);
    assert_eq!(
        r.step(StepKind::ClientCertRequest).unwrap().state,
        StepState::Warn
    );
    assert_eq!(
        r.step(StepKind::ClientCertAccepted).unwrap().state,
        StepState::Fail
    );
    // The request step names the CA the daemon asks for.
    text_snapshot!(
        Filters::daemon(),
        "no-client-cert-request-step",
        r.step(StepKind::ClientCertRequest).unwrap().detail
    );
}

#[test]
fn no_client_cert_against_nginx_400() {
    // nginx completes the handshake and answers 400 "No required SSL certificate was sent".
    let d = dockerd();
    let r = run(&tls_target(
        "nocert",
        &front("front_ok"),
        Some(&d.ca.cert_pem),
        None,
    ));
    assert_code(&r, Code::ClientCertMissing, Status::Fail);
}

#[test]
fn client_cert_from_other_ca_against_dockerd() {
    let d = dockerd();
    let foreign = peers::bed().other_ca.client("foreign-client");
    let r = run(&tls_target(
        "foreign",
        &d.host,
        Some(&d.ca.cert_pem),
        Some(&foreign),
    ));
    assert_code(&r, Code::ClientCertRejected, Status::Fail);
    assert!(r.has(Code::ClientCaNotAccepted), "{:?}", codes(&r));
    // Which CA the daemon accepts, which one issued ours.
    findings_snapshot(&r, "client-cert-other-ca");
}

#[test]
fn nginx_client_ca_mismatch_answers_400() {
    // ssl_verify_client optional + ssl_client_certificate of another CA:
    // the CA hint lists only that CA and nginx answers "400 The SSL certificate error".
    let r = run(&good("nginx-oca", &front("client_other_ca")));
    assert_code(&r, Code::ClientCertRejected, Status::Fail);
    assert!(r.has(Code::ClientCaNotAccepted), "{:?}", codes(&r));
    // nginx's "The SSL certificate error" is quoted.
    findings_snapshot(&r, "nginx-client-ca-mismatch");
}

#[test]
fn expired_client_cert() {
    let d = dockerd();
    let c = d.ca.issue(&Leaf::client("old-client").days(-3));
    let r = run(&tls_target("oldc", &d.host, Some(&d.ca.cert_pem), Some(&c)));
    assert_code(&r, Code::ClientCertExpired, Status::Fail);
    // The daemon's refusal is its consequence: one root cause, one finding.
    assert!(!r.has(Code::ClientCertRejected), "{:?}", codes(&r));
    assert!(r.client_cert.as_ref().unwrap().days_left < 0);
}

/// Once reported as client-cert-expired.
#[test]
fn not_yet_valid_client_cert() {
    let d = dockerd();
    let mut leaf = Leaf::client("future-client");
    leaf.not_before = time::OffsetDateTime::now_utc() + time::Duration::days(3);
    let c = d.ca.issue(&leaf);
    let r = run(&tls_target("futc", &d.host, Some(&d.ca.cert_pem), Some(&c)));
    assert_code(&r, Code::ClientCertNotYetValid, Status::Fail);
    assert!(!r.has(Code::ClientCertExpired), "{:?}", codes(&r));
    // Points at clock skew.
    findings_snapshot(&r, "client-cert-not-yet-valid");
}

#[test]
fn expiring_client_cert_is_a_warning() {
    let d = dockerd();
    let c = d.ca.issue(&Leaf::client("soon-client").days(7));
    let r = run(&tls_target(
        "soonc",
        &d.host,
        Some(&d.ca.cert_pem),
        Some(&c),
    ));
    assert_code(&r, Code::ClientCertExpiring, Status::Warn);
    assert_eq!(r.docker.as_ref().unwrap().version, d.version);
}

#[test]
fn client_cert_without_client_auth() {
    let d = dockerd();
    let mut leaf = Leaf::client("server-ish");
    leaf.eku = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let c = d.ca.issue(&leaf);
    let r = run(&tls_target("ekuc", &d.host, Some(&d.ca.cert_pem), Some(&c)));
    assert_code(&r, Code::ClientCertBadUsage, Status::Fail);
}

#[test]
fn key_mismatch() {
    let d = dockerd();
    let other = d.ca.client("someone-else");
    let mixed = Issued {
        cert_pem: d.client.cert_pem.clone(),
        key_pem: other.key_pem,
    };
    let r = run(&tls_target(
        "km",
        &d.host,
        Some(&d.ca.cert_pem),
        Some(&mixed),
    ));
    assert_code(&r, Code::KeyMismatch, Status::Fail);
}

#[test]
fn client_auth_not_required_is_an_error() {
    // Root for whoever reaches the port: an error, so `check` exits 3.
    let r = run(&good("open", &front("front_noverify")));
    assert_code(&r, Code::ClientAuthNotRequired, Status::Fail);
    assert_eq!(r.docker.as_ref().unwrap().version, dockerd().version);
    assert_eq!(
        r.step(StepKind::ClientCertRequest).unwrap().state,
        StepState::Fail
    );
}

// ------------------------------------------------------------------ protocol mix-ups

#[test]
fn plain_http_daemon_with_tls_profile() {
    let r = run(&good("ph", &front("plain_http")));
    assert_code(&r, Code::PlainHttp, Status::Fail);
}

#[test]
fn plaintext_endpoint_is_a_warning() {
    let r = run(&plain("pt", &front("plain_http")));
    assert_code(&r, Code::PlaintextEndpoint, Status::Warn);
    assert_eq!(r.docker.as_ref().unwrap().version, dockerd().version);
}

#[test]
fn tls_expected_against_dockerd() {
    let r = run(&plain("te", &dockerd().host));
    assert_code(&r, Code::TlsExpected, Status::Fail);
}

#[test]
fn tls_expected_against_nginx() {
    let r = run(&plain("te2", &front("front_ok")));
    assert_code(&r, Code::TlsExpected, Status::Fail);
}

#[test]
fn not_docker_https_page() {
    let r = run(&good("nd", &front("not_docker")));
    assert_code(&r, Code::NotDocker, Status::Fail);
}

#[test]
fn api_error_503() {
    let r = run(&good("ae", &front("api_error")));
    assert_code(&r, Code::ApiError, Status::Fail);
    // The status it answered (503).
    findings_snapshot(&r, "api-error-503");
}

// ------------------------------------------------------------------ network

#[test]
fn connection_refused() {
    let r = run(&good("cr", &format!("tcp://127.0.0.1:{}", free_port())));
    assert_code(&r, Code::ConnectionRefused, Status::Fail);
    assert_eq!(r.step(StepKind::Connect).unwrap().state, StepState::Fail);
}

#[test]
fn dns_failure() {
    let r = run(&good("dns", "tcp://dctx-probe-test.invalid:2376"));
    assert_code(&r, Code::DnsFailure, Status::Fail);
}

#[test]
fn unix_path_through_a_file_fails_to_connect() {
    let r = run(&plain("notdir", "unix:///etc/hostname/docker.sock"));
    assert_code(&r, Code::ConnectFailed, Status::Fail);
}

#[test]
fn system_roots_do_not_trust_a_private_ca() {
    let d = dockerd();
    let r = run(&tls_target("sys", &d.host, None, Some(&d.client)));
    assert_code(&r, Code::UnknownCa, Status::Fail);
    // Says the system trust store was used.
    findings_snapshot(&r, "system-roots-private-ca");
}

#[test]
fn npipe_is_not_supported() {
    let r = run(&plain("npipe", "npipe:////./pipe/docker_engine"));
    assert_code(&r, Code::UnsupportedEndpoint, Status::Warn);
}

#[test]
fn unusable_profile() {
    let mut t = good("bad", &dockerd().host);
    t.ca_pem = Some(b"not a pem".to_vec());
    let r = run(&t);
    assert_code(&r, Code::InvalidProfile, Status::Fail);
}

#[test]
fn garbage_peer_is_not_tls() {
    let r = run_secs(
        &good("gb", &format!("tcp://127.0.0.1:{}", peers::garbage())),
        2.0,
    );
    assert_code(&r, Code::TlsError, Status::Fail);
    assert!(!r.has(Code::Timeout), "{:#?}", r.findings);
}

#[track_caller]
fn assert_timeout(t: &Target, secs: f64, phase: Phase) {
    let t0 = Instant::now();
    let r = run_secs(t, secs);
    let took = t0.elapsed();
    // The deadline is the feature; generous margin for a busy machine.
    assert!(
        took < Duration::from_secs_f64(secs + 3.0),
        "{}: took {took:?} with a {secs} s deadline",
        t.name
    );
    assert_code(&r, Code::Timeout, Status::Fail);
    assert_eq!(
        r.finding(Code::Timeout).unwrap().phase,
        Some(phase),
        "{:?}",
        r.findings
    );
}

#[test]
fn silent_peer_times_out_in_handshake() {
    let t = good("silent", &format!("tcp://127.0.0.1:{}", peers::silent()));
    assert_timeout(&t, 1.0, Phase::Handshake);
}

#[test]
fn silent_peer_times_out_in_response_without_tls() {
    let t = plain(
        "silent-plain",
        &format!("tcp://127.0.0.1:{}", peers::silent()),
    );
    assert_timeout(&t, 1.0, Phase::Response);
}

#[test]
fn slowloris_peer_times_out() {
    let t = good("slow", &format!("tcp://127.0.0.1:{}", peers::slowloris()));
    assert_timeout(&t, 1.0, Phase::Handshake);
}

#[test]
fn stalled_tls_record_times_out() {
    let t = good("stall", &format!("tcp://127.0.0.1:{}", peers::tls_stall()));
    assert_timeout(&t, 1.0, Phase::Handshake);
}

#[test]
fn dropped_syns_time_out_in_connect() {
    let port = peers::blackhole()
        .expect("could not fill a backlog-0 accept queue on 127.0.0.1, so SYNs are not dropped");
    let t = good("blackhole", &format!("tcp://127.0.0.1:{port}"));
    assert_timeout(&t, 1.0, Phase::Connect);
}

/// An endless body (or one announcing 100 GB) is cut at the cap and the
/// peer reported as not Docker, well within the deadline: before the cap,
/// the probe read until the deadline (or memory) ran out.
#[track_caller]
fn assert_hostile_is_not_docker(port: u16, step: StepKind) {
    let t = plain("hostile", &format!("tcp://127.0.0.1:{port}"));
    let r = run_secs(&t, 20.0);
    assert_code(&r, Code::NotDocker, Status::Fail);
    assert!(!r.has(Code::Timeout), "{:#?}", r.findings);
    let f = r.finding(Code::NotDocker).unwrap();
    assert!(f.message.contains("answered with more than"), "{f:?}");
    assert_eq!(
        r.step(step).unwrap().state,
        StepState::Fail,
        "{:#?}",
        r.steps
    );
}

#[test]
fn endless_ping_body_is_not_docker() {
    assert_hostile_is_not_docker(peers::endless_body(), StepKind::Ping);
}

#[test]
fn huge_version_body_is_not_docker() {
    assert_hostile_is_not_docker(peers::huge_version(), StepKind::Version);
}

// ------------------------------------------------------------------ many at once

#[test]
fn many_probes_run_concurrently() {
    let d = dockerd();
    let silent = peers::silent();
    let mut targets = Vec::new();
    for i in 0..50 {
        targets.push(good(&format!("d{i:02}"), &d.host));
    }
    for i in 0..8 {
        targets.push(good(
            &format!("r{i}"),
            &format!("tcp://127.0.0.1:{}", free_port()),
        ));
    }
    targets.push(good("silent", &format!("tcp://127.0.0.1:{silent}")));
    targets.push(plain("sock", &format!("unix://{}", d.socket.display())));
    let n = targets.len();
    let secs = 3.0;
    let opts = probe::Options::new(Duration::from_secs_f64(secs), now());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done2 = done.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let reports = rt.block_on(probe::run_all(targets, &opts, move |d, total| {
        assert_eq!(total, n);
        done2.store(d, std::sync::atomic::Ordering::SeqCst);
    }));
    let took = t0.elapsed();
    // Bounded by the deadline (the silent peer), not by the probe count.
    assert!(took < Duration::from_secs_f64(secs + 5.0), "took {took:?}");
    assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), n);
    assert_eq!(reports.len(), n);
    for (i, r) in reports.iter().enumerate().take(50) {
        assert_eq!(r.name, format!("d{i:02}"), "order kept");
        assert_eq!(r.status, Status::Ok, "{}: {:#?}", r.name, r.findings);
    }
    assert!(
        reports[50..58]
            .iter()
            .all(|r| r.has(Code::ConnectionRefused))
    );
    assert!(reports[58].has(Code::Timeout));
    assert_eq!(reports[59].status, Status::Ok);
    // The table has every column and a row per target.
    let table = dctx::output::health::render(&reports, None, false, 30);
    for h in dctx::output::health::HEADERS {
        assert!(table.lines().next().unwrap().contains(h), "{table}");
    }
    assert_eq!(table.lines().count(), n + 1);
    assert!(!table.contains('\x1b'));
}

#[test]
fn doctor_rendering_names_each_step() {
    let r = run(&good("ws", &front("wrong_san")));
    // Every step by its title, the failing one marked with its finding and
    // fix, and the status line.
    let out = dctx::output::doctor::render(&r, None, false);
    text_snapshot!(Filters::daemon(), "doctor-rendering-name-mismatch", out);
    let v: serde_json::Value = serde_json::from_str(&dctx::output::probe_json::doctor(&r)).unwrap();
    assert_eq!(v["status"], "fail");
    assert!(v["steps"].as_array().unwrap().len() >= 12);
    assert_eq!(v["findings"][0]["severity"], "error");
}

// ------------------------------------------------------------------ CLI (no profiles needed)

#[test]
fn cli_rejects_bad_timeouts_with_usage_status() {
    let sbx = crate::support::Sandbox::new();
    for args in [
        &["check", "--timeout", "0"][..],
        &["check", "--timeout", "nan"],
        &["check", "--timeout", "soon"],
        &["check", "--concurrency", "0"],
        &["doctor", "prod", "--timeout", "0"],
        &["doctor"],
    ] {
        let (code, err) = sbx.fails(args);
        assert_eq!(code, 2, "dctx {args:?}: {err}");
    }
    // Once a panic in tokio's semaphore (exit 101).
    for n in ["2305843009213693952", "4097", "0"] {
        crate::support::snap::dctx_snapshot!(
            Filters::daemon(),
            sbx.dctx_cmd(&["check", "--concurrency", n]),
            format!("concurrency-{n}")
        );
    }
}

#[test]
fn tls12_client_cert_rejected_during_handshake() {
    let d = dockerd();
    let port = peers::rustls_tls12_mtls(&d.ca.server(&["127.0.0.1"]), &d.ca.cert_pem);
    let foreign = peers::bed().other_ca.client("foreign-client");
    let host = format!("tcp://127.0.0.1:{port}");
    let r = run(&tls_target(
        "tls12",
        &host,
        Some(&d.ca.cert_pem),
        Some(&foreign),
    ));
    assert_code(&r, Code::ClientCertRejected, Status::Fail);
    assert!(r.has(Code::ClientCaNotAccepted), "{:?}", codes(&r));
    // Rejected during the handshake (TLS 1.2), not after it.
    findings_snapshot(&r, "tls12-client-cert-rejected");
    // Without any client certificate: missing, not rejected.
    let r = run(&tls_target("tls12-none", &host, Some(&d.ca.cert_pem), None));
    assert_code(&r, Code::ClientCertMissing, Status::Fail);
    // With the right one the handshake passes; the peer is not Docker.
    let r = run(&good("tls12-ok", &host));
    assert_code(&r, Code::NotDocker, Status::Fail);
    assert_eq!(
        r.step(StepKind::ClientCertAccepted).unwrap().state,
        StepState::Ok
    );
}

#[test]
fn optional_client_auth_without_cert_is_an_error() {
    // nginx `ssl_verify_client optional`: it asks, but answers without a certificate.
    let d = dockerd();
    let r = run(&tls_target(
        "opt",
        &front("client_other_ca"),
        Some(&d.ca.cert_pem),
        None,
    ));
    assert_code(&r, Code::ClientAuthNotRequired, Status::Fail);
    assert!(!r.has(Code::ClientCertMissing));
    // It asks for a certificate but does not require one.
    findings_snapshot(&r, "optional-client-auth");
    assert_eq!(r.docker.as_ref().unwrap().version, d.version);
}

#[test]
fn ipv6_loopback_literal() {
    let r = run(&good("v6", &format!("tcp://[::1]:{}", free_port())));
    assert!(
        r.has(Code::ConnectionRefused) || r.has(Code::ConnectFailed),
        "{:?}",
        codes(&r)
    );
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.step(StepKind::Resolve).unwrap().state, StepState::Ok);
}
