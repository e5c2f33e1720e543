//! `dctx rm`.

use crate::cli::RmArgs;
use crate::environment::Env;

pub fn run(_args: RmArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
