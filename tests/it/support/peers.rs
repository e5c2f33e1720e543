//! Misbehaving peers for the probe tests, all on 127.0.0.1: one nginx with a
//! server block per failure (fronting the shared dockerd's unix socket), and
//! in-process TCP peers that stay silent, drip bytes, or send garbage.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose;
use time::OffsetDateTime;

use super::certs::{Issued, Leaf, TestCa};
use super::dockerd::dockerd;
use super::nginx::start_nginx;
use super::procs::free_port;

/// The nginx test bed: `port(name)` of each server block.
pub struct Bed {
    pub ports: BTreeMap<&'static str, u16>,
    /// A CA that neither dockerd nor the fronts trust for clients.
    pub other_ca: TestCa,
}

impl Bed {
    pub fn port(&self, name: &str) -> u16 {
        *self
            .ports
            .get(name)
            .unwrap_or_else(|| panic!("no server block {name}"))
    }
}

/// How a server block treats client certificates.
#[derive(Clone, Copy)]
enum Client {
    /// `ssl_verify_client on` with dockerd's CA.
    Required,
    /// No client verification at all.
    Off,
    /// `ssl_verify_client optional` with another CA.
    OptionalOtherCa,
}

/// What a server block answers.
#[derive(Clone, Copy)]
enum Answer {
    Docker,
    Text,
    Status503,
}

struct Block {
    name: &'static str,
    /// None: plain HTTP.
    cert: Option<Issued>,
    client: Client,
    answer: Answer,
}

fn write(dir: &Path, file: &str, data: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, data).unwrap();
    p.display().to_string()
}

/// One nginx, started on first use.
pub fn bed() -> &'static Bed {
    static B: OnceLock<Bed> = OnceLock::new();
    B.get_or_init(|| {
        let d = dockerd();
        let other_ca = TestCa::new("dctx other CA");
        let now = OffsetDateTime::now_utc();
        let good = || d.ca.server(&["localhost", "127.0.0.1"]);
        let mut not_yet = Leaf::server(&["localhost", "127.0.0.1"]);
        not_yet.not_before = now + time::Duration::days(10);
        not_yet.not_after = now + time::Duration::days(400);
        let mut cn_only = Leaf::server(&["127.0.0.1"]);
        cn_only.no_san = true;
        let mut no_eku = Leaf::server(&["localhost", "127.0.0.1"]);
        no_eku.eku = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let blocks = vec![
            Block {
                name: "front_ok",
                cert: Some(good()),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "front_noverify",
                cert: Some(good()),
                client: Client::Off,
                answer: Answer::Docker,
            },
            Block {
                name: "wrong_san",
                cert: Some(d.ca.server(&["wrong.example", "other.example"])),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "cn_only",
                cert: Some(d.ca.issue(&cn_only)),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "other_ca",
                cert: Some(other_ca.server(&["localhost", "127.0.0.1"])),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "expired",
                cert: Some(d.ca.issue(&Leaf::server(&["localhost", "127.0.0.1"]).days(-5))),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "not_yet",
                cert: Some(d.ca.issue(&not_yet)),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "no_server_eku",
                cert: Some(d.ca.issue(&no_eku)),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "expiring",
                cert: Some(d.ca.issue(&Leaf::server(&["localhost", "127.0.0.1"]).days(10))),
                client: Client::Required,
                answer: Answer::Docker,
            },
            Block {
                name: "client_other_ca",
                cert: Some(good()),
                client: Client::OptionalOtherCa,
                answer: Answer::Docker,
            },
            Block {
                name: "plain_http",
                cert: None,
                client: Client::Off,
                answer: Answer::Docker,
            },
            Block {
                name: "not_docker",
                cert: Some(good()),
                client: Client::Off,
                answer: Answer::Text,
            },
            Block {
                name: "api_error",
                cert: Some(good()),
                client: Client::Required,
                answer: Answer::Status503,
            },
        ];
        let ports: BTreeMap<&'static str, u16> =
            blocks.iter().map(|b| (b.name, free_port())).collect();
        let socket = d.socket.display().to_string();
        let other_pem = other_ca.cert_pem.clone();
        let port_list: Vec<u16> = ports.values().copied().collect();
        let ports2 = ports.clone();
        start_nginx(
            "probe",
            move |dir| {
                let ca = write(dir, "docker-ca.pem", &d.ca.cert_pem);
                let other = write(dir, "other-ca.pem", &other_pem);
                let mut body = String::new();
                for b in &blocks {
                    let port = ports2[b.name];
                    let mut s = String::new();
                    match &b.cert {
                        Some(c) => {
                            let cert = write(dir, &format!("{}.pem", b.name), &c.cert_pem);
                            let key = write(dir, &format!("{}-key.pem", b.name), &c.key_pem);
                            s.push_str(&format!(
                                "  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n"
                            ));
                            match b.client {
                                Client::Required => s.push_str(&format!(
                                    "  ssl_verify_client on;\n  ssl_client_certificate {ca};\n"
                                )),
                                Client::OptionalOtherCa => s.push_str(&format!(
                                    "  ssl_verify_client optional;\n  ssl_client_certificate {other};\n"
                                )),
                                Client::Off => {}
                            }
                        }
                        None => s.push_str(&format!("  listen 127.0.0.1:{port};\n")),
                    }
                    match b.answer {
                        Answer::Docker => s.push_str(&format!(
                            "  location / {{ proxy_pass http://unix:{socket}:; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n"
                        )),
                        Answer::Text => s.push_str(
                            "  location / { default_type text/html; return 200 \"<html><body>hello, not docker</body></html>\\n\"; }\n",
                        ),
                        Answer::Status503 => s.push_str("  location / { return 503; }\n"),
                    }
                    body.push_str(&format!("server {{\n{s}}}\n"));
                }
                body
            },
            &port_list,
        );
        Bed { ports, other_ca }
    })
}

