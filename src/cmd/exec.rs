//! `dctx exec NAME -- CMD…`: run CMD with the target's material in a
//! private dir (see `crate::session`), exit with its status.

use std::process::Command;

use anyhow::Context as _;

use crate::cli::ExecArgs;
use crate::environment::Env;
use crate::session::{self, Outcome};

pub use crate::session::docker_env;

/// Where private dirs go: $XDG_RUNTIME_DIR (per-user tmpfs), else the temp dir.
pub fn runtime_base(env: &Env) -> std::path::PathBuf {
    env.xdg_runtime_dir
        .clone()
        .unwrap_or_else(|| env.tmp_dir.clone())
}

/// Map a session's end to dctx's exit: re-raise a signal death (after the
/// dir is gone), print why a program could not start.
pub fn finish(r: Result<Outcome, session::Error>) -> anyhow::Result<u8> {
    match r {
        Ok(Outcome::Exited(code)) => Ok(code),
        Ok(Outcome::Signaled(sig)) => Ok(session::reraise(sig)),
        Err(session::Error::Other(e)) => Err(e),
        Err(e) => {
            eprintln!("dctx: {e}");
            Ok(e.exit_code())
        }
    }
}

pub fn run(args: ExecArgs, env: &Env) -> anyhow::Result<u8> {
    let core_limit = crate::harden::no_core_dumps().context("disabling core dumps")?;
    let target = super::targets::resolve(env, std::slice::from_ref(&args.name))?
        .pop()
        .context("no such profile")?;
    let base = runtime_base(env);
    let req = session::Request {
        material: Some(&target),
        base: &base,
        prefix: "dctx-exec-",
        core_limit: Some(core_limit),
    };
    finish(session::run(req, |dir| {
        let mut cmd = Command::new(&args.command[0]);
        cmd.args(&args.command[1..]);
        session::apply_env(&mut cmd, &docker_env(&target, dir));
        Ok(cmd)
    }))
}
