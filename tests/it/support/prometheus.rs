//! A real Prometheus server (Debian package) on loopback, its own temp dir
//! and TSDB, scraping the targets a test gives it; queried over its HTTP API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::procs::{free_port, quiet, scratch_dir, spawn_owned, wait_tcp};

pub struct Prometheus {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fail with the package name when a binary is missing (no silent skip).
pub fn require(bin: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{bin} not found: install the Debian package `{package}`"
    );
}

/// Start Prometheus scraping `targets` (host:port) every second at /metrics.
pub fn start(tag: &str, targets: &[String]) -> Prometheus {
    require("prometheus", "prometheus");
    let dir = scratch_dir(&format!("prometheus-{tag}"));
    let list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let conf = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: dctx\n    static_configs:\n      - targets: [{list}]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), conf).unwrap();
    let port = free_port();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!(
        "--config.file={}",
        dir.join("prometheus.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        dir.join("data").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
    .current_dir(&dir);
    let log = dir.join("prometheus.log");
    let mut child = spawn_owned(quiet(cmd, &log));
    let addr = format!("127.0.0.1:{port}");
    wait_tcp(&addr, &mut child, "prometheus", &log);
    // It listens before its TSDB is open; the API answers 503 until ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_get_status(&addr, "/-/ready").0.contains(" 200 ") {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready within 60 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Prometheus { port, dir, child }
}

impl Prometheus {
    /// GET an API path; returns the JSON body.
    pub fn get(&self, path_and_query: &str) -> serde_json::Value {
        let body = http_get(&format!("127.0.0.1:{}", self.port), path_and_query);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// Instant query; the `result` array.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let q = url_encode(promql);
        let v = self.get(&format!("/api/v1/query?query={q}"));
        assert_eq!(v["status"], "success", "{v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Poll `promql` until `done(result)` (scrapes every second), up to 60 s.
    pub fn wait_for(
        &self,
        promql: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.query(promql);
            if done(&r) {
                return r;
            }
            if Instant::now() > deadline {
                let targets = self.get("/api/v1/targets");
                panic!("{promql}: not satisfied within 60 s; last result {r:?}; targets {targets}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP/1.0 GET (the test's own client, not the code under test); the body.
pub fn http_get(addr: &str, path: &str) -> String {
    let (status, body) = http_get_status(addr, path);
    assert!(status.contains(" 200 "), "GET {path}: {status}\n{body}");
    body
}

/// Status line and body.
pub fn http_get_status(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}
