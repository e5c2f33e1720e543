//! `dctx adopt NAME`.

use crate::cli::AdoptArgs;
use crate::environment::Env;

pub fn run(args: AdoptArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let (p, lost) = super::targets(env)?.adopt(&args.name)?;
    if !lost.is_empty() {
        eprintln!(
            "dctx: warning: the Docker context {} lost {} (removed outside dctx); adopted as docker uses it now: {}. To restore them: dctx add {} --bundle … --replace",
            p.name,
            lost.join(", "),
            p.tls.label(),
            p.name
        );
    }
    super::print(&format!(
        "dctx now manages {} → {} ({}); the Docker context was not rewritten\n",
        p.name,
        crate::output::sanitize(&p.host),
        p.tls.label()
    ))?;
    Ok(crate::exit::Exit::Ok)
}
