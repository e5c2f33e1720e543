//! The dctx command line: clap types (`cli`) and one thin file per
//! subcommand (`cmd`) over the library's domain.

use std::process::ExitCode;

mod cli;
mod cmd;

// The CLI reaches the library through the same `crate::` paths everywhere.
#[allow(unused_imports)]
use dctx::text;
#[allow(unused_imports)]
use dctx::{
    bundle, conn, docker, dockerd, env_vars, environment, exit, harden, output, pki, probe, proxy,
    session, shell, source, store, targets,
};

fn main() -> ExitCode {
    // Dynamic completion: `COMPLETE=bash dctx …` answers and exits here.
    clap_complete::CompleteEnv::with_factory(cli::command)
        .var(env_vars::COMPLETE)
        .completer("dctx")
        .complete();
    cmd::main(std::env::args_os(), environment::Env::from_process())
}