fn serve(handler: fn(TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || handler(s));
        }
    });
    port
}

/// Accepts TCP and never says a word.
pub fn silent() -> u16 {
    serve(|mut s| {
        let mut buf = [0u8; 1024];
        // Read (and ignore) whatever comes, until the client gives up.
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// Drips one byte of a never-ending TLS record every 200 ms.
pub fn slowloris() -> u16 {
    serve(|mut s| {
        let bytes = [0x16u8, 0x03, 0x03, 0x40, 0x00];
        for b in bytes.iter().chain(std::iter::repeat(&0u8)).take(1000) {
            if s.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// Answers anything with bytes that are not TLS (nor HTTP), then holds on.
pub fn garbage() -> u16 {
    serve(|mut s| {
        let _ = s.write_all(b"\x00\xffGARBAGE-NOT-TLS\x01\x02\x03 garbage garbage\r\n");
        let mut buf = [0u8; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// Sends a TLS record header announcing 16 KiB, 10 bytes of it, then stalls.
pub fn tls_stall() -> u16 {
    serve(|mut s| {
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut buf = [0u8; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// A listener whose accept queue is full and never drained: new SYNs are
/// dropped, so connect() hangs (a firewall that drops packets, on loopback).
pub fn blackhole() -> Option<u16> {
    use std::os::fd::FromRawFd;
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        addr.sin_port = 0;
        if libc::bind(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
            || libc::listen(fd, 0) != 0
        {
            libc::close(fd);
            return None;
        }
        let listener = TcpListener::from_raw_fd(fd);
        let port = listener.local_addr().ok()?.port();
        // Fill the queue; keep everything alive for the test process.
        let mut keep = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(
                &format!("127.0.0.1:{port}").parse().unwrap(),
                Duration::from_millis(300),
            ) {
                Ok(s) => keep.push(s),
                Err(_) => break,
            }
        }
        // Is it really full? A further connect must hang.
        let probe = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_millis(300),
        );
        if probe.is_ok() {
            return None;
        }
        std::mem::forget(keep);
        std::mem::forget(listener);
        Some(port)
    }
}

/// An in-process rustls server limited to TLS 1.2 that requires a client
/// certificate from `client_ca_pem`: a rejected client certificate aborts the
/// handshake itself with an alert (unlike TLS 1.3, where it comes on the
/// first read). Answers "OK" to anything after the handshake.
pub fn rustls_tls12_mtls(server: &Issued, client_ca_pem: &str) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap();
    // A resolver, not with_single_cert: that one refuses to serve a v1
    // certificate, which a test needs served.
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, signing));
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, s);
                let mut buf = [0u8; 4096];
                let got = tls.read(&mut buf);
                // A rejected handshake leaves the alert queued: send it, as real servers do.
                while tls.conn.wants_write() {
                    if tls.conn.write_tls(&mut tls.sock).is_err() {
                        break;
                    }
                }
                if got.is_err() {
                    // Close gracefully (no RST that could overtake the alert).
                    let _ = tls.sock.shutdown(std::net::Shutdown::Write);
                    let _ = tls.sock.set_read_timeout(Some(Duration::from_secs(2)));
                    while matches!(tls.sock.read(&mut buf), Ok(n) if n > 0) {}
                    return;
                }
                if matches!(got, Ok(n) if n > 0) {
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                    );
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
        }
    });
    port
}

/// A TCP relay on 127.0.0.1 in front of `upstream` ("host:port"); the counter
/// is the number of connections it accepted.
pub fn relay(upstream: &str) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for down in l.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let Ok(up) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut d2, mut u2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
            let (mut down, mut up) = (down, up);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut d2, &mut u2);
                let _ = u2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up, &mut down);
                let _ = down.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, count)
}

/// Reads one request head (or gives up at EOF).
fn read_head(s: &mut TcpStream) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
}

/// Plain HTTP: answers every request with a body that never ends (no
/// length, chunks forever).
pub fn endless_body() -> u16 {
    serve(|mut s| {
        read_head(&mut s);
        if s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .is_err()
        {
            return;
        }
        let chunk = format!("10000\r\n{}\r\n", "O".repeat(0x10000));
        while s.write_all(chunk.as_bytes()).is_ok() {}
    })
}

/// Plain HTTP: a healthy-looking /_ping, then a /version announcing 100 GB
/// and streaming it for real (each request on its own connection, too).
pub fn huge_version() -> u16 {
    serve(|mut s| {
        let mut buf = Vec::new();
        let mut b = [0u8; 4096];
        loop {
            // Answer requests as they come; /version gets the flood.
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                if head.starts_with("GET /_ping") {
                    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                        .is_err()
                    {
                        return;
                    }
                } else {
                    if s
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n",
                        )
                        .is_err()
                    {
                        return;
                    }
                    let junk = vec![b' '; 1 << 16];
                    while s.write_all(&junk).is_ok() {}
                    return;
                }
            }
            match s.read(&mut b) {
                Ok(n) if n > 0 => buf.extend_from_slice(&b[..n]),
                _ => return,
            }
        }
    })
}
