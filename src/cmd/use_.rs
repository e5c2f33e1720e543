//! `dctx use`: switch the Docker CLI's `currentContext`, remembering the
//! previous one for `dctx use -`.

use std::io::IsTerminal;

use crate::cli::UseArgs;
use crate::environment::Env;

pub fn run(args: UseArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let t = super::targets(env)?;
    let Some(name) = args.name else {
        // kubectx: no name and no terminal prints the names.
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            let names = t.names(crate::targets::Accepts::Contexts);
            super::print(
                &names
                    .iter()
                    .map(|n| format!("{}\n", crate::output::sanitize(n)))
                    .collect::<String>(),
            )?;
            return Ok(crate::exit::Exit::Ok);
        }
        return super::pick::run(&t);
    };
    let (now, was) = t.use_context(&name)?;
    if now == was {
        super::print(&format!("Current context is already {now:?}\n"))?;
    } else {
        super::print(&format!("Current context is now {now:?} (was {was:?})\n"))?;
    }
    warn_overrides(env);
    Ok(crate::exit::Exit::Ok)
}

/// The docker CLI lets these win over currentContext.
pub fn warn_overrides(env: &Env) {
    if let Some(h) = &env.docker_host {
        eprintln!(
            "dctx: warning: DOCKER_HOST={} is set in this shell and overrides the current context; run `eval \"$(dctx env --unset)\"` or `unset DOCKER_HOST`",
            crate::output::sanitize(h)
        );
    }
    if let Some(c) = &env.docker_context {
        eprintln!(
            "dctx: warning: DOCKER_CONTEXT={} is set in this shell and overrides the current context; run `unset DOCKER_CONTEXT`",
            crate::output::sanitize(c)
        );
    }
}
