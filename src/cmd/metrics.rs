//! `dctx metrics`: serve Prometheus metrics, probing on scrape (at most once
//! per --min-interval, the last result served in between), or write them to
//! a node_exporter textfile-collector file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::MetricsArgs;
use crate::conn::Target;
use crate::environment::Env;
use crate::exit;
use crate::output::prometheus::{self, exposition};
use crate::probe::{self, Report};

struct Prober {
    names: Vec<String>,
    exclude: Vec<String>,
    opts: probe::Options,
    env: Env,
    started: Instant,
    crls: Vec<std::path::PathBuf>,
}

impl Prober {
    /// Resolve the targets afresh (profiles added later are picked up) and probe them.
    async fn probe(&self) -> anyhow::Result<String> {
        let names = crate::cmd::check::select(&self.env, &self.names, &self.exclude)?;
        let t = crate::cmd::targets(&self.env)?;
        let checks = t.checks(&names)?;
        // The clock moves on while we serve: judge dates at scrape time.
        let now = self.env.now + self.started.elapsed().as_secs() as i64;
        let opts = probe::Options {
            now,
            ..self.opts.clone()
        };
        let reports = probe::run_all(checks.probe_targets(), &opts, |_, _| {}).await;
        let mut results = checks.finish(reports);
        // An absent `default` has no dctx_up series unless named.
        crate::cmd::check::mark_absent(&self.env, &self.names, &mut results);
        results.retain(|(_, r)| r.status != probe::Status::Absent);
        let (targets, reports): (Vec<Target>, Vec<Report>) = results.into_iter().unzip();
        let renewal: Vec<(String, Option<i64>, u64)> = crate::source::renew::enrolled(&t)
            .into_iter()
            .filter(|n| names.is_empty() || names.contains(n))
            .filter_map(|n| {
                let o = t.store.load(&n).ok()?.origin?;
                Some((n, o.renewal.last_success, o.renewal.failures))
            })
            .collect();
        Ok(exposition(&targets, &reports, now)
            + &crate::pki::crl::exposition(&self.crls, now)
            + &prometheus::renewal(&renewal))
    }
}

pub fn run(args: MetricsArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let prober = Arc::new(Prober {
        names: args.names.clone(),
        exclude: args.exclude.clone(),
        opts: args.probe.options(env.now),
        env: env.clone(),
        started: Instant::now(),
        crls: args.crl.clone(),
    });
    let rt = probe::runtime()?;
    if let Some(path) = &args.textfile {
        let text = rt.block_on(prober.probe())?;
        rt.shutdown_background();
        crate::store::atomic::write(path, text.as_bytes(), crate::store::atomic::PUBLIC_FILE)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        return Ok(exit::Exit::Ok);
    }
    let addr = args.listen.expect("clap requires --listen or --textfile");
    rt.block_on(serve(addr, prober, args.min_interval))?;
    Ok(exit::Exit::Ok)
}

/// The last exposition and when it was made.
type Cache = Arc<std::sync::Mutex<Option<(Instant, Arc<String>)>>>;

async fn serve(
    addr: std::net::SocketAddr,
    prober: Arc<Prober>,
    min_interval: Duration,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    eprintln!("dctx: serving metrics on http://{bound}/metrics");
    let cache: Cache = Default::default();
    // One probe round at a time, whatever the number of scrapers.
    let single = Arc::new(tokio::sync::Mutex::new(()));
    // A cap on open connections (each lives at most the 10 s head timeout
    // plus one answer); beyond it, new ones wait in the listen backlog.
    let slots = Arc::new(tokio::sync::Semaphore::new(256));
    loop {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (sock, _) = match listener.accept().await {
            Ok(s) => s,
            // EMFILE and friends: back off instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (prober, cache, single) = (prober.clone(), cache.clone(), single.clone());
        tokio::spawn(async move {
            let _ = handle(sock, prober, cache, single, min_interval).await;
            drop(permit);
        });
    }
}

async fn metrics_text(
    prober: &Prober,
    cache: &Cache,
    single: &tokio::sync::Mutex<()>,
    min_interval: Duration,
) -> anyhow::Result<Arc<String>> {
    let fresh = |c: &Cache| {
        c.lock()
            .unwrap()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < min_interval)
            .map(|(_, t)| t.clone())
    };
    let last = |c: &Cache| c.lock().unwrap().as_ref().map(|(_, t)| t.clone());
    if let Some(t) = fresh(cache) {
        return Ok(t);
    }
    let _guard = match single.try_lock() {
        Ok(g) => g,
        Err(_) => {
            // A probe round is running: serve the last result rather than queue.
            if let Some(t) = last(cache) {
                return Ok(t);
            }
            single.lock().await
        }
    };
    if let Some(t) = fresh(cache) {
        return Ok(t);
    }
    let text = Arc::new(prober.probe().await?);
    *cache.lock().unwrap() = Some((Instant::now(), text.clone()));
    Ok(text)
}

async fn handle(
    mut sock: tokio::net::TcpStream,
    prober: Arc<Prober>,
    cache: Cache,
    single: Arc<tokio::sync::Mutex<()>>,
    min_interval: Duration,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let head = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(head, Ok(Ok(()))) {
        return Ok(());
    }
    let line = String::from_utf8_lossy(&buf);
    let mut parts = line.lines().next().unwrap_or_default().split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            match metrics_text(&prober, &cache, &single, min_interval).await {
                Ok(t) => ("200 OK", prometheus::CONTENT_TYPE, t.as_str().to_owned()),
                Err(e) => (
                    "500 Internal Server Error",
                    "text/plain; charset=utf-8",
                    format!("dctx: {e:#}\n"),
                ),
            }
        }
        ("GET" | "HEAD", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            "dctx metrics exporter: see /metrics\n".to_owned(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: try /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_owned(),
        ),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        resp.push_str(&body);
    }
    sock.write_all(resp.as_bytes()).await?;
    sock.shutdown().await
}
