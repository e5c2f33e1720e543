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

/// Who set the variables, in the rendered comment.
const HOW: &str = "dctx shell";

/// Write the start files for `flavor` into `dir`. `marker` is the prompt
/// prefix; `user_zdotdir` is the ZDOTDIR the user had (zsh only).
pub fn prepare(
    flavor: Flavor,
    dir: &Path,
    marker: &str,
    vars: &[Change],
    user_zdotdir: Option<&Path>,
) -> std::io::Result<Launch> {
    match flavor {
        Flavor::Bash => bash(dir, marker, vars),
        Flavor::Zsh => zsh(dir, marker, vars, user_zdotdir),
        Flavor::Fish => fish(dir, marker, vars),
        Flavor::Other => Ok(Launch::default()),
    }
}

/// A start file private to the user, like the session dir it lives in.
fn write(dir: &Path, name: &str, text: String) -> std::io::Result<()> {
    crate::store::atomic::write(
        &dir.join(name),
        text.as_bytes(),
        crate::store::atomic::PRIVATE_FILE,
    )
}

/// bash reads our rc file instead of ~/.bashrc (`--rcfile`), so it sources that first.
fn bash(dir: &Path, marker: &str, vars: &[Change]) -> std::io::Result<Launch> {
    let rc = dir.join("bashrc");
    write(
        dir,
        "bashrc",
        format!(
            "# dctx shell: your ~/.bashrc, then the target and a prompt marker.\n\
             if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n\
             {}PS1={}\"$PS1\"\n",
            render(ShellKind::Bash, vars, HOW),
            posix_quote(marker)
        ),
    )?;
    Ok(Launch {
        args: vec!["--rcfile".into(), rc.into()],
        ..Launch::default()
    })
}

/// zsh reads .zshenv and .zshrc from $ZDOTDIR: ours source the user's
/// (from their ZDOTDIR or HOME), then restore ZDOTDIR so zsh started from
/// this shell behaves as usual.
fn zsh(
    dir: &Path,
    marker: &str,
    vars: &[Change],
    user_zdotdir: Option<&Path>,
) -> std::io::Result<Launch> {
    let restore = match user_zdotdir {
        Some(z) => format!("ZDOTDIR={}", posix_quote(&z.display().to_string())),
        None => "unset ZDOTDIR".to_string(),
    };
    write(
        dir,
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
        dir,
        ".zshrc",
        format!(
            "# dctx shell: your .zshrc, then the target and a prompt marker.\n\
             if [[ -n $_dctx_had ]]; then ZDOTDIR=$_dctx_user; else unset ZDOTDIR; fi\n\
             unset _dctx_had _dctx_user\n\
             if [[ -f \"${{ZDOTDIR:-$HOME}}/.zshrc\" ]]; then source \"${{ZDOTDIR:-$HOME}}/.zshrc\"; fi\n\
             {}PROMPT={}\"$PROMPT\"\n",
            render(ShellKind::Zsh, vars, HOW),
            posix_quote(marker)
        ),
    )?;
    Ok(Launch {
        env: vec![(env_vars::ZDOTDIR, dir.as_os_str().to_owned())],
        ..Launch::default()
    })
}

/// fish's --init-command runs after config.fish; the marker wraps the
/// user's own prompt function.
fn fish(dir: &Path, marker: &str, vars: &[Change]) -> std::io::Result<Launch> {
    let init = dir.join("init.fish");
    write(
        dir,
        "init.fish",
        format!(
            "# dctx shell: after your config.fish, the target and a prompt marker.\n\
             {}\
             if functions -q fish_prompt\n    functions --copy fish_prompt __dctx_user_prompt\nend\n\
             function __dctx_status\n    return $argv[1]\nend\n\
             function fish_prompt\n    set -l last $status\n    printf '%s' {}\n\
             \x20   if functions -q __dctx_user_prompt\n        __dctx_status $last\n        __dctx_user_prompt\n    end\nend\n",
            render(ShellKind::Fish, vars, HOW),
            fish_quote(marker)
        ),
    )?;
    let mut cmd = OsString::from("source ");
    cmd.push(fish_quote(&init.display().to_string()));
    Ok(Launch {
        args: vec!["--init-command".into(), cmd],
        ..Launch::default()
    })
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
