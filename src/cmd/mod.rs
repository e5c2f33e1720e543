//! One file per subcommand: glue between validated arguments and the core.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::environment::Env;
use crate::exit;

pub mod add;
pub mod adopt;
pub mod check;
pub mod completions;
pub mod csr;
pub mod current;
pub mod doctor;
pub mod enroll;
pub mod env;
pub mod exec;
pub mod explain;
pub mod key;
pub mod ls;
pub mod man;
pub mod metrics;
pub mod mv;
pub mod pick;
pub mod pki;
pub mod plugin;
pub mod proxy;
pub mod recover;
pub mod renew;
pub mod rm;
pub mod secrets;
pub mod set_host;
pub mod shell;
pub mod show;
pub mod use_;

/// Parse, run, and map the outcome to an exit code.
pub fn main(args: impl IntoIterator<Item = OsString>, env: Env) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // Linked as `docker-ctx`, the docker CLI runs us as its `ctx` plugin.
    if plugin::invoked_as_plugin(args.first().map(OsString::as_os_str)) {
        return plugin::main(args, env);
    }
    let parsed = match env_fast_path(&args).or_else(|| current_fast_path(&args)) {
        Some(cli) => Ok(cli),
        None => Cli::try_parse_from(args),
    };
    execute(parsed, env)
}

/// Run what was parsed (or print clap's error or help).
pub fn execute(parsed: Result<Cli, clap::Error>, env: Env) -> ExitCode {
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return status(if e.use_stderr() {
                exit::Exit::Usage
            } else {
                exit::Exit::Ok
            });
        }
    };
    let env = Env {
        color: cli.color.choice(),
        ..env
    };
    match run(cli, &env) {
        Ok(code) => status(code),
        Err(e) if is_broken_pipe(&e) => status(exit::Exit::Ok),
        Err(e) => {
            // Errors quote file names, subjects, hosts: the sender's text.
            eprintln!("dctx: {}", crate::output::sanitize_lines(&format!("{e:#}")));
            status(exit::Exit::Error)
        }
    }
}

/// The process's status, in one place: a program's signal death (passed
/// up by `exec`/`shell` once their private dir is gone) is re-raised so
/// dctx's parent sees the same death; everything else is its code.
pub fn status(e: exit::Exit) -> ExitCode {
    match e {
        exit::Exit::Signal(sig) => ExitCode::from(crate::session::reraise(sig)),
        e => ExitCode::from(e.code()),
    }
}

/// `dctx env NAME`, the form shell rc files and prompts run on every start:
/// building clap's whole command tree (every subcommand's arguments and
/// help) costs as much as the rest of `env` together, so this exact form
/// skips it. It yields what clap would: a valid profile name starts with an
/// ASCII letter or digit, so it can be neither a flag nor `--`, and `env`
/// has no subcommands. Anything else goes through clap.
pub fn env_fast_path(args: &[OsString]) -> Option<Cli> {
    let [_, cmd, name] = args else {
        return None;
    };
    let name = name.to_str()?;
    if cmd != "env" || crate::store::validate_name(name).is_err() {
        return None;
    }
    Some(Cli {
        command: Command::Env(crate::cli::EnvArgs {
            name: Some(name.to_owned()),
            shell: None,
            unset: false,
        }),
        color: crate::cli::ColorArg::Auto,
    })
}

/// `dctx current`, which prompts run on every line: the same shortcut.
pub fn current_fast_path(args: &[OsString]) -> Option<Cli> {
    match args {
        [_, cmd] if cmd == "current" => Some(Cli {
            color: crate::cli::ColorArg::Auto,
            command: Command::Current(crate::cli::CurrentArgs { json: false }),
        }),
        _ => None,
    }
}

