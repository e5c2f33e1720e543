//! `dctx check`.

use std::io::IsTerminal;

use crate::cli::{CheckArgs, CheckFormat};
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Status};

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn run(args: CheckArgs, env: &Env) -> anyhow::Result<u8> {
    let targets = crate::cmd::targets::resolve(env, &args.names)?;
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };
    if targets.is_empty() {
        if format == CheckFormat::Prometheus {
            crate::cmd::print(&crate::cmd::metrics::exposition(&[], &[], env.now))?;
        } else if format == CheckFormat::Json {
            crate::cmd::print("[]\n")?;
        } else {
            eprintln!("dctx: no profiles or Docker contexts to check (add one with `dctx add`)");
        }
        return Ok(exit::OK);
    }
    let opts = probe::Options {
        timeout: args.timeout,
        concurrency: args.concurrency.get(),
        now: env.now,
        warn_days: i64::from(args.warn_days),
    };
    let progress = std::sync::Arc::new(output::progress::Progress::new(
        std::io::stderr().is_terminal(),
    ));
    let p = progress.clone();
    let rt = runtime()?;
    let reports = rt.block_on(probe::run_all(
        targets.clone(),
        &opts,
        move |done, total| p.update(done, total),
    ));
    // Do not wait for a getaddrinfo the deadline already gave up on.
    rt.shutdown_background();
    progress.clear();
    match format {
        CheckFormat::Json => crate::cmd::print(&output::probe_json::check(&reports))?,
        CheckFormat::Prometheus => crate::cmd::print(&crate::cmd::metrics::exposition(
            &targets, &reports, env.now,
        ))?,
        CheckFormat::Table => {
            let tty = std::io::stdout().is_terminal();
            crate::cmd::print(&output::health::render(&reports, tty, output::styled(env)))?;
        }
    }
    Ok(if reports.iter().any(|r| r.status == Status::Fail) {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
