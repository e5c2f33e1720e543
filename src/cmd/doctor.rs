//! `dctx doctor`.

use std::io::IsTerminal;

use crate::cli::DoctorArgs;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Status};

pub fn run(args: DoctorArgs, env: &Env) -> anyhow::Result<u8> {
    let Some(timeout) = super::check::timeout_arg(args.timeout) else {
        eprintln!("dctx: --timeout must be a number of seconds between 0 and 3600");
        return Ok(exit::USAGE);
    };
    let mut targets = crate::cmd::targets::resolve(env, std::slice::from_ref(&args.name))?;
    let target = match targets.len() {
        0 => anyhow::bail!("no profile or Docker context named {:?}", args.name),
        _ => targets.swap_remove(0),
    };
    let rt = super::check::runtime()?;
    let report = rt.block_on(probe::run(&target, timeout, env.now));
    rt.shutdown_background();
    if args.json {
        crate::cmd::print(&output::probe_json::doctor(&report))?;
    } else {
        let color = !env.no_color && std::io::stdout().is_terminal();
        crate::cmd::print(&output::doctor::render(&report, color))?;
    }
    Ok(if report.status == Status::Fail {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
