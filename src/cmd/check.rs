//! `dctx check`.

use std::io::IsTerminal;

use crate::cli::CheckArgs;
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
    crate::harden::no_core_dumps()?; // it may load keys: no core file of them
    let targets = crate::cmd::targets::resolve(env, &args.names)?;
    if targets.is_empty() {
        if args.json {
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
    };
    let progress = std::sync::Arc::new(output::progress::Progress::new(
        std::io::stderr().is_terminal(),
    ));
    let p = progress.clone();
    let rt = runtime()?;
    let reports = rt.block_on(probe::run_all(targets, &opts, move |done, total| {
        p.update(done, total)
    }));
    // Do not wait for a getaddrinfo the deadline already gave up on.
    rt.shutdown_background();
    progress.clear();
    if args.json {
        crate::cmd::print(&output::probe_json::check(&reports))?;
    } else {
        let tty = std::io::stdout().is_terminal();
        crate::cmd::print(&output::health::render(&reports, tty, output::styled(env)))?;
    }
    Ok(if reports.iter().any(|r| r.status == Status::Fail) {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
