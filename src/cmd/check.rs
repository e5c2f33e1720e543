//! `dctx check`.

use std::io::IsTerminal;

use crate::cli::{CheckArgs, CheckFormat};
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Report, Status, Target};

/// Probe what docker would use for each name, in the names' order.
pub fn probe_names(
    env: &Env,
    names: &[String],
    opts: &probe::Options,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> anyhow::Result<Vec<(Target, Report)>> {
    let checks = super::targets(env)?.checks(names)?;
    let rt = probe::runtime()?;
    let reports = rt.block_on(probe::run_all(checks.probe_targets(), opts, progress));
    // Do not wait for a getaddrinfo the deadline already gave up on.
    rt.shutdown_background();
    Ok(checks.finish(reports))
}

pub fn run(args: CheckArgs, env: &Env) -> anyhow::Result<u8> {
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };
    let opts = probe::Options {
        timeout: args.timeout,
        concurrency: args.concurrency.get(),
        now: env.now,
        warn_days: i64::from(args.warn_days),
    };
    let progress = std::sync::Arc::new(output::progress::Progress::new(
        std::io::stderr().is_terminal() && format == CheckFormat::Table,
    ));
    let p = progress.clone();
    let results = probe_names(env, &args.names, &opts, move |done, total| {
        p.update(done, total)
    })?;
    progress.clear();
    let (targets, mut reports): (Vec<Target>, Vec<Report>) = results.into_iter().unzip();
    match format {
        CheckFormat::Json => crate::cmd::print(&output::probe_json::check(&reports))?,
        CheckFormat::Prometheus => {
            crate::cmd::print(&output::prometheus::exposition(&targets, &reports, env.now))?
        }
        CheckFormat::Table => {
            reports.iter_mut().for_each(output::sanitize_report);
            let width = output::width(env, args.wide);
            let mut text = output::health::render(&reports, width, output::styled(env));
            text += &output::health::hint(&reports, width).unwrap_or_default();
            crate::cmd::print(&text)?;
        }
    }
    Ok(if reports.iter().any(|r| r.status == Status::Fail) {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
