//! `dctx shell NAME`: the user's shell with NAME selected for it and its
//! children only; `exit` leaves it and removes the private dir.

use crate::shell::Change;
use std::process::Command;

use anyhow::Context as _;

use crate::cli::ShellArgs;
use crate::env_vars;
use crate::environment::Env;
use crate::session::{self, shell::Flavor};

pub fn run(args: ShellArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // A nested dctx shell would hide which target is really in effect.
    if let Some(outer) = std::env::var_os(env_vars::DCTX_SHELL).filter(|v| !v.is_empty()) {
        eprintln!(
            "dctx: already in a dctx shell for {} (type `exit` to leave it first)",
            outer.to_string_lossy()
        );
        return Ok(crate::exit::Exit::Error);
    }
    let core_limit = crate::harden::no_core_dumps().context("disabling core dumps")?;
    let targets = super::targets(env)?;
    let entry = targets.entry(&args.name)?;
    let target = targets.target(&entry)?;
    // A Docker context dctx does not manage (and `default`) is selected by
    // name (it may be ssh:// or carry settings dctx does not know); a
    // profile by its files.
    let is_profile = entry.kind == crate::targets::Kind::Profile;
    let program = args
        .shell
        .clone()
        .or_else(|| env.shell.clone())
        .unwrap_or_else(|| "/bin/sh".into());
    let flavor = Flavor::of(&program);
    let user_zdotdir = std::env::var_os(env_vars::ZDOTDIR)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    let base = super::runtime_base(env);
    let req = session::Request {
        material: is_profile.then_some(&target),
        base: &base,
        prefix: "dctx-shell-",
        core_limit: Some(core_limit),
    };
    let name = target.name.clone();
    super::finish_session(session::run(req, |dir| {
        let mut vars = if is_profile {
            session::docker_env(&target, dir)
        } else {
            session::context_env(&name)
        };
        vars.push(Change::Set(env_vars::DCTX_PROFILE, name.clone()));
        vars.push(Change::Set(env_vars::DCTX_SHELL, name.clone()));
        let marker = format!("(dctx:{name}) ");
        let launch = session::shell::prepare(flavor, dir, &marker, &vars, user_zdotdir.as_deref())
            .context("writing the shell's start files")?;
        let mut cmd = Command::new(&program);
        cmd.args(&launch.args);
        session::apply_env(&mut cmd, &vars);
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        Ok(cmd)
    }))
}
