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
use crate::support::{Sandbox, assert_success, dockerd, free_port};

/// A running `dctx proxy`, stopped with SIGTERM when dropped.
struct Running {
    child: Child,
    /// `unix:///…` as printed.
    host: String,
    socket: PathBuf,
}

impl Running {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM and wait; returns whether it exited 0.
    fn stop(mut self) -> bool {
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
fn start(sbx: &Sandbox, name: &str, args: &[&str]) -> Running {
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
fn docker(sbx: &Sandbox, p: &Running, args: &[&str]) -> Output {
    sbx.docker()
        .env("DOCKER_HOST", &p.host)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn docker_ok(sbx: &Sandbox, p: &Running, args: &[&str]) -> String {
    let out = docker(sbx, p, args);
    assert_success(
        &out,
        &format!("docker {} (through the proxy)", args.join(" ")),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The docker CLI straight at the daemon's plain socket (ground truth).
fn direct(args: &[&str]) -> Output {
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

fn direct_ok(args: &[&str]) -> String {
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
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = direct(&["rm", "-f", id]);
        }
    }
}

fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
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
