//! `dctx proxy` with real clients: the docker CLI, docker-py and
//! docker-compose v1 talk to the proxy's unix socket; the proxy talks mTLS
//! to the shared dockerd (or to an nginx mTLS front), with the client key
//! held in a real Secret Service.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::image::busybox_image;
use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, dockerd, free_port};

/// A running `dctx proxy`, stopped with SIGTERM when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    /// `unix:///…` as printed.
    pub(crate) host: String,
    pub(crate) socket: PathBuf,
}

impl Running {
    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM and wait; returns whether it exited 0.
    pub(crate) fn stop(mut self) -> bool {
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let ok = self.child.wait().unwrap().success();
        std::mem::forget(self);
        ok
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Start `dctx proxy NAME ARGS…` and wait for its DOCKER_HOST line.
pub(crate) fn start(sbx: &Sandbox, name: &str, args: &[&str]) -> Running {
    let mut child = sbx
        .dctx()
        .args(["proxy", name])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!(
            "dctx proxy {name} printed nothing: {:?}\n{err}",
            child.wait()
        );
    }
    let host = line
        .trim()
        .strip_prefix("export DOCKER_HOST=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let socket = PathBuf::from(host.strip_prefix("unix://").unwrap());
    Running {
        child,
        host,
        socket,
    }
}

/// The docker CLI pointed at the proxy.
pub(crate) fn docker(sbx: &Sandbox, p: &Running, args: &[&str]) -> Output {
    sbx.docker()
        .env("DOCKER_HOST", &p.host)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(crate) fn docker_ok(sbx: &Sandbox, p: &Running, args: &[&str]) -> String {
    let out = docker(sbx, p, args);
    assert_success(
        &out,
        &format!("docker {} (through the proxy)", args.join(" ")),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The docker CLI straight at the daemon's plain socket (ground truth).
pub(crate) fn direct(args: &[&str]) -> Output {
    Command::new("docker")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env(
            "DOCKER_HOST",
            format!("unix://{}", dockerd().socket.display()),
        )
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn direct_ok(args: &[&str]) -> String {
    let out = direct(args);
    assert_success(&out, &format!("docker {} (direct)", args.join(" ")));
    String::from_utf8(out.stdout).unwrap()
}

fn sha256(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// `n` bytes no compressor shrinks (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Every file under `root` that contains `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file()
                && std::fs::read(e.path())
                    .unwrap_or_default()
                    .windows(needle.len())
                    .any(|w| w == needle)
            {
                hits.push(e.path());
            }
        }
    }
    hits
}

/// The base64 body line of a PEM key (what would leak if it were written).
fn key_fingerprint_line() -> String {
    dockerd()
        .client
        .key_pem
        .lines()
        .find(|l| !l.starts_with("-----") && l.len() > 40)
        .unwrap()
        .to_string()
}

#[test]
fn docker_cli_through_the_proxy_with_a_keyring_key() {
    let d = dockerd();
    let img = busybox_image();
    let sbx = Sandbox::new().with_keyring();
    let name = "proxy-kr-cli";
    sbx.add_client_profile(name, &["--key-store", "keyring"]);
    // The import source is the only file that may hold the key.
    std::fs::remove_dir_all(sbx.path("bundle")).unwrap();
    // Default socket place: $XDG_RUNTIME_DIR/dctx/NAME.sock.
    let run_dir = sbx.path("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut sbx = sbx;
    sbx.env
        .push(("XDG_RUNTIME_DIR".into(), run_dir.display().to_string()));
    let p = start(&sbx, name, &[]);
    assert_eq!(p.socket, run_dir.join("dctx").join(format!("{name}.sock")));
    let meta = std::fs::metadata(&p.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let pid_file = format!("{}.pid", p.socket.display());
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        p.pid().to_string()
    );

    // version / ps
    let v = docker_ok(&sbx, &p, &["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(v.trim(), d.version);
    docker_ok(&sbx, &p, &["ps", "-a"]);

    // run --rm: attach (upgraded connection) + wait (streaming response).
    let out = docker_ok(
        &sbx,
        &p,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            img,
            "sh",
            "-c",
            "echo proxied-$((6*7))",
        ],
    );
    assert_eq!(out.trim(), "proxied-42");

    // A long-lived container for logs / exec / cp.
    let id = docker_ok(
        &sbx,
        &p,
        &[
            "run",
            "-d",
            "--network",
            "none",
            img,
            "sh",
            "-c",
            "echo first-$((1+1)); sleep 600",
        ],
    )
    .trim()
    .to_string();
    let _cleanup = Cleanup(vec![id.clone()]);

    // logs -f: a streaming response; stop after its first line.
    let mut logs = sbx
        .docker()
        .env("DOCKER_HOST", &p.host)
        .args(["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(logs.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "first-2");
    assert!(logs.try_wait().unwrap().is_none(), "logs -f ended early");
    let _ = logs.kill();
    let _ = logs.wait();

    // exec without a tty.
    let out = docker_ok(&sbx, &p, &["exec", &id, "sh", "-c", "echo exec-$((40+2))"]);
    assert_eq!(out.trim(), "exec-42");
    // exec -it under a real pty (script allocates one).
    let out = sbx
        .cmd("script")
        .env("DOCKER_HOST", &p.host)
        .args(["-qec", &format!("docker exec -it {id} tty"), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_success(&out, "script docker exec -it");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("/dev/pts/"), "exec -it saw no tty: {tty:?}");

    // cp both ways, 50 MiB, checksummed.
    let data = noise(50 << 20);
    let want = sha256(&data);
    let src = sbx.path("big.bin");
    std::fs::write(&src, &data).unwrap();
    docker_ok(
        &sbx,
        &p,
        &["cp", src.to_str().unwrap(), &format!("{id}:/tmp/big.bin")],
    );
    let inside = docker_ok(&sbx, &p, &["exec", &id, "sha256sum", "/tmp/big.bin"]);
    assert_eq!(inside.split_whitespace().next(), Some(want.as_str()));
    let back = sbx.path("back.bin");
    docker_ok(
        &sbx,
        &p,
        &["cp", &format!("{id}:/tmp/big.bin"), back.to_str().unwrap()],
    );
    assert_eq!(sha256(&std::fs::read(&back).unwrap()), want);

    // attach: stdin in, output out, stdin EOF is a half-close.
    let cid = docker_ok(
        &sbx,
        &p,
        &[
            "create",
            "-i",
            "--network",
            "none",
            img,
            "sh",
            "-c",
            "read x; echo \"got:$x\"",
        ],
    )
    .trim()
    .to_string();
    let _cleanup2 = Cleanup(vec![cid.clone()]);
    docker_ok(&sbx, &p, &["start", &cid]);
    let mut att = sbx
        .docker()
        .env("DOCKER_HOST", &p.host)
        .args(["attach", &cid])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    att.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = wait_output(att, Duration::from_secs(60), "docker attach");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got:hello"),
        "attach: {out:?}"
    );

    // events --since/--until: a bounded stream.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // --until a moment from now: the stream ends by itself.
    let (since, until) = ((now - 600).to_string(), (now + 1).to_string());
    let ev = docker_ok(
        &sbx,
        &p,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            &format!("container={cid}"),
            "--format",
            "{{.Action}}",
        ],
    );
    assert!(ev.lines().any(|l| l == "start"), "events: {ev:?}");

    // load of a saved image.
    let tag = "dctx-load:proxy";
    let tar = sbx.path("saved.tar");
    direct_ok(&["tag", img, tag]);
    direct_ok(&["save", "-o", tar.to_str().unwrap(), tag]);
    direct_ok(&["rmi", tag]);
    let out = docker_ok(&sbx, &p, &["load", "-i", tar.to_str().unwrap()]);
    assert!(out.contains(&format!("Loaded image: {tag}")), "{out}");
    direct_ok(&["image", "inspect", tag]);
    direct_ok(&["rmi", tag]);

    // The key never touched the disk: not in the store, the sandbox or the socket dir.
    let needle = key_fingerprint_line();
    assert_eq!(
        files_containing(sbx.tmp.path(), needle.as_bytes()),
        Vec::<PathBuf>::new()
    );

    // SIGTERM: exits 0 and takes its socket and pid file with it.
    let socket = p.socket.clone();
    assert!(p.stop(), "proxy did not exit cleanly on SIGTERM");
    assert!(!socket.exists(), "socket left behind");
    assert!(!Path::new(&pid_file).exists(), "pid file left behind");
}

/// Removes containers (force) when the test ends, pass or fail.
pub(crate) struct Cleanup(pub(crate) Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = direct(&["rm", "-f", id]);
        }
    }
}

pub(crate) fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} did not finish within {limit:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn docker_py_and_compose_through_the_proxy() {
    for (tool, pkg) in [
        ("docker-compose", "docker-compose"),
        ("/usr/bin/python3", "python3-docker"),
    ] {
        assert!(
            Command::new(tool).arg("--version").output().is_ok(),
            "{tool} missing (install the Debian package {pkg})"
        );
    }
    let d = dockerd();
    let img = busybox_image();
    let sbx = Sandbox::new();
    let name = "proxy-py";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("py.sock");
    let p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);

    let script = format!(
        "import docker\n\
         c = docker.from_env()\n\
         print('server', c.version()['Version'])\n\
         out = c.containers.run('{img}', ['sh', '-c', 'echo py-$((40+2))'], network_mode='none', remove=True)\n\
         print(out.decode().strip())\n"
    );
    let out = sbx
        .cmd("/usr/bin/python3")
        .env("DOCKER_HOST", &p.host)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_success(&out, "docker-py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("server {}", d.version)), "{text}");
    assert!(text.lines().any(|l| l == "py-42"), "{text}");

    // compose v1: a one-service project up, running, down.
    let proj = sbx.path("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("docker-compose.yml"),
        format!(
            "version: '2.4'\nservices:\n  web:\n    image: {img}\n    network_mode: none\n    command: sleep 600\n"
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let out = sbx
            .cmd("docker-compose")
            .env("DOCKER_HOST", &p.host)
            .current_dir(&proj)
            .args(["-p", "dctxproxy"])
            .args(args)
            .output()
            .unwrap();
        assert_success(&out, &format!("docker-compose {}", args.join(" ")));
    };
    compose(&["up", "-d"]);
    let running = |want: bool| {
        let ps = direct_ok(&[
            "ps",
            "--filter",
            "label=com.docker.compose.project=dctxproxy",
            "--format",
            "{{.Names}}",
        ]);
        assert_eq!(ps.trim().is_empty(), !want, "compose containers: {ps:?}");
    };
    running(true);
    compose(&["down"]);
    running(false);
}

#[test]
fn guardrails_refuse_before_the_daemon_and_the_audit_log_has_no_secrets() {
    let sbx = Sandbox::new();
    let name = "proxy-guard";
    sbx.add_client_profile(name, &["--no-context"]);
    let vol = "dctx-proxy-guarded";
    direct_ok(&["volume", "create", vol]);
    let log = sbx.path("audit.jsonl");
    let sock = sbx.path("g.sock");
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
    let refused = |args: &[&str], what: &str| {
        let out = docker(&sbx, &p, args);
        assert!(!out.status.success(), "docker {args:?} was let through");
        let err = String::from_utf8_lossy(&out.stderr);
        let want =
            format!("Error response from daemon: dctx: blocked by --protect on {name}: {what}");
        assert!(err.contains(&want), "docker {args:?}: {err}");
    };
    refused(&["volume", "rm", vol], &format!("DELETE /volumes/{vol}"));
    refused(&["volume", "prune", "-f"], "POST /volumes/prune");
    refused(&["rmi", "some-image"], "DELETE /images/some-image");
    // Nothing refused reached the daemon.
    direct_ok(&["volume", "inspect", vol]);
    // Allowed calls pass.
    docker_ok(&sbx, &p, &["volume", "ls"]);
    drop(p);

    // --read-only: reads pass, any write is refused.
    let p = start(
        &sbx,
        name,
        &["--socket", sock.to_str().unwrap(), "--read-only"],
    );
    docker_ok(&sbx, &p, &["volume", "inspect", vol]);
    let out = docker(&sbx, &p, &["volume", "create", "dctx-proxy-ro-new"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Error response from daemon: dctx: blocked by --read-only on {name}: POST /volumes/create"
        )),
        "{err}"
    );
    assert!(
        !direct(&["volume", "inspect", "dctx-proxy-ro-new"])
            .status
            .success()
    );
    drop(p);
    direct_ok(&["volume", "rm", vol]);

    // The audit log: one JSON object per request, no headers or bodies.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let del = lines
        .iter()
        .find(|l| {
            l["method"] == "DELETE"
                && l["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/volumes/{vol}"))
        })
        .unwrap_or_else(|| panic!("no DELETE line in {text}"));
    assert_eq!(del["status"], 403);
    let ls = lines
        .iter()
        .find(|l| l["method"] == "GET" && l["path"].as_str().unwrap().ends_with("/volumes"))
        .unwrap_or_else(|| panic!("no volume ls line in {text}"));
    assert_eq!(ls["status"], 200);
    assert!(ls["bytes_out"].as_u64().unwrap() > 0, "{ls}");
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "time",
                "method",
                "path",
                "status",
                "bytes_in",
                "bytes_out",
                "duration_ms"
            ],
            "{l}"
        );
    }
    assert!(
        !text.contains("User-Agent") && !text.contains("Docker-Client"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn live_proxy_refused_stale_socket_replaced() {
    let sbx = Sandbox::new();
    let name = "proxy-stale";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("s.sock");
    let s = sock.to_str().unwrap();
    let a = start(&sbx, name, &["--socket", s]);
    let (_, err) = sbx.fails(&["proxy", name, "--socket", s]);
    assert!(
        err.contains(&format!(
            "a proxy for {name} is already running (pid {})",
            a.pid()
        )),
        "{err}"
    );
    // Killed hard: the socket and pid file stay behind, nobody accepts.
    unsafe { libc::kill(a.pid(), libc::SIGKILL) };
    let mut a = a;
    let _ = a.child.wait();
    assert!(sock.exists(), "SIGKILL cannot remove the socket");
    let b = start(&sbx, name, &["--socket", s]);
    let v = docker_ok(&sbx, &b, &["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(v.trim(), dockerd().version);
    assert!(b.stop());
    assert!(!sock.exists());
}

#[test]
fn daemon_down_is_a_502_naming_doctor_then_recovers_through_an_nginx_front() {
    let d = dockerd();
    let sbx = Sandbox::new().with_keyring();
    let name = "proxy-kr-nginx";
    let port = free_port();
    let bundle = sbx.client_bundle();
    sbx.ok(&[
        "add",
        name,
        "--bundle",
        bundle.to_str().unwrap(),
        "--host",
        &format!("tcp://127.0.0.1:{port}"),
        "--key-store",
        "keyring",
    ]);
    let sock = sbx.path("n.sock");
    let p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);

    // Nothing listens yet.
    let out = docker(&sbx, &p, &["version", "--format", "{{.Server.Version}}"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{name} (tcp://127.0.0.1:{port}) is unreachable: "))
            && err.contains(&format!("run `dctx doctor {name}`")),
        "{err}"
    );
    assert!(
        err.contains("connection-refused"),
        "no probe finding code: {err}"
    );

    // The daemon appears behind an nginx mTLS front on that port.
    let server = d.ca.server(&["127.0.0.1"]);
    let sock_path = d.socket.display().to_string();
    let ca = d.ca.cert_pem.clone();
    let ng = crate::support::nginx::start_nginx(
        "proxy",
        move |dir| {
            for (f, data) in [
                ("ca.pem", &ca),
                ("srv.pem", &server.cert_pem),
                ("srv-key.pem", &server.key_pem),
            ] {
                std::fs::write(dir.join(f), data).unwrap();
            }
            let dd = dir.display();
            format!(
                "map $http_upgrade $up {{ default upgrade; '' close; }}\n\
                 log_format conns '$connection $connection_requests $request_method $uri $status';\n\
                 server {{\n listen 127.0.0.1:{port} ssl;\n\
                 access_log {dd}/access.log conns;\n\
                 ssl_certificate {dd}/srv.pem; ssl_certificate_key {dd}/srv-key.pem;\n\
                 ssl_client_certificate {dd}/ca.pem; ssl_verify_client on;\n\
                 client_max_body_size 0; proxy_request_buffering off; proxy_buffering off;\n\
                 location / {{ proxy_pass http://unix:{sock_path}:; proxy_http_version 1.1;\n\
                 proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $up; }}\n}}\n"
            )
        },
        &[port],
    );
    let v = docker_ok(&sbx, &p, &["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(v.trim(), d.version);
    // A write too (nginx loses hijacked output even for a direct docker
    // context, so attach-style calls are covered against dockerd above).
    let vol = "dctx-proxy-via-nginx";
    docker_ok(&sbx, &p, &["volume", "create", vol]);
    direct_ok(&["volume", "inspect", vol]);
    direct_ok(&["volume", "rm", vol]);

    // Pooled: three separate docker runs (ping + list each) share one warm
    // upstream TLS connection instead of a handshake each.
    let access = ng.dir.join("access.log");
    let seen = std::fs::read_to_string(&access).unwrap().lines().count();
    for _ in 0..3 {
        docker_ok(&sbx, &p, &["ps"]);
    }
    let log = std::fs::read_to_string(&access).unwrap();
    let ps: Vec<&str> = log.lines().skip(seen).collect();
    assert!(ps.len() >= 6, "{log}");
    let conns: std::collections::BTreeSet<&str> =
        ps.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(conns.len(), 1, "not reused:\n{log}");

    // A client that leaves mid-stream frees its upstream: nginx logs the
    // endless `logs -f` request only once the proxy has closed it.
    let img = busybox_image();
    let id = direct_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        img,
        "sh",
        "-c",
        "echo streaming; sleep 600",
    ])
    .trim()
    .to_string();
    let _cleanup = Cleanup(vec![id.clone()]);
    let mut logs = sbx
        .docker()
        .env("DOCKER_HOST", &p.host)
        .args(["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(logs.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "streaming");
    let logs_line = format!("/containers/{id}/logs 200");
    assert!(
        !std::fs::read_to_string(&access)
            .unwrap()
            .contains(&logs_line)
    );
    let _ = logs.kill();
    let _ = logs.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&access)
        .unwrap()
        .contains(&logs_line)
    {
        assert!(
            Instant::now() < deadline,
            "the upstream of a vanished client stayed open:\n{}",
            std::fs::read_to_string(&access).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(p.stop());
}

/// An nginx mTLS front for the shared dockerd on a fresh port, presenting
/// `server` and trusting the test CA for clients. `extra` goes into the
/// server block; the access log records the client's subject per request.
fn front(tag: &str, server: crate::support::certs::Issued, extra: &str) -> (u16, PathBuf) {
    let d = dockerd();
    let port = free_port();
    let sock_path = d.socket.display().to_string();
    let ca = d.ca.cert_pem.clone();
    let extra = extra.to_string();
    let ng = crate::support::nginx::start_nginx(
        tag,
        move |dir| {
            for (f, data) in [
                ("ca.pem", &ca),
                ("srv.pem", &server.cert_pem),
                ("srv-key.pem", &server.key_pem),
            ] {
                std::fs::write(dir.join(f), data).unwrap();
            }
            let dd = dir.display();
            format!(
                "map $http_upgrade $up {{ default upgrade; '' close; }}\n\
                 log_format who '$ssl_client_s_dn|$request_method $uri $status';\n\
                 server {{\n listen 127.0.0.1:{port} ssl;\n\
                 access_log {dd}/access.log who;\n{extra}\n\
                 ssl_certificate {dd}/srv.pem; ssl_certificate_key {dd}/srv-key.pem;\n\
                 ssl_client_certificate {dd}/ca.pem; ssl_verify_client on;\n\
                 location / {{ proxy_pass http://unix:{sock_path}:; proxy_http_version 1.1;\n\
                 proxy_buffering off; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $up; }}\n}}\n"
            )
        },
        &[port],
    );
    (port, ng.dir.join("access.log"))
}

/// A profile `name` with the shared client bundle, pointed at `host`.
fn profile_at(sbx: &Sandbox, name: &str, host: &str) {
    let bundle = sbx.client_bundle();
    sbx.ok(&[
        "add",
        name,
        "--bundle",
        bundle.to_str().unwrap(),
        "--host",
        host,
        "--no-context",
    ]);
}

#[test]
fn the_daemon_is_verified_on_every_new_connection_by_ca_name_and_the_clock_now() {
    use time::{Duration as TDuration, OffsetDateTime};
    let d = dockerd();
    let sbx = Sandbox::new();
    // A front whose certificate is from another CA, named with text a
    // terminal would act on (ESC, right-to-left override): the 502 names
    // that issuer, escaped.
    let other = crate::support::certs::TestCa::new("evil\u{1b}[2J\u{202e}gnp.exe");
    let (bad_ca, _) = front("wrong-ca", other.server(&["127.0.0.1"]), "");
    // The right CA, but not this address.
    let (bad_name, _) = front("wrong-name", d.ca.server(&["elsewhere.example"]), "");
    // Valid from a moment after the proxy starts (a renewal), and one that
    // expires a moment after it starts.
    let now = OffsetDateTime::now_utc();
    let mut renewed = crate::support::certs::Leaf::server(&["127.0.0.1"]);
    renewed.not_before = now + TDuration::seconds(4);
    let (later, _) = front("not-yet", d.ca.issue(&renewed), "");
    let mut expiring = crate::support::certs::Leaf::server(&["127.0.0.1"]);
    expiring.not_after = now + TDuration::seconds(4);
    let (soon, _) = front("expiring", d.ca.issue(&expiring), "");

    let mut running = Vec::new();
    for (name, port) in [
        ("v-ca", bad_ca),
        ("v-name", bad_name),
        ("v-later", later),
        ("v-soon", soon),
    ] {
        profile_at(&sbx, name, &format!("tcp://127.0.0.1:{port}"));
        let sock = sbx.path(&format!("{name}.sock"));
        running.push(start(&sbx, name, &["--socket", sock.to_str().unwrap()]));
    }
    // A write that must not reach the daemon through an unverified front.
    let refused = |p: &Running, vol: &str, code: &str| {
        let out = docker(&sbx, p, &["volume", "create", vol]);
        assert!(!out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains(&format!("({code})")), "{err}");
        assert!(!direct(&["volume", "inspect", vol]).status.success());
        err
    };
    let err = refused(&running[0], "dctx-v-ca", "unknown-ca");
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "raw control text in {err:?}"
    );
    assert!(err.contains("evil\\u{1b}[2J\\u{202e}gnp.exe"), "{err}");
    refused(&running[1], "dctx-v-name", "name-mismatch");

    // Wait out both moments (wall clock: the certificates' own dates).
    while OffsetDateTime::now_utc() < now + TDuration::seconds(6) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // The renewed certificate is valid now: accepted.
    let v = docker_ok(
        &sbx,
        &running[2],
        &["version", "--format", "{{.Server.Version}}"],
    );
    assert_eq!(v.trim(), d.version);
    // The expired one is refused on this new connection.
    refused(&running[3], "dctx-v-soon", "server-cert-expired");
}

#[test]
fn a_renewed_client_cert_is_used_by_new_connections_and_open_streams_survive() {
    let d = dockerd();
    let img = busybox_image();
    let sbx = Sandbox::new();
    let name = "renew-live";
    // keepalive_timeout 0: every request is a new upstream connection.
    let (port, access) = front("renew", d.ca.server(&["127.0.0.1"]), "keepalive_timeout 0;");
    profile_at(&sbx, name, &format!("tcp://127.0.0.1:{port}"));
    let sock = sbx.path("r.sock");
    let p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);
    docker_ok(&sbx, &p, &["version"]);
    let log = std::fs::read_to_string(&access).unwrap();
    assert!(
        log.lines().all(|l| l.contains("CN=dctx-test-client|")),
        "{log}"
    );

    // A stream that must survive the swap.
    let id = direct_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        img,
        "sh",
        "-c",
        "echo one; sleep 600",
    ])
    .trim()
    .to_string();
    let _cleanup = Cleanup(vec![id.clone()]);
    let mut logs = sbx
        .docker()
        .env("DOCKER_HOST", &p.host)
        .args(["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = BufReader::new(logs.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "one");

    // Renewal: the profile's cert and key files are replaced (atomically,
    // as a renewal writes them) with a new identity from the same CA.
    let new = d.ca.client("dctx-renewed-client");
    let cert_line = d.client.cert_pem.lines().nth(3).unwrap().to_string();
    let key_line = key_fingerprint_line();
    for (needle, data) in [(cert_line, &new.cert_pem), (key_line, &new.key_pem)] {
        let hits = files_containing(&sbx.store(), needle.as_bytes());
        assert!(!hits.is_empty(), "no profile file holds {needle}");
        for f in hits {
            let tmp = f.with_extension("swap");
            std::fs::write(&tmp, data).unwrap();
            std::fs::rename(&tmp, &f).unwrap();
        }
    }
    let seen = std::fs::read_to_string(&access).unwrap().lines().count();
    docker_ok(&sbx, &p, &["version"]);
    let log = std::fs::read_to_string(&access).unwrap();
    let after: Vec<&str> = log.lines().skip(seen).collect();
    assert!(!after.is_empty(), "{log}");
    assert!(
        after.iter().all(|l| l.contains("CN=dctx-renewed-client|")),
        "new connections still use the old cert:\n{log}"
    );
    // The stream opened before the swap is still open.
    assert!(logs.try_wait().unwrap().is_none(), "logs -f was dropped");
    let _ = logs.kill();
    let _ = logs.wait();
}

#[test]
fn an_expired_client_cert_is_named_at_start_and_in_the_502() {
    let d = dockerd();
    let sbx = Sandbox::new();
    let name = "expired-client";
    let old =
        d.ca.issue(&crate::support::certs::Leaf::client("dctx-expired").days(-1));
    let dir = sbx.path("expired");
    crate::support::write_bundle(&dir, &d.ca.cert_pem, &old);
    sbx.ok(&[
        "add",
        name,
        "--bundle",
        dir.to_str().unwrap(),
        "--host",
        &d.host,
        "--no-context",
        "--force",
    ]);
    let sock = sbx.path("e.sock");
    let mut p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);
    // The warning is printed before the socket line.
    let mut err = BufReader::new(p.child.stderr.take().unwrap());
    let mut warning = String::new();
    err.read_line(&mut warning).unwrap();
    assert!(
        warning.starts_with("dctx: warning: ")
            && warning.contains(&format!("{name}'s client certificate expired on "))
            && warning.contains("(client-cert-expired)"),
        "{warning:?}"
    );
    let out = docker(&sbx, &p, &["volume", "create", "dctx-expired-vol"]);
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains(&format!("{name} ({}) is unreachable: ", d.host))
            && msg.contains("(client-cert-expired)")
            && !msg.contains("connection error"),
        "{msg}"
    );
    assert!(
        !direct(&["volume", "inspect", "dctx-expired-vol"])
            .status
            .success()
    );
}

#[test]
fn hijacked_sessions_are_logged_when_they_open_even_if_the_client_is_killed() {
    let img = busybox_image();
    let sbx = Sandbox::new();
    let name = "proxy-audit-hijack";
    sbx.add_client_profile(name, &["--no-context"]);
    let log = sbx.path("audit.jsonl");
    let sock = sbx.path("a.sock");
    let p = start(
        &sbx,
        name,
        &[
            "--socket",
            sock.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let id = direct_ok(&["run", "-d", "--network", "none", img, "sleep", "600"])
        .trim()
        .to_string();
    let _cleanup = Cleanup(vec![id.clone()]);
    let mut client = sbx
        .docker()
        .env("DOCKER_HOST", &p.host)
        .args(["exec", "-i", &id, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"echoed-back\n").unwrap();
    let mut line = String::new();
    BufReader::new(client.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "echoed-back");
    let session = |phase: &str| -> Option<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| {
                l["session"] == phase
                    && l["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("/v") && p.ends_with("/start"))
                    && p_is_exec(l)
            })
    };
    fn p_is_exec(l: &serde_json::Value) -> bool {
        l["path"].as_str().is_some_and(|p| p.contains("/exec/"))
    }
    // While the session runs, its line is already there.
    let open = session("open").unwrap_or_else(|| {
        panic!(
            "no open-session line while exec runs:\n{}",
            std::fs::read_to_string(&log).unwrap()
        )
    });
    assert_eq!(open["status"], 101);
    assert_eq!(open["method"], "POST");
    unsafe { libc::kill(client.id() as i32, libc::SIGKILL) };
    let _ = client.wait();
    drop(stdin);
    // The proxy sees the client vanish, the relay ends, the close is logged.
    let deadline = Instant::now() + Duration::from_secs(30);
    let closed = loop {
        if let Some(l) = session("closed") {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "no closed-session line:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(closed["bytes_in"].as_u64().unwrap() >= 12, "{closed}");
    assert!(closed["bytes_out"].as_u64().unwrap() >= 12, "{closed}");
    // SIGTERM mid-session: the open line is all that can be, and it is there.
    assert!(p.stop());
}

/// Raise this process's open-file limit (children inherit it).
fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur = lim.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

fn ping(socket: &Path) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn slow_clients_do_not_starve_ping() {
    raise_nofile();
    let sbx = Sandbox::new();
    let name = "proxy-slow";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("slow.sock");
    let p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);
    // A keep-alive client that got its answer and then idles.
    let mut idle = std::os::unix::net::UnixStream::connect(&p.socket).unwrap();
    idle.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 12];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    // More half-sent requests than the default 1024-client cap.
    let mut slow = Vec::new();
    for _ in 0..1030 {
        let mut s = std::os::unix::net::UnixStream::connect(&p.socket).unwrap();
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: dock").unwrap();
        slow.push(s);
    }
    // The header timeout (10 s) frees the slots; 60 s is the bound.
    let t = Instant::now();
    let out = ping(&p.socket);
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("OK"),
        "{out:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // And the slow ones were closed by the proxy.
    let mut first = slow.swap_remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = first.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "a half-sent request was answered"
    );
    drop(slow);
    // The idle keep-alive connection was closed too (EOF after its answer).
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(String::from_utf8_lossy(&rest).ends_with("OK"), "{rest:?}");
    assert!(p.stop());
}

#[test]
fn the_client_cap_holds_and_frees() {
    let sbx = Sandbox::new();
    let name = "proxy-cap";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("cap.sock");
    let p = start(
        &sbx,
        name,
        &["--socket", sock.to_str().unwrap(), "--max-clients", "3"],
    );
    // Three endless event streams hold every slot.
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = std::os::unix::net::UnixStream::connect(&p.socket).unwrap();
        s.write_all(b"GET /events HTTP/1.1\r\nHost: docker\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        streams.push(s);
    }
    let mut fourth = std::os::unix::net::UnixStream::connect(&p.socket).unwrap();
    fourth
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Not served while the three are open (a bounded look for an answer).
    fourth
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 64];
    let e = fourth.read(&mut buf).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    // One stream ends: the waiting client is served.
    drop(streams.pop());
    fourth
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut out = String::new();
    fourth.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("OK"),
        "{out:?}"
    );
    drop(streams);
    assert!(p.stop());
}

#[test]
fn pid_file_symlink_and_a_foreign_or_shared_log_are_refused() {
    let sbx = Sandbox::new();
    let name = "proxy-files";
    sbx.add_client_profile(name, &["--no-context"]);
    let sock = sbx.path("f.sock");
    // A symlink planted where the pid file goes.
    let victim = sbx.path("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, sbx.path("f.sock.pid")).unwrap();
    let p = start(&sbx, name, &["--socket", sock.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let pid_file = sbx.path("f.sock.pid");
    assert!(!std::fs::symlink_metadata(&pid_file).unwrap().is_symlink());
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        p.pid().to_string()
    );
    assert!(p.stop());

    // A log another user owns, and one anybody may write.
    let foreign = sbx.path("foreign.log");
    std::fs::write(&foreign, "").unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    // Refused: it belongs to another user (uid 65534).
    let f = Filters::sandbox(&sbx);
    dctx_snapshot!(
        f,
        sbx.dctx_cmd(&[
            "proxy",
            name,
            "--socket",
            sock.to_str().unwrap(),
            "--log",
            foreign.to_str().unwrap(),
        ]),
        "log-of-another-user"
    );
    let shared = sbx.path("shared.log");
    std::fs::write(&shared, "").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o666)).unwrap();
    // Refused: writable by others (mode 666).
    dctx_snapshot!(
        f,
        sbx.dctx_cmd(&[
            "proxy",
            name,
            "--socket",
            sock.to_str().unwrap(),
            "--log",
            shared.to_str().unwrap(),
        ]),
        "log-writable-by-others"
    );
    for f in [&foreign, &shared] {
        assert_eq!(std::fs::read_to_string(f).unwrap(), "", "{f:?} written");
    }
    let link = sbx.path("link.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    sbx.fails(&[
        "proxy",
        name,
        "--socket",
        sock.to_str().unwrap(),
        "--log",
        link.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}
