//! `dctx completions SHELL`: the registration script for dynamic completion.
//! The script calls back into `dctx` (COMPLETE=<shell>) so profile names
//! complete from the store at the time you press TAB.

use clap_complete::env::Shells;

use crate::cli::{CompletionShell, CompletionsArgs};
use crate::env_vars;

/// The script for one shell, exactly as committed under completions/.
pub fn script(shell: CompletionShell) -> String {
    let name = match shell {
        CompletionShell::Bash => "bash",
        CompletionShell::Zsh => "zsh",
        CompletionShell::Fish => "fish",
        CompletionShell::Powershell => "powershell",
        CompletionShell::Elvish => "elvish",
    };
    let mut buf = Vec::new();
    Shells::builtins()
        .completer(name)
        .expect("clap_complete knows every CompletionShell")
        .write_registration(env_vars::COMPLETE, "dctx", "dctx", "dctx", &mut buf)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(buf).expect("registration scripts are UTF-8")
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<u8> {
    super::print(&script(args.shell))?;
    Ok(crate::exit::OK)
}
