//! `dctx doctor`.

use crate::cli::DoctorArgs;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Status};

pub fn run(args: DoctorArgs, env: &Env) -> anyhow::Result<u8> {
    crate::harden::no_core_dumps()?; // it may load keys: no core file of them
    let opts = probe::Options {
        timeout: args.timeout,
        concurrency: 1,
        now: env.now,
    };
    let mut report =
        super::check::probe_all(env, std::slice::from_ref(&args.name), &opts, |_, _| {})?.remove(0);
    if args.json {
        crate::cmd::print(&output::probe_json::doctor(&report))?;
    } else {
        output::sanitize_report(&mut report);
        crate::cmd::print(&output::doctor::render(
            &report,
            output::width(env, false),
            output::styled(env),
        ))?;
    }
    Ok(if report.status == Status::Fail {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
