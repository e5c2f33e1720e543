//! `dctx key move NAME --to keyring|file`.

use crate::cli::{KeyArgs, KeyCommand};
use crate::environment::Env;

pub fn run(args: KeyArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // It may hold a private key in memory: never in a core file.
    let KeyCommand::Move { name, to } = args.command;
    super::print(&super::targets(env)?.key_move(&name, to.into())?)?;
    Ok(crate::exit::Exit::Ok)
}
