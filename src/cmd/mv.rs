//! `dctx mv OLD NEW`.

use crate::cli::MvArgs;
use crate::environment::Env;

pub fn run(args: MvArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // It may hold a private key in memory: never in a core file.
    super::targets(env)?.rename(&args.old, &args.new)?;
    super::print(&format!("Renamed {} to {}\n", args.old, args.new))?;
    Ok(crate::exit::Exit::Ok)
}
