//! One file per subcommand: glue between validated arguments and the core.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::environment::Env;
use crate::exit;

pub mod add;
pub mod check;
pub mod complete;
pub mod completions;
pub mod doctor;
pub mod env;
pub mod exec;
pub mod key;
pub mod ls;
pub mod pki;
pub mod rm;
pub mod show;
pub mod targets;
pub mod use_;

/// Parse, run, and map the outcome to an exit code.
pub fn main(args: impl IntoIterator<Item = OsString>, env: Env) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match run(cli, &env) {
        Ok(code) => exit::code(code),
        Err(e) if is_broken_pipe(&e) => exit::code(exit::OK),
        Err(e) => {
            eprintln!("dctx: {e:#}");
            exit::code(exit::ERROR)
        }
    }
}

fn run(cli: Cli, env: &Env) -> anyhow::Result<u8> {
    match cli.command {
        Command::Add(a) => add::run(a, env),
        Command::Env(a) => env::run(a, env),
        Command::Use(a) => use_::run(a, env),
        Command::Ls(a) => ls::run(a, env),
        Command::Show(a) => show::run(a, env),
        Command::Rm(a) => rm::run(a, env),
        Command::Check(a) => check::run(a, env),
        Command::Doctor(a) => doctor::run(a, env),
        Command::Pki(a) => pki::run(a, env),
        Command::Exec(a) => exec::run(a, env),
        Command::Key(a) => key::run(a, env),
        Command::Completions(a) => completions::run(a),
    }
}

/// A reader that went away (`dctx ls | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Write to stdout, surfacing EPIPE as an error the caller maps to success.
pub fn print(s: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}
