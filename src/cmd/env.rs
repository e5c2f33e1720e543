//! `dctx env`: the shell hot path. Reads that name's meta.json and
//! profile.json only: no runtime, no network, no certificate parsing.

use crate::cli::EnvArgs;
use crate::environment::Env;
use crate::shell::{self, ShellKind};

pub fn run(args: EnvArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let shell: ShellKind = args
        .shell
        .map(Into::into)
        .unwrap_or_else(|| shell::detect_from(env.parent_comm.as_deref(), env.shell.as_deref()));
    let shell_flag = args
        .shell
        .map(|s| format!(" --shell {}", ShellKind::from(s).name()))
        .unwrap_or_default();
    if args.unset {
        super::print(&shell::render(
            shell,
            &shell::env::unset(),
            &format!("dctx env --unset{shell_flag}"),
        ))?;
        return Ok(crate::exit::Exit::Ok);
    }
    let Some(name) = args.name else {
        anyhow::bail!("which profile? usage: dctx env NAME (or --unset)");
    };
    let changes = super::targets(env)?.env_changes(&name)?;
    super::print(&shell::render(
        shell,
        &changes,
        &format!("dctx env {name}{shell_flag}"),
    ))?;
    Ok(crate::exit::Exit::Ok)
}
