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
    let script = String::from_utf8(buf).expect("registration scripts are UTF-8");
    match shell {
        CompletionShell::Zsh => zsh_autoloadable(script),
        _ => script,
    }
}

/// clap's zsh script only works when sourced. Installed as `_dctx` in an
/// `$fpath` dir (the Debian package's vendor-completions), zsh autoloads it
/// on the first TAB: then it must complete, not just register.
fn zsh_autoloadable(script: String) -> String {
    const REGISTER: &str = "compdef _clap_dynamic_completer_dctx dctx\n";
    match script.strip_suffix(REGISTER) {
        Some(body) => format!(
            "{body}if [ \"$funcstack[1]\" = \"_dctx\" ]; then\n    _clap_dynamic_completer_dctx \"$@\"\nelse\n    {REGISTER}fi\n"
        ),
        None => script,
    }
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<crate::exit::Exit> {
    super::print(&script(args.shell))?;
    Ok(crate::exit::Exit::Ok)
}
