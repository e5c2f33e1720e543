//! `dctx doctor`.

use crate::cli::DoctorArgs;
use crate::environment::Env;

pub fn run(_args: DoctorArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
