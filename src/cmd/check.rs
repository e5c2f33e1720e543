//! `dctx check`.

use crate::cli::CheckArgs;
use crate::environment::Env;

pub fn run(_args: CheckArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
