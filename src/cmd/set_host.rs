//! `dctx set-host NAME URL`.

use crate::cli::SetHostArgs;
use crate::environment::Env;

pub fn run(args: SetHostArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let (host, warnings) = super::targets(env)?.set_host(&args.name, &args.url)?;
    for w in warnings {
        eprintln!("dctx: warning: {w}");
    }
    super::print(&format!("{} → {host}\n", args.name))?;
    Ok(crate::exit::Exit::Ok)
}
