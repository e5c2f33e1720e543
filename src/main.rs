use std::process::ExitCode;

fn main() -> ExitCode {
    // Dynamic completion: `COMPLETE=bash dctx …` answers and exits here.
    clap_complete::CompleteEnv::with_factory(dctx::cli::command)
        .completer("dctx")
        .complete();
    dctx::cmd::main(std::env::args_os(), dctx::environment::Env::from_process())
}
