//! `dctx exec NAME -- CMD…`: run CMD with the target's material in a
//! private dir (see `crate::session`), exit with its status.

use std::process::Command;

use anyhow::Context as _;

use crate::cli::ExecArgs;
use crate::environment::Env;
use crate::session;

pub use crate::session::docker_env;

pub fn run(args: ExecArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let core_limit = crate::harden::no_core_dumps().context("disabling core dumps")?;
    let targets = super::targets(env)?;
    let target = targets.target(&targets.entry(&args.name)?)?;
    let base = super::runtime_base(env);
    let req = session::Request {
        material: Some(&target),
        base: &base,
        prefix: "dctx-exec-",
        core_limit: Some(core_limit),
    };
    super::finish_session(session::run(req, |dir| {
        let mut cmd = Command::new(&args.command[0]);
        cmd.args(&args.command[1..]);
        session::apply_env(&mut cmd, &docker_env(&target, dir));
        Ok(cmd)
    }))
}
