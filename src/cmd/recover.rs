//! `dctx recover`: finish an interrupted change (what every command does
//! first), or with `--abort` undo it when finishing keeps failing.

use crate::cli::RecoverArgs;
use crate::environment::Env;

pub fn run(args: RecoverArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let found = super::targets(env)?.recover(args.abort)?;
    let msg = match (found, args.abort) {
        (false, _) => "nothing to recover\n",
        (true, false) => "finished the interrupted change\n",
        (true, true) => "undid the interrupted change\n",
    };
    super::print(msg)?;
    Ok(crate::exit::Exit::Ok)
}
