//! `dctx check`.

use std::io::IsTerminal;

use crate::cli::{CheckArgs, CheckFormat};
use crate::conn::Target;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Report, Status};

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

/// The names to probe: those given, else everything but `exclude` (an
/// empty list still means "all", so `default` can be told apart as unasked).
pub fn select(env: &Env, names: &[String], exclude: &[String]) -> anyhow::Result<Vec<String>> {
    if exclude.is_empty() {
        return Ok(names.to_vec());
    }
    let targets = super::targets(env)?;
    for x in exclude {
        targets.entry(x)?; // a typo is an error, not a silent no-op
    }
    Ok(targets
        .list()?
        .into_iter()
        .map(|e| e.name)
        .filter(|n| !exclude.contains(n))
        .collect())
}

/// docker's `default` when nobody asked for it by name and nothing is
/// configured (no DOCKER_HOST, no local socket): absent, not failed. It
/// neither sets the exit code nor counts as down.
pub fn mark_absent(env: &Env, asked: &[String], results: &mut [(Target, Report)]) {
    let local = crate::targets::LOCAL_SOCKET;
    for (t, r) in results.iter_mut() {
        if t.name == crate::targets::DEFAULT
            && !asked.iter().any(|n| n == crate::targets::DEFAULT)
            && env.docker_host.is_none()
            && t.host == local
            && !std::path::Path::new(local.trim_start_matches("unix://")).exists()
        {
            r.status = Status::Absent;
            r.findings = vec![probe::Finding::info(
                probe::Code::ConnectionRefused,
                format!("no local daemon: DOCKER_HOST is unset and there is no socket at {local}"),
                "nothing to do unless you run dockerd here (`dctx check default` probes it anyway)",
            )];
        }
    }
}

pub fn run(args: CheckArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };
    let opts = args.probe.options(env.now);
    let progress = std::sync::Arc::new(output::progress::Progress::new(
        std::io::stderr().is_terminal() && format == CheckFormat::Table,
    ));
    let p = progress.clone();
    let names = select(env, &args.names, &args.exclude)?;
    let mut results = probe_names(env, &names, &opts, move |done, total| p.update(done, total))?;
    mark_absent(env, &args.names, &mut results);
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
            let mut text = output::health::render(
                &reports,
                width,
                output::styled(env),
                i64::from(args.probe.warn_days),
            );
            text += &output::health::hint(&reports, width).unwrap_or_default();
            if reports.iter().all(|r| r.status == Status::Absent) {
                // A fresh machine: say what to do first.
                text += "no Docker contexts yet: import the TLS files your daemon's admin gave you with\n  \
                         dctx add NAME --bundle FILE --host tcp://HOST:2376\n";
            }
            crate::cmd::print(&text)?;
        }
    }
    Ok(exit::Exit::health(
        reports.iter().any(|r| r.status == Status::Fail),
    ))
}
