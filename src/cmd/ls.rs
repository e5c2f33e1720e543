//! `dctx ls`.

use crate::cli::LsArgs;
use crate::environment::Env;

pub fn run(_args: LsArgs, _env: &Env) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}

/// Every profile and Docker context name (for completion), no parsing.
pub fn all_names(env: &Env) -> Vec<String> {
    let mut names = crate::store::Store::from_env(env)
        .map(|s| s.names())
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}
