//! `dctx pki …`.

use crate::cli::pki::PkiArgs;
use crate::environment::Env;

pub fn run(_args: PkiArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
