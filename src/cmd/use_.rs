//! `dctx use`.

use crate::cli::UseArgs;
use crate::environment::Env;

pub fn run(_args: UseArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
