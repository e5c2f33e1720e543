//! `dctx doctor`.

use crate::cli::DoctorArgs;
use crate::environment::Env;
use crate::exit;
use crate::output;
use crate::probe::{self, Status};

pub fn run(args: DoctorArgs, env: &Env) -> anyhow::Result<u8> {
    crate::harden::no_core_dumps()?; // it may load keys: no core file of them
    // resolve() fails for an unknown name, so there is exactly one.
    let target = crate::cmd::targets::resolve(env, std::slice::from_ref(&args.name))?.remove(0);
    let rt = super::check::runtime()?;
    let report = rt.block_on(probe::run(&target, args.timeout, env.now));
    rt.shutdown_background();
    if args.json {
        crate::cmd::print(&output::probe_json::doctor(&report))?;
    } else {
        crate::cmd::print(&output::doctor::render(&report, output::styled(env)))?;
    }
    Ok(if report.status == Status::Fail {
        exit::UNHEALTHY
    } else {
        exit::OK
    })
}
