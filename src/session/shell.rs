//! Start files for `dctx shell`: the user's own rc files run first, then the
//! target's variables are applied again (an rc file that exports
//! DOCKER_HOST must not win) and a `(dctx:NAME)` marker is put in front of
//! the prompt. The files live in the session's private dir.

use std::ffi::OsString;
use std::path::Path;

use crate::env_vars;
use crate::shell::ShellKind;
use crate::shell::{Change, fish_quote, posix_quote, render};

/// The shells that get a prompt marker; any other gets the variables only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Bash,
    Zsh,
    Fish,
    Other,
}

impl Flavor {
    /// From the program's file name (`/usr/bin/zsh`, `fish`…).
    pub fn of(program: &str) -> Flavor {
        match program.rsplit('/').next().unwrap_or("") {
            "bash" => Flavor::Bash,
            "zsh" => Flavor::Zsh,
            "fish" => Flavor::Fish,
            _ => Flavor::Other,
        }
    }
}

/// Extra arguments and variables for the shell.
#[derive(Debug, Default)]
pub struct Launch {
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
}

/// `vars` as [`Change`]s.
pub fn changes(vars: &[(&'static str, Option<String>)]) -> Vec<Change> {
    vars.iter()
        .map(|(k, v)| match v {
            Some(v) => Change::Set(k, v.clone()),
            None => Change::Unset(k),
        })
        .collect()
}

/// Write the start files for `flavor` into `dir`. `marker` is the prompt
/// prefix; `user_zdotdir` is the ZDOTDIR the user had (zsh only).
pub fn prepare(
    flavor: Flavor,
    dir: &Path,
    marker: &str,
    vars: &[Change],
    user_zdotdir: Option<&Path>,
) -> std::io::Result<Launch> {
    let write = |name: &str, text: String| {
        crate::store::atomic::write(
            &dir.join(name),
            text.as_bytes(),
            crate::store::atomic::PRIVATE_FILE,
        )
    };
    let how = "dctx shell";
    let mut launch = Launch::default();
    match flavor {
        Flavor::Bash => {
            let rc = dir.join("bashrc");
            write(
                "bashrc",
                format!(
                    "# dctx shell: your ~/.bashrc, then the target and a prompt marker.\n\
                     if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n\
                     {}PS1={}\"$PS1\"\n",
                    render(ShellKind::Bash, vars, how),
                    posix_quote(marker)
                ),
            )?;
            launch.args = vec!["--rcfile".into(), rc.into()];
        }
        Flavor::Zsh => {
            // zsh reads .zshenv and .zshrc from $ZDOTDIR: ours source the
            // user's (from their ZDOTDIR or HOME), then restore ZDOTDIR so
            // zsh started from this shell behaves as usual.
            let restore = match user_zdotdir {
                Some(z) => format!("ZDOTDIR={}", posix_quote(&z.display().to_string())),
                None => "unset ZDOTDIR".to_string(),
            };
            write(
                ".zshenv",
                format!(
                    "# dctx shell: your .zshenv first.\n\
                     _dctx_zdotdir=$ZDOTDIR\n\
                     {restore}\n\
                     if [[ -f \"${{ZDOTDIR:-$HOME}}/.zshenv\" ]]; then source \"${{ZDOTDIR:-$HOME}}/.zshenv\"; fi\n\
                     if [[ -o interactive ]]; then\n  _dctx_had=${{ZDOTDIR+1}} _dctx_user=$ZDOTDIR\n  ZDOTDIR=$_dctx_zdotdir\nfi\n\
                     unset _dctx_zdotdir\n"
                ),
            )?;
            write(
                ".zshrc",
                format!(
                    "# dctx shell: your .zshrc, then the target and a prompt marker.\n\
                     if [[ -n $_dctx_had ]]; then ZDOTDIR=$_dctx_user; else unset ZDOTDIR; fi\n\
                     unset _dctx_had _dctx_user\n\
                     if [[ -f \"${{ZDOTDIR:-$HOME}}/.zshrc\" ]]; then source \"${{ZDOTDIR:-$HOME}}/.zshrc\"; fi\n\
                     {}PROMPT={}\"$PROMPT\"\n",
                    render(ShellKind::Zsh, vars, how),
                    posix_quote(marker)
                ),
            )?;
            launch
                .env
                .push((env_vars::ZDOTDIR, dir.as_os_str().to_owned()));
        }
        Flavor::Fish => {
            // --init-command runs after config.fish.
            let init = dir.join("init.fish");
            write(
                "init.fish",
                format!(
                    "# dctx shell: after your config.fish, the target and a prompt marker.\n\
                     {}\
                     if functions -q fish_prompt\n    functions --copy fish_prompt __dctx_user_prompt\nend\n\
                     function __dctx_status\n    return $argv[1]\nend\n\
                     function fish_prompt\n    set -l last $status\n    printf '%s' {}\n\
                     \x20   if functions -q __dctx_user_prompt\n        __dctx_status $last\n        __dctx_user_prompt\n    end\nend\n",
                    render(ShellKind::Fish, vars, how),
                    fish_quote(marker)
                ),
            )?;
            let mut cmd = OsString::from("source ");
            cmd.push(fish_quote(&init.display().to_string()));
            launch.args = vec!["--init-command".into(), cmd];
        }
        Flavor::Other => {}
    }
    Ok(launch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_from_program_name() {
        assert_eq!(Flavor::of("/usr/bin/bash"), Flavor::Bash);
        assert_eq!(Flavor::of("zsh"), Flavor::Zsh);
        assert_eq!(Flavor::of("/opt/fish/bin/fish"), Flavor::Fish);
        assert_eq!(Flavor::of("/bin/dash"), Flavor::Other);
    }
}
