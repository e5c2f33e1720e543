//! `dctx key move NAME --to keyring|file`.

use crate::cli::{KeyArgs, KeyCommand, KeyStoreArg};
use crate::environment::Env;
use crate::targets::KeyDestination;

pub fn run(args: KeyArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // It may hold a private key in memory: never in a core file.
    let KeyCommand::Move { name, to } = args.command;
    let to = match to {
        KeyStoreArg::File => KeyDestination::File,
        KeyStoreArg::Keyring => KeyDestination::Keyring,
    };
    super::print(&super::targets(env)?.key_move(&name, to)?)?;
    Ok(crate::exit::Exit::Ok)
}
