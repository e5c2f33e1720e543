//! `dctx metrics`: serve Prometheus metrics, probing on scrape (at most once
//! per --min-interval, the last result served in between), or write them to
//! a node_exporter textfile-collector file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

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
type Cache = Arc<std::sync::Mutex<Option<(Instant, Bytes)>>>;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

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
    // A cap on open connections (each lives at most the head timeout plus
    // one answer); beyond it, new ones wait in the listen backlog.
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
            let svc = hyper::service::service_fn(move |req| {
                let (prober, cache, single) = (prober.clone(), cache.clone(), single.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        answer(req, &prober, &cache, &single, min_interval).await,
                    )
                }
            });
            // One answer per connection (the cap counts connections), a
            // bounded head read in bounded time; hyper answers HEAD without
            // the body and an oversized head with 431.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(sock), svc)
                .await;
            drop(permit);
        });
    }
}

async fn metrics_text(
    prober: &Prober,
    cache: &Cache,
    single: &tokio::sync::Mutex<()>,
    min_interval: Duration,
) -> anyhow::Result<Bytes> {
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
    let text = Bytes::from(prober.probe().await?);
    *cache.lock().unwrap() = Some((Instant::now(), text.clone()));
    Ok(text)
}

/// The answer to one request: /metrics, a pointer at it on /, else 404/405.
async fn answer(
    req: Request<hyper::body::Incoming>,
    prober: &Prober,
    cache: &Cache,
    single: &tokio::sync::Mutex<()>,
    min_interval: Duration,
) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    let (status, ctype, body) = if !matches!(*req.method(), Method::GET | Method::HEAD) {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            Bytes::from_static(b"only GET\n"),
        )
    } else {
        match req.uri().path() {
            "/metrics" => match metrics_text(prober, cache, single, min_interval).await {
                Ok(t) => (StatusCode::OK, prometheus::CONTENT_TYPE, t),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    PLAIN,
                    Bytes::from(format!("dctx: {e:#}\n")),
                ),
            },
            "/" => (
                StatusCode::OK,
                PLAIN,
                Bytes::from_static(b"dctx metrics exporter: see /metrics\n"),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                PLAIN,
                Bytes::from_static(b"not found: try /metrics\n"),
            ),
        }
    };
    let mut resp = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, ctype);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        resp = resp.header(hyper::header::ALLOW, "GET, HEAD");
    }
    resp.body(Full::new(body)).expect("a valid response")
}
