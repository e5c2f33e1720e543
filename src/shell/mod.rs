//! Per-shell env rendering. Every statement ends with a separator because
//! `eval $(dctx env x)` (unquoted) joins all lines into one; the how-to
//! comment therefore comes last. `env` decides which variables to set.

pub mod env;

/// The shells `dctx env` speaks (the CLI has its own clap mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    Bash,
    Zsh,
    Sh,
    Fish,
    Powershell,
    Cmd,
    Nu,
    /// tcsh and csh (setenv / unsetenv).
    Tcsh,
}

impl ShellKind {
    /// The name `--shell` takes.
    pub fn name(self) -> &'static str {
        match self {
            ShellKind::Bash => "bash",
            ShellKind::Zsh => "zsh",
            ShellKind::Sh => "sh",
            ShellKind::Fish => "fish",
            ShellKind::Powershell => "powershell",
            ShellKind::Cmd => "cmd",
            ShellKind::Nu => "nu",
            ShellKind::Tcsh => "tcsh",
        }
    }
}

/// One change to the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Set(&'static str, String),
    Unset(&'static str),
}

/// A shell from a program name or path ("/usr/bin/fish", "-bash", "tcsh").
pub fn from_name(name: &str) -> Option<ShellKind> {
    let name = name
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_start_matches('-')
        .trim_end_matches(".exe");
    Some(match name {
        "bash" => ShellKind::Bash,
        "zsh" => ShellKind::Zsh,
        "fish" => ShellKind::Fish,
        "pwsh" | "powershell" => ShellKind::Powershell,
        "nu" => ShellKind::Nu,
        "cmd" => ShellKind::Cmd,
        "tcsh" | "csh" => ShellKind::Tcsh,
        "sh" | "dash" | "ash" | "ksh" | "mksh" => ShellKind::Sh,
        _ => return None,
    })
}

/// Pick the shell from `$SHELL` (basename), defaulting to POSIX sh.
pub fn detect(shell_var: Option<&str>) -> ShellKind {
    shell_var.and_then(from_name).unwrap_or(ShellKind::Sh)
}

/// The shell to print for: the parent process when it is a shell (fish
/// users often keep bash as login shell, so `$SHELL` would be wrong there),
/// else `$SHELL`, else sh.
pub fn detect_from(parent_comm: Option<&str>, shell_var: Option<&str>) -> ShellKind {
    parent_comm
        .and_then(from_name)
        .unwrap_or_else(|| detect(shell_var))
}

/// Render `changes` for `shell`, followed by a comment showing how to apply
/// the output (`invocation` is e.g. `dctx env prod`).
pub fn render(shell: ShellKind, changes: &[Change], invocation: &str) -> String {
    let mut out = String::new();
    statements(&mut out, shell, changes);
    how_to_apply(&mut out, shell, invocation);
    out
}

/// One statement per change, written straight into `out` (no string per
/// line: `dctx env` is on the prompt's hot path).
fn statements(out: &mut String, shell: ShellKind, changes: &[Change]) {
    use std::fmt::Write as _;
    if shell == ShellKind::Nu {
        // Nushell cannot eval text (`source` runs at parse time): print a
        // NUON record for `from nuon | load-env`. null unsets: nu passes
        // no null variable to external commands.
        out.push('{');
        for (i, c) in changes.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = match c {
                Change::Set(k, v) => write!(out, "{k}: {}", nu_quote(v)),
                Change::Unset(k) => write!(out, "{k}: null"),
            };
        }
        out.push_str("}\n");
        return;
    }
    for c in changes {
        let _ = match (shell, c) {
            (ShellKind::Bash | ShellKind::Zsh | ShellKind::Sh, Change::Set(k, v)) => {
                writeln!(out, "export {k}={};", posix_quote(v))
            }
            (ShellKind::Bash | ShellKind::Zsh | ShellKind::Sh, Change::Unset(k)) => {
                writeln!(out, "unset {k};")
            }
            (ShellKind::Fish, Change::Set(k, v)) => writeln!(out, "set -gx {k} {};", fish_quote(v)),
            // Plain `set -e` fails (status 4) on an unset variable.
            (ShellKind::Fish, Change::Unset(k)) => writeln!(out, "if set -q {k}; set -e {k}; end;"),
            (ShellKind::Powershell, Change::Set(k, v)) => {
                writeln!(out, "$Env:{k} = {};", ps_quote(v))
            }
            (ShellKind::Powershell, Change::Unset(k)) => {
                writeln!(out, "Remove-Item Env:\\{k} -ErrorAction SilentlyContinue;")
            }
            // cmd.exe has no quoting for SET values: the value runs to end of line.
            (ShellKind::Cmd, Change::Set(k, v)) => writeln!(out, "SET {k}={v}"),
            (ShellKind::Cmd, Change::Unset(k)) => writeln!(out, "SET {k}="),
            // `eval \`…\`` joins the lines into one: every statement ends in `;`.
            (ShellKind::Tcsh, Change::Set(k, v)) => writeln!(out, "setenv {k} {};", csh_quote(v)),
            (ShellKind::Tcsh, Change::Unset(k)) => writeln!(out, "unsetenv {k};"),
            (ShellKind::Nu, _) => unreachable!("a NUON record, above"),
        };
    }
}

