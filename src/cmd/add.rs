//! `dctx add`.

use crate::cli::AddArgs;
use crate::environment::Env;

pub fn run(_args: AddArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
