//! Prometheus output end to end: `check --format prometheus`, `dctx
//! metrics --listen` scraped by a real Prometheus, `--textfile`, promtool
//! on everything, and the example alert rules under `promtool test rules`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::support::prometheus::{self, http_get};
use crate::support::snap::{Filters, text_snapshot};
use crate::support::{Sandbox, assert_success, dockerd, free_port};

/// `prod` (the healthy shared dockerd) and `broken` (same material, a port
/// nothing listens on).
fn sandbox() -> Sandbox {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let dir = sb.client_bundle_named("bundle2", ["ca.pem", "cert.pem", "key.pem"]);
    let host = format!("tcp://127.0.0.1:{}", free_port());
    sb.ok(&[
        "add",
        "broken",
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &host,
    ]);
    sb
}

/// `promtool check metrics` on `text`: must pass without a complaint.
fn promtool_check_metrics(text: &str) {
    prometheus::require("promtool", "prometheus");
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_success(&out, &format!("promtool check metrics on\n{text}"));
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.trim().is_empty(),
        "promtool complained: {said}\n{text}"
    );
}

fn sample<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap())
}

#[test]
fn check_format_prometheus_is_valid_and_says_who_is_up() {
    let d = dockerd();
    let sb = sandbox();
    let out = sb
        .dctx()
        .args(["check", "--format", "prometheus"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    promtool_check_metrics(&text);
    let up_prod = format!("dctx_up{{context=\"prod\",endpoint=\"{}\"}}", d.host);
    assert_eq!(sample(&text, &up_prod), Some("1"), "{text}");
    assert_eq!(
        sample(
            &text,
            "dctx_up{context=\"broken\",endpoint=\"tcp://127.0.0.1:"
        ),
        Some("0"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "dctx_finding{context=\"broken\",code=\"connection-refused\",severity=\"error\"}"
        ),
        Some("1"),
        "{text}"
    );
    assert!(
        !text.contains("dctx_finding{context=\"prod\""),
        "the healthy daemon has no findings: {text}"
    );
    let info = format!(
        "dctx_docker_info{{context=\"prod\",version=\"{}\",",
        d.version
    );
    assert_eq!(sample(&text, &info), Some("1"), "{text}");
    // Certificates of every role, with the x509 exporter's labels.
    for (role, cn) in [("client", "dctx-test-client"), ("server", ""), ("ca", "")] {
        let prefix =
            format!("x509_cert_not_after{{context=\"prod\",role=\"{role}\",subject_CN=\"{cn}");
        let v = sample(&text, &prefix).unwrap_or_else(|| panic!("{prefix}: {text}"));
        assert!(v.parse::<i64>().unwrap() > 1_700_000_000, "{v}");
        let expired = format!("x509_cert_expired{{context=\"prod\",role=\"{role}\",");
        assert_eq!(sample(&text, &expired), Some("0"), "{text}");
    }
    // The broken front still shows its local certificates (client, CA), not a server one.
    assert!(
        text.contains("x509_cert_not_after{context=\"broken\",role=\"client\""),
        "{text}"
    );
    assert!(
        !text.contains("x509_cert_not_after{context=\"broken\",role=\"server\""),
        "{text}"
    );
}

#[test]
fn warn_days_sets_the_threshold_for_client_server_and_ca() {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let codes = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["check", "prod", "--json"];
        args.extend_from_slice(extra);
        let out = sb.dctx().args(&args).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes(&[]), Vec::<String>::new());
    let far = codes(&["--warn-days", "100000"]);
    for code in [
        "client-cert-expiring",
        "server-cert-expiring",
        "ca-cert-expiring",
    ] {
        assert!(far.iter().any(|c| c == code), "{code}: {far:?}");
    }
}

/// `dctx metrics --listen 127.0.0.1:0 ARGS…`; returns the child and its address.
fn serve(sb: &Sandbox, extra: &[&str]) -> (KillOnDrop, String) {
    let mut child = sb
        .dctx()
        .args(["metrics", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("dctx: serving metrics on http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    (KillOnDrop(child), addr)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_dctx_metrics_up_and_down() {
    let sb = sandbox();
    let (_server, addr) = serve(&sb, &["--min-interval", "1"]);
    let prom = prometheus::start("scrape", std::slice::from_ref(&addr));
    // prod, broken and docker's default (DOCKER_HOST at the test daemon).
    let up = prom.wait_for("dctx_up", |r| r.len() == 3);
    let value = |ctx: &str| {
        up.iter()
            .find(|s| s["metric"]["context"] == ctx)
            .map(|s| s["value"][1].as_str().unwrap().to_string())
    };
    assert_eq!(value("prod").as_deref(), Some("1"), "{up:?}");
    assert_eq!(value("broken").as_deref(), Some("0"), "{up:?}");
    assert_eq!(value("default").as_deref(), Some("1"), "{up:?}");
    assert_eq!(up[0]["metric"]["job"], "dctx");
    let f = prom.query("dctx_finding{code=\"connection-refused\"}");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["metric"]["context"], "broken");
    assert_eq!(f[0]["metric"]["severity"], "error");
    let certs = prom.query("x509_cert_expired{context=\"prod\"}");
    let mut roles: Vec<&str> = certs
        .iter()
        .map(|s| s["metric"]["role"].as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["ca", "client", "server"], "{certs:?}");
    // The scrape answer itself passes promtool.
    promtool_check_metrics(&http_get(&addr, "/metrics"));
}

#[test]
fn min_interval_serves_the_last_result_in_between() {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let (_cached, addr) = serve(&sb, &["--min-interval", "3600"]);
    let first = http_get(&addr, "/metrics");
    assert!(first.contains("dctx_up{context=\"prod\""), "{first}");
    // A new profile is not probed until the interval has passed: the
    // second scrape is the first result, byte for byte.
    sb.add_client_profile("late", &[]);
    let second = http_get(&addr, "/metrics");
    assert_eq!(first, second);
    // With no minimum, every scrape probes (and resolves the profiles) again.
    let (_fresh, addr0) = serve(&sb, &["--min-interval", "0"]);
    let now = http_get(&addr0, "/metrics");
    assert!(now.contains("dctx_up{context=\"late\""), "{now}");
    let (status, _) = prometheus::http_get_status(&addr0, "/nope");
    assert!(status.contains("404"), "{status}");
}

#[test]
fn textfile_is_written_atomically_for_node_exporter() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let dir = sb.path("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dctx.prom");
    std::fs::write(&path, "stale\n").unwrap();
    sb.ok(&["metrics", "--textfile", path.to_str().unwrap()]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("dctx_up{context=\"prod\""), "{text}");
    promtool_check_metrics(&text);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dctx.prom"], "no temp file left behind");
}

#[test]
fn example_alert_rules_pass_promtool_tests() {
    prometheus::require("promtool", "prometheus");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    for args in [
        vec!["check", "rules", "dctx-rules.yml"],
        vec!["test", "rules", "dctx-rules.test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_success(&out, &format!("promtool {}", args.join(" ")));
        assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS"));
    }
}

/// CPU ticks (user + system) a process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_exhausted_file_table_is_waited_out_not_spun_on() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let mut cmd = sb.dctx();
    cmd.args([
        "metrics",
        "--listen",
        "127.0.0.1:0",
        "--min-interval",
        "3600",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    // 64 descriptors: a few dozen idle connections exhaust them (EMFILE).
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = KillOnDrop(child);
    let addr = line
        .trim()
        .strip_prefix("dctx: serving metrics on http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    let first = http_get(&addr, "/metrics");
    assert!(first.contains("dctx_up{context=\"prod\""), "{first}");
    let idle: Vec<std::net::TcpStream> = (0..100)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // The accept loop now fails with EMFILE; it must wait, not spin: over
    // 3 s it may use a quarter second of CPU (a backing-off loop used 0.01 s,
    // the spinning one 0.68 s on a loaded 2-core machine).
    let pid = server.0.id();
    let before = cpu_ticks(pid);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let used = cpu_ticks(pid) - before;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(used < hz / 4, "{used} ticks of CPU in 3 s at EMFILE");
    // Once the idle clients go, the server answers again.
    drop(idle);
    assert_eq!(http_get(&addr, "/metrics"), first);
}

/// `--concurrency` is range-checked like `check`'s: a huge count is a usage
/// error (exit 2), not a panic in tokio's semaphore (exit 101).
#[test]
fn metrics_rejects_out_of_range_concurrency_with_usage_status() {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let out = sb.path("metrics.prom");
    // Each a usage error (exit 2): in the range 1..=4096.
    let mut said = String::new();
    for n in ["2305843009213693952", "99999999", "4097", "0"] {
        let args = [
            "metrics",
            "--textfile",
            out.to_str().unwrap(),
            "--concurrency",
            n,
        ];
        let run = sb.dctx_cmd(&args).output().unwrap();
        said += &format!(
            "--concurrency {n}\n{}\n",
            crate::support::snap::render(&run)
        );
    }
    text_snapshot!(Filters::sandbox(&sb), "concurrency-out-of-range", said);
    assert!(!out.exists(), "nothing was probed or written");
}

/// `request` sent raw to `addr`; everything the server sends until it closes.
fn raw_http(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&out).into_owned()
}

/// The scrape endpoint's HTTP: the exposition's content type, HEAD without
/// a body, 405 for other methods, a query ignored, one answer per
/// connection, and a client that never finishes its head is cut off.
#[test]
fn the_metrics_endpoint_speaks_plain_http() {
    let sb = Sandbox::new().with_local_daemon();
    sb.add_client_profile("prod", &[]);
    let (_server, addr) = serve(&sb, &["--min-interval", "3600"]);
    let header = |resp: &str, name: &str| -> Option<String> {
        let head = resp.split("\r\n\r\n").next().unwrap();
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let get = raw_http(
        &addr,
        b"GET /metrics?x=1 HTTP/1.1\r\nHost: dctx\r\nConnection: keep-alive\r\n\r\n",
    );
    assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "{get}");
    assert_eq!(
        header(&get, "content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = get.split_once("\r\n\r\n").unwrap().1;
    assert!(body.contains("dctx_up{context=\"prod\""), "{body}");
    assert_eq!(header(&get, "content-length"), Some(body.len().to_string()));
    // Keep-alive asked for, one answer given and the connection closed
    // (raw_http returned): the connection cap counts connections.
    assert_eq!(header(&get, "connection").as_deref(), Some("close"));

    let head = raw_http(&addr, b"HEAD /metrics HTTP/1.1\r\nHost: dctx\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(
        head.split_once("\r\n\r\n").unwrap().1,
        "",
        "HEAD has no body"
    );
    assert_eq!(
        header(&head, "content-length"),
        Some(body.len().to_string())
    );

    let post = raw_http(
        &addr,
        b"POST /metrics HTTP/1.1\r\nHost: dctx\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert_eq!(header(&post, "allow").as_deref(), Some("GET, HEAD"));
    // An HTTP/1.0 client gets an HTTP/1.0 answer.
    let root = raw_http(&addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(root.starts_with("HTTP/1.0 200 "), "{root}");
    assert!(
        root.ends_with("\r\n\r\ndctx metrics exporter: see /metrics\n"),
        "{root}"
    );

    // A head that never ends is cut off (after 10 s) without an answer.
    let slow = raw_http(&addr, b"GET /metrics HTTP/1.1\r\nHost: dctx\r\n");
    assert!(!slow.contains(" 200 "), "{slow}");
    // The server still answers.
    assert!(http_get(&addr, "/metrics").contains("dctx_up{context=\"prod\""));
}