/// The trailing comment (last, so an unquoted `eval` joining the lines
/// still runs every statement) with the command that applies the output.
fn how_to_apply(out: &mut String, shell: ShellKind, invocation: &str) {
    use std::fmt::Write as _;
    let _ = match shell {
        ShellKind::Bash | ShellKind::Zsh | ShellKind::Sh => write!(
            out,
            "# Run this command to configure your shell:\n# eval \"$({invocation})\"\n"
        ),
        ShellKind::Fish => write!(
            out,
            "# Run this command to configure your shell:\n# {invocation} | source\n"
        ),
        ShellKind::Powershell => write!(
            out,
            "# Run this command to configure your shell:\n# & {invocation} | Invoke-Expression\n"
        ),
        ShellKind::Cmd => write!(
            out,
            "REM Run this command to configure your shell:\nREM \t@FOR /f \"tokens=*\" %i IN ('{invocation}') DO @%i\n"
        ),
        ShellKind::Nu => write!(
            out,
            "# Run this command to configure your shell:\n# {invocation} | from nuon | load-env\n"
        ),
        // Interactive tcsh has no `#` comments: a quoted `:` (no-op)
        // line, where the backquotes stay literal.
        ShellKind::Tcsh => writeln!(
            out,
            ": 'Run this command to configure your shell: eval `{invocation}`';"
        ),
    };
}

/// POSIX single quotes: only `'` needs care (`'\''`).
pub fn posix_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// csh single quotes: `'` as `'\''`, and `!` escaped (history expansion
/// happens even inside single quotes).
pub fn csh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''").replace('!', r"\!"))
}

/// fish single quotes: backslash and `'` are escaped with a backslash.
pub fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
}

/// PowerShell single quotes: `'` doubles (also the typographic variants).
pub fn ps_quote(v: &str) -> String {
    let mut s = String::from("'");
    for ch in v.chars() {
        if matches!(ch, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            s.push(ch);
        }
        s.push(ch);
    }
    s.push('\'');
    s
}

/// Nushell raw string `r#'…'#` (no escapes); widen the fence if needed.
pub fn nu_quote(v: &str) -> String {
    let mut hashes = "#".to_string();
    while v.contains(&format!("'{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}'{v}'{hashes}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env_vars;

    #[test]
    fn quoting_survives_awkward_values() {
        assert_eq!(posix_quote("a b'c"), r"'a b'\''c'");
        assert_eq!(fish_quote(r"a\b'c"), r"'a\\b\'c'");
        assert_eq!(ps_quote("it's"), "'it''s'");
        assert_eq!(nu_quote("x'#y"), "r##'x'#y'##");
        assert_eq!(csh_quote("a'b!c"), r"'a'\''b\!c'");
    }

    #[test]
    fn detect_uses_basename() {
        assert_eq!(detect(Some("/usr/bin/fish")), ShellKind::Fish);
        assert_eq!(detect(Some("/bin/zsh")), ShellKind::Zsh);
        assert_eq!(detect(Some("/usr/bin/pwsh")), ShellKind::Powershell);
        assert_eq!(detect(None), ShellKind::Sh);
        assert_eq!(detect(Some("/bin/dash")), ShellKind::Sh);
        assert_eq!(detect(Some("/bin/tcsh")), ShellKind::Tcsh);
        assert_eq!(detect(Some("/bin/csh")), ShellKind::Tcsh);
    }

    #[test]
    fn parent_shell_beats_login_shell() {
        assert_eq!(
            detect_from(Some("fish"), Some("/bin/bash")),
            ShellKind::Fish
        );
        assert_eq!(detect_from(Some("-zsh"), None), ShellKind::Zsh);
        // Not a shell (sudo, make, tmux): fall back to $SHELL.
        assert_eq!(
            detect_from(Some("sudo"), Some("/usr/bin/fish")),
            ShellKind::Fish
        );
    }

    #[test]
    fn every_statement_is_terminated_for_unquoted_eval() {
        let out = render(
            ShellKind::Bash,
            &[
                Change::Set(env_vars::DOCKER_HOST, "tcp://h:1".into()),
                Change::Unset(env_vars::DOCKER_CONTEXT),
            ],
            "dctx env p",
        );
        for line in out.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.ends_with(';'), "{line}");
        }
        assert!(out.trim_end().lines().last().unwrap().starts_with('#'));
    }
}
