//! `dctx current`: the name docker would use now. Runs in prompts: reads
//! config.json at most, no clap tree, no runtime.

use crate::cli::CurrentArgs;
use crate::environment::Env;

pub fn run(args: CurrentArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let (name, source) = super::targets(env)?.current();
    if args.json {
        super::print(&crate::output::json(&serde_json::json!({
            "name": name,
            "source": source,
        }))?)?;
    } else {
        super::print(&format!("{}\n", crate::output::sanitize(&name)))?;
    }
    Ok(crate::exit::Exit::Ok)
}
