//! `dctx env` in real shells: bash, zsh, sh, fish, tcsh and nu each apply
//! what it prints, the real docker CLI then reaches the test dockerd, and
//! `--unset` clears every variable again. Without `--shell`, the shell that
//! runs dctx decides the syntax, not the login `$SHELL`.

use std::process::Command;

use crate::support::snap::{Filters, dctx_snapshot};
use crate::support::{Sandbox, assert_success, dockerd};

const FMT: &str = "{{.Server.Version}}";

/// What an external process sees afterwards (docker's view of the variables).
const SHOW: &str = r#"sh -c 'echo "[${DOCKER_HOST-}${DOCKER_TLS_VERIFY-}${DOCKER_TLS-}${DOCKER_CERT_PATH-}${DOCKER_CONTEXT-}]"'"#;

fn need(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    assert!(
        found,
        "{program} is not installed: install {package} (.ci/test does)"
    );
}

/// `program args… script` in the sandbox, with DOCKER_CONTEXT set to a bogus
/// name (env must clear it) and `shell_var` as the login shell; stdout.
fn run(sb: &Sandbox, program: &str, args: &[&str], script: &str, shell_var: &str) -> String {
    let mut c: Command = sb.cmd(program);
    c.args(args)
        .arg(script)
        .env("DOCKER_CONTEXT", "bogus")
        .env("SHELL", shell_var);
    let out = c.output().unwrap();
    assert_success(&out, &format!("{program}: {script}"));
    String::from_utf8(out.stdout).unwrap()
}

/// (program, package, args before the script, script using DCTX and FLAG).
fn shells() -> Vec<(&'static str, &'static str, Vec<&'static str>, String)> {
    let posix = format!(
        "eval \"$(DCTX env prod FLAG)\" && docker version --format '{FMT}' && eval \"$(DCTX env --unset FLAG)\" && {SHOW}"
    );
    vec![
        ("bash", "bash", vec!["-c"], posix.clone()),
        ("zsh", "zsh", vec!["-c"], posix.clone()),
        ("sh", "dash", vec!["-c"], posix),
        (
            "fish",
            "fish",
            vec!["-c"],
            format!(
                "DCTX env prod FLAG | source; and docker version --format '{FMT}'; and DCTX env --unset FLAG | source; and {SHOW}"
            ),
        ),
        (
            "tcsh",
            "tcsh",
            vec!["-f", "-c"],
            format!(
                "eval `DCTX env prod FLAG` && docker version --format '{FMT}' && eval `DCTX env --unset FLAG` && {SHOW}"
            ),
        ),
        (
            "nu",
            "nushell (npm install -g nushell)",
            vec!["-n", "-c"],
            format!(
                "DCTX env prod FLAG | from nuon | load-env; ^docker version --format '{FMT}'; DCTX env --unset FLAG | from nuon | load-env; ^{SHOW}"
            ),
        ),
    ]
}

fn check_all(flag_for: impl Fn(&str) -> String, shell_var: &str) {
    let d = dockerd();
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--no-context"]);
    let dctx = env!("CARGO_BIN_EXE_dctx");
    for (program, package, args, script) in shells() {
        need(program, package);
        let script = script
            .replace("DCTX", dctx)
            .replace("FLAG", &flag_for(program));
        let out = run(&sb, program, &args, &script, shell_var);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, [d.version.as_str(), "[]"], "{program}: {script}");
    }
}

#[test]
fn every_shell_applies_env_and_unset_clears_it() {
    check_all(|program| format!("--shell {program}"), "/bin/sh");
}

/// A fish (or tcsh, nu…) user whose login shell is bash: no `--shell`, and
/// `$SHELL` names another shell; dctx picks the one it runs in.
#[test]
fn without_shell_flag_the_running_shell_decides_not_login_shell() {
    // Every shell here runs dctx from a command substitution or pipeline, so
    // it is dctx's parent; $SHELL names a shell whose syntax would break all
    // of them (PowerShell).
    check_all(|_| String::new(), "/usr/bin/pwsh");
}

#[test]
fn tcsh_output_is_quoted_for_eval_and_has_no_comment_lines() {
    let sb = Sandbox::new();
    sb.add_client_profile("prod", &["--no-context"]);
    // setenv/unsetenv, and (interactive tcsh has no `#` comments) the hint
    // as a quoted `:` line.
    let out = dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&["env", "prod", "--shell", "csh"]),
        "env-csh"
    );
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.lines().all(|l| !l.starts_with('#')), "{out}");
}

#[test]
fn env_without_a_name_is_a_usage_error() {
    let sb = Sandbox::new();
    let f = Filters::sandbox(&sb);
    dctx_snapshot!(f, sb.dctx_cmd(&["env"]), "env-without-name");
    // --unset alone needs no name.
    dctx_snapshot!(
        f,
        sb.dctx_cmd(&["env", "--unset", "--shell", "bash"]),
        "env-unset-without-name"
    );
}
