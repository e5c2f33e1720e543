//! `dctx check`.

use std::io::IsTerminal;

use crate::cli::CheckArgs;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Report, Status};

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Probe what docker would use for each name; rows that cannot be probed
/// fail on their own, drift is added as a warning. In the targets' order.
pub fn probe_all(
    env: &Env,
    names: &[String],
    opts: &probe::Options,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> anyhow::Result<Vec<Report>> {
    let t = super::targets(env)?;
    let resolved = t.resolve(names)?;
    let mut entries = Vec::new();
    let mut targets = Vec::new();
    let mut failed = Vec::new();
    for (e, target) in resolved {
        match target {
            Ok(target) => targets.push(target),
            Err(err) => failed.push((entries.len(), format!("{err:#}"))),
        }
        entries.push(e);
    }
    let rt = runtime()?;
    let probed = rt.block_on(probe::run_all(targets, opts, progress));
    // Do not wait for a getaddrinfo the deadline already gave up on.
    rt.shutdown_background();
    let mut probed = probed.into_iter();
    let mut failed = failed.into_iter().peekable();
    let mut reports = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let mut r = match failed.next_if(|(j, _)| *j == i) {
            Some((_, msg)) => Report::unprobed(
                &e.name,
                &e.endpoint,
                msg,
                format!(
                    "re-import it with `dctx add {} … --replace`, or remove it with `dctx rm {}`",
                    e.name, e.name
                ),
            ),
            None => probed.next().expect("one report per target"),
        };
        r.add_findings(
            e.drift
                .iter()
                .map(|d| probe::Finding::warning(probe::Code::Drift, d.message(), d.fix(&e.name))),
        );
        if let Some(err) = e.error.as_ref().filter(|_| e.context) {
            // docker's context was probed; dctx's own record is broken.
            r.add_findings([probe::Finding::warning(
                probe::Code::InvalidProfile,
                format!("dctx's record is unreadable ({err}); docker's context was probed"),
                format!(
                    "`dctx adopt {}` rewrites the record from the Docker context; `dctx rm {}` removes both",
                    e.name, e.name
                ),
            )]);
        }
        reports.push(r);
    }
    Ok(reports)
}

pub fn run(args: CheckArgs, env: &Env) -> anyhow::Result<u8> {
    crate::harden::no_core_dumps()?; // it may load keys: no core file of them
    let opts = probe::Options {
        timeout: args.timeout,
        concurrency: args.concurrency.get(),
        now: env.now,
    };
    let progress = std::sync::Arc::new(output::progress::Progress::new(
        std::io::stderr().is_terminal(),
    ));
    let p = progress.clone();
    let mut reports = probe_all(env, &args.names, &opts, move |done, total| {
        p.update(done, total)
    })?;
    progress.clear();
    if args.json {
        crate::cmd::print(&output::probe_json::check(&reports))?;
    } else {
        reports.iter_mut().for_each(output::sanitize_report);
        let width = output::width(env, args.wide);
        let mut text = output::health::render(&reports, width, output::styled(env));
        text += &output::health::hint(&reports, width).unwrap_or_default();
        crate::cmd::print(&text)?;
    }
    Ok(if reports.iter().any(|r| r.status == Status::Fail) {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
