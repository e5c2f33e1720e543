//! `dctx env`.

use crate::cli::EnvArgs;
use crate::environment::Env;

pub fn run(_args: EnvArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
