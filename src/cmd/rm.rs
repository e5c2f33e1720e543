//! `dctx rm`: remove profiles (and the contexts dctx wrote for them), or,
//! with --force, Docker contexts dctx did not create. All or nothing.

use crate::cli::RmArgs;
use crate::environment::Env;

pub fn run(args: RmArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let out = super::targets(env)?.rm(&args.names, args.force, args.keep_context)?;
    super::print(
        &out.lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )?;
    Ok(crate::exit::Exit::Ok)
}