fn run(cli: Cli, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    // Any command but the hot path may come to hold key material (a key
    // file or keyring entry, a CA key, a typed passphrase): no core file of
    // it, no ptrace by the user's other processes. exec/shell hand the
    // original limit back to their program.
    if !matches!(
        cli.command,
        Command::Env(_) | Command::Current(_) | Command::Completions(_)
    ) {
        crate::harden::no_core_dumps()
            .map_err(|e| anyhow::Error::new(e).context("disabling core dumps"))?;
    }
    match cli.command {
        Command::Add(a) => add::run(a, env),
        Command::Env(a) => env::run(a, env),
        Command::Use(a) => use_::run(a, env),
        Command::Current(a) => current::run(a, env),
        Command::Mv(a) => mv::run(a, env),
        Command::Adopt(a) => adopt::run(a, env),
        Command::SetHost(a) => set_host::run(a, env),
        Command::Ls(a) => ls::run(a, env),
        Command::Show(a) => show::run(a, env),
        Command::Rm(a) => rm::run(a, env),
        Command::Check(a) => check::run(a, env),
        Command::Doctor(a) => doctor::run(a, env),
        Command::Pki(a) => pki::run(a, env),
        Command::Exec(a) => exec::run(a, env),
        Command::Shell(a) => shell::run(a, env),
        Command::Key(a) => key::run(a, env),
        Command::Recover(a) => recover::run(a, env),
        Command::Completions(a) => completions::run(a),
        Command::Metrics(a) => metrics::run(a, env),
        Command::Proxy(a) => proxy::run(a, env),
        Command::Csr(a) => csr::run(a, env),
        Command::Enroll(a) => enroll::run(a, env),
        Command::Renew(a) => renew::run(a, env),
        Command::Explain(a) => explain::run(a, env),
        Command::Plugin(a) => plugin::run(a, env),
        Command::HelpMan(a) => man::run(a),
    }
}

/// A reader that went away (`dctx ls | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The domain object every command works through.
pub fn targets(env: &Env) -> anyhow::Result<crate::targets::Targets> {
    crate::targets::Targets::from_env(env)
}

/// Where private dirs go: $XDG_RUNTIME_DIR (per-user tmpfs), else the temp dir.
pub fn runtime_base(env: &Env) -> std::path::PathBuf {
    env.xdg_runtime_dir
        .clone()
        .unwrap_or_else(|| env.tmp_dir.clone())
}

/// Map a session's end to dctx's exit: re-raise a signal death (after the
/// dir is gone), print why a program could not start.
pub fn finish_session(
    r: Result<crate::session::Outcome, crate::session::Error>,
) -> anyhow::Result<crate::exit::Exit> {
    match r {
        Ok(crate::session::Outcome::Exited(code)) => Ok(exit::Exit::Child(code)),
        Ok(crate::session::Outcome::Signaled(sig)) => Ok(exit::Exit::Signal(sig)),
        Err(crate::session::Error::Other(e)) => Err(e),
        Err(e) => {
            eprintln!("dctx: {e}");
            Ok(e.exit())
        }
    }
}

/// Write to stdout, surfacing EPIPE as an error the caller maps to success.
pub fn print(s: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    /// `dctx env NAME` and `dctx current` skip building clap's command: they
    /// must yield exactly what clap yields, and leave every other form to clap.
    #[test]
    fn fast_paths_are_what_clap_parses() {
        for args in [
            &["dctx", "env", "prod"][..],
            &["dctx", "env", "a.b+c_d-1"][..],
            &["dctx", "env", "help"][..],
        ] {
            let fast = env_fast_path(&os(args)).expect("fast path taken");
            let clap = Cli::try_parse_from(args).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{args:?}");
        }
        let fast = current_fast_path(&os(&["dctx", "current"])).unwrap();
        let clap = Cli::try_parse_from(["dctx", "current"]).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{clap:?}"));
        for args in [
            &["dctx", "env", "-u"][..],
            &["dctx", "env", "--help"][..],
            &["dctx", "env", "--"][..],
            &["dctx", "env", "x"][..],
            &["dctx", "env", "default"][..],
            &["dctx", "env", "a/b"][..],
            &["dctx", "env", "-prod"][..],
            &["dctx", "env"][..],
            &["dctx", "show", "prod"][..],
            &["dctx", "env", "prod", "--shell", "fish"][..],
        ] {
            assert!(env_fast_path(&os(args)).is_none(), "{args:?}");
        }
        for args in [
            &["dctx", "current", "--json"][..],
            &["dctx", "currentx"][..],
        ] {
            assert!(current_fast_path(&os(args)).is_none(), "{args:?}");
        }
    }
}
