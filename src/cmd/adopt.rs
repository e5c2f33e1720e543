//! `dctx adopt NAME`.

use crate::cli::AdoptArgs;
use crate::environment::Env;

pub fn run(args: AdoptArgs, env: &Env) -> anyhow::Result<u8> {
    let p = super::targets(env)?.adopt(&args.name)?;
    super::print(&format!(
        "dctx now manages {} → {} ({}); the Docker context was not rewritten\n",
        p.name,
        crate::output::sanitize(&p.host),
        p.tls.label()
    ))?;
    Ok(crate::exit::OK)
}
