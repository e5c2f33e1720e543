//! Names → probe targets, through the domain (what docker would use).

use crate::environment::Env;
use crate::probe::Target;

/// All targets (when `names` is empty) or the named ones, in a stable
/// order. Only the selected targets' files are read.
pub fn resolve(env: &Env, names: &[String]) -> anyhow::Result<Vec<Target>> {
    let t = super::targets(env)?;
    t.resolve(names)?
        .into_iter()
        .map(|(_, target)| target)
        .collect()
}
