//! Resolve names to probe targets: dctx profiles plus Docker contexts that
//! dctx did not create.

use crate::environment::Env;
use crate::probe::Target;

/// All targets (when `names` is empty) or the named ones, in a stable order.
pub fn resolve(_env: &Env, _names: &[String]) -> anyhow::Result<Vec<Target>> {
    anyhow::bail!("not implemented yet")
}
