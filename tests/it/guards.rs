//! The proxy's guardrails against every request form dockerd routes: each
//! form goes through `dctx proxy` and straight to the shared dockerd's unix
//! socket, and the daemon's state (the container still runs, the volume
//! still exists, no file appeared) is the judge, not only the proxy's answer.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::proxy::{Cleanup, Running, direct, direct_ok, docker, start};
use crate::support::image::busybox_image;
use crate::support::{Sandbox, dockerd};

/// One HTTP/1.1 exchange; after a 101 the stream is the tunnel.
pub(crate) struct Resp {
    pub status: u16,
    pub body: String,
    pub stream: UnixStream,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Send one request on a fresh connection (`Connection: close` unless the
/// caller sets Connection) and read the response head and body.
pub(crate) fn exchange(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("connection"))
    {
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "{method} {path}: closed before a response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut rest = buf[end..].to_vec();
    let bodyless = status == 101 || status == 204 || status == 304 || method == "HEAD";
    if !bodyless {
        let len = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok());
        let chunked =
            header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        loop {
            let done = match len {
                Some(l) => rest.len() >= l,
                None => chunked && rest.ends_with(b"0\r\n\r\n"),
            };
            if done {
                break;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
    }
    if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        rest = dechunk(&rest);
    }
    Resp {
        status,
        body: String::from_utf8_lossy(&rest).into_owned(),
        stream: s,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..i])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}

/// A masked (client → server) binary websocket frame.
fn ws_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x5a, 0x17, 0xc3, 0x2e];
    let mut f = vec![0x82, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

const WS_HEADERS: &[(&str, &str)] = &[
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
];
const H2C: &[(&str, &str)] = &[("Upgrade", "h2c"), ("Connection", "Upgrade")];
/// BuildKit session headers; each session needs its own id.
macro_rules! session {
    ($id:literal) => {
        &[
            ("Upgrade", "h2c"),
            ("Connection", "Upgrade"),
            ("X-Docker-Expose-Session-Uuid", $id),
            ("X-Docker-Expose-Session-Name", "dctx-guard"),
            ("X-Docker-Expose-Session-Sharedkey", "dctx-guard"),
        ]
    };
}

/// What a request could act on, and how to see whether it did.
enum Victim {
    /// A running container (kill, stop, restart, pause, rm change its state).
    Container(String),
    /// A volume (rm, prune remove it).
    Volume(String),
    /// A stopped container with a unique label (container prune removes it).
    Stopped(String),
    /// A container running `sh` on an open stdin: a write to its stdin
    /// (websocket attach) creates /owned.
    Stdin(String),
    /// A tunnel: the daemon acts by switching protocols (101).
    Tunnel,
}

impl Victim {
    /// The daemon's state as far as this victim goes.
    fn state(&self) -> String {
        match self {
            Victim::Container(id) | Victim::Stopped(id) => {
                let out = direct(&[
                    "inspect",
                    "-f",
                    "{{.State.Status}} {{.State.Paused}} {{.State.Pid}} {{.State.StartedAt}}",
                    id,
                ]);
                if out.status.success() {
                    String::from_utf8_lossy(&out.stdout).trim().to_string()
                } else {
                    "gone".into()
                }
            }
            Victim::Volume(v) => {
                if direct(&["volume", "inspect", v]).status.success() {
                    "exists".into()
                } else {
                    "gone".into()
                }
            }
            Victim::Stdin(id) => {
                let out = direct(&["exec", id, "ls", "/"]);
                assert!(out.status.success(), "exec ls in {id}: {out:?}");
                let ls = String::from_utf8_lossy(&out.stdout);
                format!("owned={}", ls.lines().any(|l| l == "owned"))
            }
            Victim::Tunnel => "no state".into(),
        }
    }
}

/// One request form.
struct Form {
    method: &'static str,
    path: String,
    headers: &'static [(&'static str, &'static str)],
    victim: Victim,
    /// dockerd acts on this form (the corpus must prove it, so a guard test
    /// cannot pass on forms the daemon ignores anyway).
    live: bool,
}

fn run_victim(args: &[&str], cleanup: &mut Vec<String>) -> String {
    let mut all = vec!["run", "-d", "--network", "none", "--label", "dctx-guard=1"];
    all.extend_from_slice(args);
    let id = direct_ok(&all).trim().to_string();
    cleanup.push(id.clone());
    id
}

fn sleeper(cleanup: &mut Vec<String>) -> String {
    run_victim(&[busybox_image(), "sleep", "600"], cleanup)
}

/// `{"label":["dctx-guard-prune=TAG"]}`, percent-encoded for a query.
fn label_filter(tag: &str) -> String {
    format!("%7B%22label%22%3A%5B%22dctx-guard-prune%3D{tag}%22%5D%7D")
}

/// Version prefixes dockerd routes (`/v{version:[0-9.]+}`), and whether
/// its version check then accepts them (1.12 ≤ v ≤ the daemon's 1.41).
const VERSIONS: &[(&str, bool)] = &[
    ("", true),
    ("/v1.41", true),
    ("/v1.41.0", true),
    ("/v1.41.", true),
    ("/v1.24.0", true),
    ("/v1.40.9", true),
    ("/v1.", false),
];

/// Every destructive form and tunnel, each on its own victim.
fn destructive_forms(cleanup: &mut Vec<String>) -> Vec<Form> {
    let mut forms = Vec::new();
    for &(v, live) in VERSIONS {
        for action in ["kill", "stop?t=0", "restart?t=0"] {
            let id = sleeper(cleanup);
            forms.push(Form {
                method: "POST",
                path: format!("{v}/containers/{id}/{action}"),
                headers: &[],
                victim: Victim::Container(id),
                live,
            });
        }
    }
    // Path tricks: percent-encoding and an encoded slash are decoded by the
    // router (live); double slashes, dot segments and a trailing slash are
    // redirected or not found by dockerd, and refused by the proxy anyway.
    for (tmpl, live) in [
        ("/v1.41.0/containers/{}/%6bill", true),
        ("/v1.41.0/containers%2F{}%2Fkill", true),
        ("/v1.41.0//containers/{}/kill", false),
        ("/v1.41.0/x/../containers/{}/kill", false),
        ("/v1.41.0/containers/{}/kill/", false),
    ] {
        let id = sleeper(cleanup);
        forms.push(Form {
            method: "POST",
            path: tmpl.replace("{}", &id),
            headers: &[],
            victim: Victim::Container(id),
            live,
        });
    }
    // Lower-case methods are not routed by dockerd; refused all the same.
    let id = sleeper(cleanup);
    forms.push(Form {
        method: "post",
        path: format!("/v1.41.0/containers/{id}/kill"),
        headers: &[],
        victim: Victim::Container(id),
        live: false,
    });
    for v in ["", "/v1.41.0", "/v1.24.0"] {
        let id = sleeper(cleanup);
        forms.push(Form {
            method: "DELETE",
            path: format!("{v}/containers/{id}?force=1"),
            headers: &[],
            victim: Victim::Container(id),
            live: true,
        });
    }
    for (i, v) in ["", "/v1.41.0", "/v1.41."].into_iter().enumerate() {
        let tag = format!("{}-{i}", std::process::id());
        let name = format!("dctx-guard-vol-{tag}");
        direct_ok(&[
            "volume",
            "create",
            "--label",
            &format!("dctx-guard-prune={tag}"),
            &name,
        ]);
        forms.push(Form {
            method: "POST",
            path: format!("{v}/volumes/prune?filters={}", label_filter(&tag)),
            headers: &[],
            victim: Victim::Volume(name),
            live: true,
        });
        let name = format!("dctx-guard-rm-{tag}");
        direct_ok(&["volume", "create", &name]);
        forms.push(Form {
            method: "DELETE",
            path: format!("{v}/volumes/{name}"),
            headers: &[],
            victim: Victim::Volume(name),
            live: true,
        });
    }
    let tag = format!("c{}", std::process::id());
    let id = direct_ok(&[
        "create",
        "--network",
        "none",
        "--label",
        &format!("dctx-guard-prune={tag}"),
        busybox_image(),
        "true",
    ])
    .trim()
    .to_string();
    cleanup.push(id.clone());
    forms.push(Form {
        method: "POST",
        path: format!("/v1.41.0/containers/prune?filters={}", label_filter(&tag)),
        headers: &[],
        victim: Victim::Stopped(id),
        live: true,
    });
    // BuildKit's tunnels: inside them `Control/Prune` runs unseen.
    for (path, headers) in [
        ("/grpc", H2C),
        ("/v1.41.0/grpc", H2C),
        ("/session", session!("dctxguardsession0000000001")),
        ("/v1.41./session", session!("dctxguardsession0000000002")),
    ] {
        forms.push(Form {
            method: "POST",
            path: path.into(),
            headers,
            victim: Victim::Tunnel,
            live: true,
        });
    }
    forms
}

/// Send every form through the proxy (all must be refused by `flag` and
/// change nothing), then straight to dockerd (the live ones must act).
fn judge_corpus(p: &Running, flag: &str, name: &str, forms: &[Form]) {
    let before: Vec<String> = forms.iter().map(|f| f.victim.state()).collect();
    for f in forms {
        let r = exchange(&p.socket, f.method, &f.path, f.headers, b"");
        assert_eq!(
            r.status, 403,
            "{} {} through the proxy: {}",
            f.method, f.path, r.body
        );
        let want = format!("dctx: blocked by {flag} on {name}: ");
        assert!(
            r.body.contains(&want),
            "{} {}: {}",
            f.method,
            f.path,
            r.body
        );
    }
    // Checked after the whole run: an asynchronous effect had time to show.
    for (f, b) in forms.iter().zip(&before) {
        assert_eq!(
            &f.victim.state(),
            b,
            "{} {} through the proxy changed the daemon",
            f.method,
            f.path
        );
    }
    let sock = &dockerd().socket;
    let mut live_seen = 0;
    for (f, b) in forms.iter().zip(&before) {
        let r = exchange(sock, f.method, &f.path, f.headers, b"");
        let acted = match f.victim {
            Victim::Tunnel => r.status == 101,
            _ => {
                let deadline = Instant::now() + Duration::from_secs(if f.live { 30 } else { 0 });
                loop {
                    if &f.victim.state() != b {
                        break true;
                    }
                    if Instant::now() >= deadline {
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        if f.live {
            assert!(
                acted,
                "dockerd did not act on {} {} ({}: {})",
                f.method, f.path, r.status, r.body
            );
            live_seen += 1;
        }
    }
    assert!(live_seen >= 20, "only {live_seen} live forms");
}

#[test]
fn protect_refuses_every_form_dockerd_routes_to_a_destructive_call_or_tunnel() {
    let sbx = Sandbox::new();
    let name = "guard-protect";
    sbx.add_client_profile(name, &["--no-context"]);
    let log = sbx.path("audit.jsonl");
    let sock = sbx.path("p.sock");
    let p = start(
        &sbx,
        name,
        &[
            "--socket",
            sock.to_str().unwrap(),
            "--protect",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let mut cleanup = Vec::new();
    let forms = destructive_forms(&mut cleanup);
    let _cleanup = Cleanup(cleanup.clone());
    judge_corpus(&p, "--protect", name, &forms);

    // What --protect lets through still works, in the odd version forms too:
    // the proxy forwards the canonical path it judged.
    let id = sleeper(&mut cleanup);
    let _c2 = Cleanup(vec![id.clone()]);
    let r = exchange(
        &p.socket,
        "POST",
        &format!("/v1.41.0//containers/{id}/./pause"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(Victim::Container(id.clone()).state().contains(" true "));
    let r = exchange(
        &p.socket,
        "POST",
        &format!("/v1.41./containers/{id}/unpause"),
        &[],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // Attach and exec upgrade under --protect.
    let out = docker(&sbx, &p, &["exec", &id, "sh", "-c", "echo exec-$((6*7))"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "exec-42");

    // The audit log names the canonical path that was judged.
    drop(p);
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| {
            l["method"] == "POST"
                && l["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/v1.41.0/containers/") && p.ends_with("/kill"))
        })
        .unwrap_or_else(|| panic!("no kill line in {text}"));
    assert_eq!(line["status"], 403, "{line}");
    assert!(
        text.lines()
            .any(|l| l.contains("\"/v1.41.0/volumes/prune\"") && l.contains("\"status\":403")),
        "{text}"
    );
}

#[test]
fn read_only_is_an_allowlist_without_upgrades() {
    let img = busybox_image();
    let sbx = Sandbox::new();
    let name = "guard-ro";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("ro.sock");
    let p = start(
        &sbx,
        name,
        &["--socket", sock.to_str().unwrap(), "--read-only"],
    );
    let mut cleanup = Vec::new();
    let mut forms = Vec::new();
    // The websocket attach writes to the stdin of a container started -i:
    // a read-only client must not run `touch /owned` in it.
    for v in ["", "/v1.41.0", "/v1.24."] {
        let id = run_victim(&["-i", img, "sh"], &mut cleanup);
        forms.push(Form {
            method: "GET",
            path: format!("{v}/containers/{id}/attach/ws?stream=1&stdin=1"),
            headers: WS_HEADERS,
            victim: Victim::Stdin(id),
            live: true,
        });
    }
    for v in ["", "/v1.41.0"] {
        let id = sleeper(&mut cleanup);
        forms.push(Form {
            method: "POST",
            path: format!("{v}/containers/{id}/pause"),
            headers: &[],
            victim: Victim::Container(id),
            live: true,
        });
    }
    for (v, live) in [("/v1.41.", true), ("/v1.", false)] {
        let id = sleeper(&mut cleanup);
        forms.push(Form {
            method: "POST",
            path: format!("{v}/containers/{id}/kill"),
            headers: &[],
            victim: Victim::Container(id),
            live,
        });
    }
    for (path, headers) in [
        ("/grpc", H2C),
        ("/v1.41.0/session", session!("dctxguardsession0000000003")),
    ] {
        forms.push(Form {
            method: "POST",
            path: path.into(),
            headers,
            victim: Victim::Tunnel,
            live: true,
        });
    }
    let _cleanup = Cleanup(cleanup.clone());

    // Direct websocket attach writes: the live half of the corpus needs the
    // frame after the 101, so these are sent by hand first through the proxy.
    let before: Vec<String> = forms.iter().map(|f| f.victim.state()).collect();
    for f in &forms {
        let r = exchange(&p.socket, f.method, &f.path, f.headers, b"");
        assert_eq!(r.status, 403, "{} {}: {}", f.method, f.path, r.body);
        let mut s = r.stream;
        // Were it upgraded, this would reach the container's stdin.
        let _ = s.write_all(&ws_frame(b"touch /owned\n"));
        assert!(
            r.body
                .contains(&format!("dctx: blocked by --read-only on {name}: ")),
            "{}",
            r.body
        );
    }
    for (f, b) in forms.iter().zip(&before) {
        assert_eq!(
            &f.victim.state(),
            b,
            "{} {} changed the daemon",
            f.method,
            f.path
        );
    }
    // Straight to dockerd every live form acts.
    for (f, b) in forms.iter().zip(&before) {
        let r = exchange(&dockerd().socket, f.method, &f.path, f.headers, b"");
        if let Victim::Tunnel = f.victim {
            assert_eq!(r.status, 101, "{} {}: {}", f.method, f.path, r.body);
            continue;
        }
        // The attach stays open until its effect shows.
        let mut _open = None;
        if let Victim::Stdin(_) = f.victim {
            assert_eq!(r.status, 101, "{} {}: {}", f.method, f.path, r.body);
            let mut s = r.stream;
            s.write_all(&ws_frame(b"touch /owned\n")).unwrap();
            _open = Some(s);
        }
        if !f.live {
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while &f.victim.state() == b {
            assert!(
                Instant::now() < deadline,
                "dockerd did not act on {} {}",
                f.method,
                f.path
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // Reads pass, in any version form (the canonical path is forwarded).
    let id = &sleeper(&mut cleanup);
    let _c2 = Cleanup(vec![id.clone()]);
    let r = exchange(
        &p.socket,
        "GET",
        &format!("/v1.41.0//containers/{id}/json"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["Id"].as_str(), Some(id.as_str()));
    assert_eq!(exchange(&p.socket, "HEAD", "/_ping", &[], b"").status, 200);
    // An upgrade on a read route is refused; exec through the CLI too.
    let r = exchange(&p.socket, "GET", "/containers/json", H2C, b"");
    assert_eq!(r.status, 403, "{}", r.body);
    let out = docker(&sbx, &p, &["exec", id, "touch", "/owned-by-exec"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "dctx: blocked by --read-only on {name}: POST /containers/{id}/exec"
        )),
        "{out:?}"
    );
    let ls = direct_ok(&["exec", id, "ls", "/"]);
    assert!(!ls.lines().any(|l| l == "owned-by-exec"), "{ls}");
}
