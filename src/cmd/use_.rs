//! `dctx use`: switch the Docker CLI's `currentContext`, remembering the
//! previous one for `dctx use -`.

use anyhow::Context as _;

use crate::cli::UseArgs;
use crate::docker::DockerConfig;
use crate::environment::Env;
use crate::store::{Store, atomic};

const STATE: &str = "state.json";

/// Record the context we switched away from (`None` = docker's default).
pub fn remember_previous(store: &Store, previous: Option<&str>) -> anyhow::Result<()> {
    let json = serde_json::json!({ "previousContext": previous.unwrap_or("default") });
    atomic::create_dir(&store.root, atomic::PRIVATE_DIR)?;
    atomic::write(
        &store.root.join(STATE),
        &serde_json::to_vec_pretty(&json)?,
        atomic::PRIVATE_FILE,
    )
    .context("saving the previous context")
}

fn previous(store: &Store) -> Option<String> {
    let data = std::fs::read(store.root.join(STATE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
    v["previousContext"].as_str().map(str::to_owned)
}

pub fn run(args: UseArgs, env: &Env) -> anyhow::Result<u8> {
    let store = Store::from_env(env)?;
    let docker = DockerConfig::from_env(env)?;
    let _lock = store.lock()?;
    let target = if args.name == "-" {
        previous(&store).context("no previous context to go back to")?
    } else {
        args.name.clone()
    };
    let new = if target == "default" {
        None
    } else {
        if docker.read_context(&target)?.is_none() {
            if store.exists(&target) {
                anyhow::bail!(
                    "profile {target:?} has no Docker context (added with --no-context or --key-store keyring): use `eval \"$(dctx env {target})\"` or `dctx exec {target} -- docker …`"
                );
            }
            anyhow::bail!("no Docker context named {target:?} (see `dctx ls`)");
        }
        Some(target.as_str())
    };
    let _docker_lock = docker.lock()?;
    let prev = docker.set_current_context(new)?;
    remember_previous(&store, prev.as_deref())?;
    let shown = new.unwrap_or("default");
    super::print(&format!(
        "Current context is now {shown:?} (was {:?})\n",
        prev.as_deref().unwrap_or("default")
    ))?;
    // The docker CLI silently lets these win over currentContext (docker/cli#3765).
    if let Some(h) = &env.docker_host {
        eprintln!(
            "dctx: warning: DOCKER_HOST={h} is set in this shell and overrides the current context; run `eval \"$(dctx env --unset)\"` or `unset DOCKER_HOST`"
        );
    }
    if let Some(c) = &env.docker_context {
        eprintln!(
            "dctx: warning: DOCKER_CONTEXT={c} is set in this shell and overrides the current context; run `unset DOCKER_CONTEXT`"
        );
    }
    Ok(crate::exit::OK)
}
