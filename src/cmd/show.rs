//! `dctx show`.

use crate::cli::ShowArgs;
use crate::environment::Env;

pub fn run(_args: ShowArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
