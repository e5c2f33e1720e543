//! Real nginx instances (Debian package) on loopback, for mTLS fronts and
//! deliberately broken servers. Each gets its own prefix dir.

use std::path::PathBuf;
use std::process::Command;

use super::procs::{quiet, scratch_dir, spawn_owned, wait_tcp};

pub struct Nginx {
    pub dir: PathBuf,
}

/// Start nginx with `http_body` inside `http { }`; waits until every port in
/// `ports` accepts TCP. Files the config refers to go in `dir` (returned).
pub fn start_nginx(tag: &str, http_body: impl FnOnce(&PathBuf) -> String, ports: &[u16]) -> Nginx {
    let dir = scratch_dir(&format!("nginx-{tag}"));
    let body = http_body(&dir);
    let d = dir.display();
    // `user root`: workers must reach the root-owned docker socket.
    let conf = format!(
        "daemon off;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n\
         fastcgi_temp_path {d}/fc;\n  uwsgi_temp_path {d}/uw;\n  scgi_temp_path {d}/sc;\n{body}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut cmd = Command::new("nginx");
    cmd.arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"));
    let mut child = spawn_owned(quiet(cmd, &dir.join("stderr.log")));
    for port in ports {
        wait_tcp(
            &format!("127.0.0.1:{port}"),
            &mut child,
            "nginx",
            &dir.join("stderr.log"),
        );
    }
    std::mem::forget(child);
    Nginx { dir }
}
