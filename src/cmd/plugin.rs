//! `docker ctx …`: the same binary, linked as `docker-ctx` into a Docker CLI
//! plugin directory, and `dctx plugin install|uninstall`, which makes the link.
//!
//! How the docker CLI runs a plugin (docker/cli cli-plugins/manager): it
//! first asks `docker-ctx docker-cli-plugin-metadata` for a JSON object, then
//! runs `docker-ctx [GLOBAL OPTIONS] ctx ARGS…` with docker's own argv
//! unchanged: `--context`, `--config`, `-H` arrive as arguments, not in the
//! environment (which only gains DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND and
//! DOCKER_CLI_PLUGIN_SOCKET).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Cli, Command, PluginArgs, PluginCommand, PluginScope};
use crate::environment::Env;
use crate::exit;

/// The file name docker looks for: `docker-` + the subcommand.
pub const FILE_NAME: &str = "docker-ctx";
/// Where `--system` links (the Debian package's path; docker also searches
/// /usr/local/lib, /usr/local/libexec and /usr/lib).
pub const SYSTEM_DIR: &str = "/usr/libexec/docker/cli-plugins";

/// True when run through a link named `docker-ctx`.
pub fn invoked_as_plugin(argv0: Option<&OsStr>) -> bool {
    argv0.and_then(|a| Path::new(a).file_name()) == Some(OsStr::new(FILE_NAME))
}

/// The plugin schema docker validates (SchemaVersion and Vendor are required).
fn metadata() -> String {
    let meta = serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "dctx",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": "Docker TLS contexts: import bundles, check and doctor daemons (dctx)",
    });
    format!("{meta}\n")
}

/// docker's global options, as far as they change what dctx works on.
#[derive(Debug, Default, PartialEq)]
struct Globals {
    config: Option<String>,
    context: Option<String>,
    host: Option<String>,
    tls: bool,
    tlsverify: bool,
}

/// docker's global options that take a value (pflag syntax: `--opt V`,
/// `--opt=V`, `-c V`, `-cV`, `-c=V`).
const VALUE_FLAGS: &[(&str, Option<char>)] = &[
    ("config", None),
    ("context", Some('c')),
    ("host", Some('H')),
    ("log-level", Some('l')),
    ("tlscacert", None),
    ("tlscert", None),
    ("tlskey", None),
];

/// Split `[GLOBAL OPTIONS] ctx ARGS…` into docker's options and dctx's args.
/// Run by hand (`docker-ctx ls`), there is no `ctx` and no options.
fn split_globals(args: &[OsString]) -> Result<(Globals, Vec<OsString>), String> {
    let mut g = Globals::default();
    let mut i = 0;
    while i < args.len() {
        let Some(a) = args[i].to_str().filter(|a| a.starts_with('-') && *a != "-") else {
            break;
        };
        i += 1;
        let (flag, inline) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else {
            let mut chars = a[1..].chars();
            let c = chars.next().unwrap_or('-');
            let rest = chars.as_str();
            let long = VALUE_FLAGS
                .iter()
                .find(|(_, s)| *s == Some(c))
                .map(|(l, _)| *l)
                .or(match c {
                    'D' => Some("debug"),
                    _ => None,
                })
                .ok_or_else(|| format!("unknown docker option {a:?}"))?;
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            (
                long.to_string(),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        };
        if VALUE_FLAGS.iter().any(|(l, _)| *l == flag) {
            let value = match inline {
                Some(v) => v,
                None => {
                    let v = args
                        .get(i)
                        .and_then(|v| v.to_str())
                        .ok_or_else(|| format!("docker option --{flag} needs a value"))?;
                    i += 1;
                    v.to_string()
                }
            };
            match flag.as_str() {
                "config" => g.config = Some(value),
                "context" => g.context = Some(value),
                "host" => g.host = Some(value),
                "log-level" => {}
                // Files for the `default` context's TLS: dctx reads them
                // only from DOCKER_CERT_PATH, so refuse rather than ignore.
                _ => {
                    return Err(format!(
                        "docker's --{flag} is not supported by `docker ctx`: set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem"
                    ));
                }
            }
        } else {
            let on = inline.as_deref().is_none_or(|v| v != "false");
            match flag.as_str() {
                "debug" => {}
                "tls" => g.tls = on,
                "tlsverify" => g.tlsverify = on,
                _ => return Err(format!("unknown docker option {a:?}")),
            }
        }
    }
    let mut rest = args[i..].to_vec();
    if rest.first().is_some_and(|a| a == "ctx") {
        rest.remove(0);
    }
    Ok((g, rest))
}

impl Globals {
    /// The environment docker itself would resolve contexts in: `--context`
    /// wins over DOCKER_HOST and DOCKER_CONTEXT, `-H` selects `default`.
    fn apply(&self, mut env: Env) -> Env {
        if let Some(dir) = &self.config {
            env.docker_config = Some(PathBuf::from(dir));
        }
        if let Some(host) = &self.host {
            env.docker_host = Some(host.clone());
        }
        if let Some(ctx) = &self.context {
            if ctx != crate::targets::DEFAULT {
                env.docker_host = None;
            }
            env.docker_context = Some(ctx.clone());
        }
        if self.tlsverify {
            env.docker_tls_verify = Some("1".into());
        }
        if self.tls {
            env.docker_tls = Some("1".into());
        }
        env
    }
}

/// `docker-ctx …`: dctx's commands under docker's global options.
pub fn main(args: Vec<OsString>, env: Env) -> ExitCode {
    if args
        .get(1)
        .is_some_and(|a| a == "docker-cli-plugin-metadata")
    {
        return super::status(match super::print(&metadata()) {
            Ok(()) => exit::Exit::Ok,
            Err(_) => exit::Exit::Error,
        });
    }
    let (globals, rest) = match split_globals(args.get(1..).unwrap_or_default()) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("docker ctx: {}", crate::output::sanitize(&e));
            return super::status(exit::Exit::Usage);
        }
    };
    let env = globals.apply(env);
    // `docker ctx version`, as docker's other plugins have it.
    let rest: Vec<OsString> = match rest.as_slice() {
        [v] if v == "version" => vec!["--version".into()],
        _ => rest,
    };
    // clap takes the program name from argv[0]: help reads `docker ctx …`.
    let argv: Vec<OsString> = std::iter::once(OsString::from("docker ctx"))
        .chain(rest)
        .collect();
    let parsed = with_context_default(argv, &globals, &env);
    super::execute(parsed, env)
}

/// `docker --context prod ctx doctor` means `doctor prod`, and `docker ctx
/// doctor` the context docker uses now; `check` with `--context` and no
/// names probes that context only.
fn with_context_default(argv: Vec<OsString>, g: &Globals, env: &Env) -> Result<Cli, clap::Error> {
    use clap::Parser;
    let parsed = Cli::try_parse_from(&argv);
    match parsed {
        Err(e) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
            let Ok(t) = super::targets(env) else {
                return Err(e);
            };
            let name = t.current().0;
            match Cli::try_parse_from(argv.iter().cloned().chain([name.into()])) {
                Ok(cli) if matches!(cli.command, Command::Doctor(_)) => Ok(cli),
                _ => Err(e),
            }
        }
        Ok(mut cli) => {
            if let (Command::Check(a), Some(ctx)) = (&mut cli.command, &g.context)
                && a.names.is_empty()
            {
                a.names.push(ctx.clone());
            }
            Ok(cli)
        }
        Err(e) => Err(e),
    }
}

/// `dctx plugin install|uninstall`.
pub fn run(args: PluginArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    match args.command {
        PluginCommand::Install { scope, force } => install(&link_path(scope.scope(), env)?, force),
        PluginCommand::Uninstall { scope } => uninstall(&link_path(scope.scope(), env)?),
    }
}

/// The link for `--user` ($DOCKER_CONFIG or ~/.docker, plus cli-plugins:
/// where docker looks first) or `--system`.
fn link_path(scope: PluginScope, env: &Env) -> anyhow::Result<PathBuf> {
    let dir = match scope {
        PluginScope::System => PathBuf::from(SYSTEM_DIR),
        PluginScope::User => env
            .docker_config_dir()
            .ok_or_else(|| anyhow::anyhow!("no home directory: set DOCKER_CONFIG"))?
            .join("cli-plugins"),
    };
    Ok(dir.join(FILE_NAME))
}

fn install(link: &Path, force: bool) -> anyhow::Result<crate::exit::Exit> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("cannot find the dctx binary")?;
    let shown = link.display().to_string();
    let shown = crate::output::sanitize(&shown);
    match std::fs::read_link(link) {
        Ok(to) if to == exe => {
            super::print(&format!("{shown} already links to {}\n", exe.display()))?;
            return Ok(exit::Exit::Ok);
        }
        Ok(_) | Err(_) if !force && link.symlink_metadata().is_ok() => {
            anyhow::bail!(
                "{shown} exists and is not a link to this dctx; not replacing it (pass --force to replace it)"
            );
        }
        _ => {}
    }
    let dir = link.parent().expect("the link has a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A link under a temporary name renamed over the old one: docker never
    // sees a missing or half-made plugin.
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&exe, &tmp)
        .with_context(|| format!("cannot create a link in {}", dir.display()))?;
    if let Err(e) = std::fs::rename(&tmp, link) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot create {shown}"));
    }
    super::print(&format!(
        "linked {shown} -> {}\nnow `docker ctx check` runs `dctx check` (docker --help lists it)\n",
        exe.display()
    ))?;
    Ok(exit::Exit::Ok)
}

/// Removes the link only if it is one to this dctx: never a plugin or a
/// file someone else put there.
fn uninstall(link: &Path) -> anyhow::Result<crate::exit::Exit> {
    let shown = link.display().to_string();
    let shown = crate::output::sanitize(&shown);
    let exe = std::env::current_exe()?;
    match std::fs::read_link(link) {
        Ok(to) if to == exe => {
            std::fs::remove_file(link)?;
            super::print(&format!("removed {shown}\n"))?;
            Ok(exit::Exit::Ok)
        }
        Ok(to) => anyhow::bail!(
            "{shown} links to {}, not to this dctx ({}): not removing it",
            crate::output::sanitize(&to.display().to_string()),
            exe.display()
        ),
        Err(_) if link.symlink_metadata().is_ok() => {
            anyhow::bail!("{shown} is not a link made by `dctx plugin install`: not removing it")
        }
        Err(_) => {
            super::print(&format!("{shown} does not exist: nothing to remove\n"))?;
            Ok(exit::Exit::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(a: &[&str]) -> Result<(Globals, Vec<String>), String> {
        let args: Vec<OsString> = a.iter().map(OsString::from).collect();
        split_globals(&args).map(|(g, rest)| {
            (
                g,
                rest.into_iter().map(|s| s.into_string().unwrap()).collect(),
            )
        })
    }

    /// Every pflag spelling docker accepts for its global options.
    #[test]
    fn docker_global_options_in_every_spelling() {
        for argv in [
            &["--context", "prod", "ctx", "doctor"][..],
            &["--context=prod", "ctx", "doctor"][..],
            &["-c", "prod", "ctx", "doctor"][..],
            &["-cprod", "ctx", "doctor"][..],
            &["-c=prod", "ctx", "doctor"][..],
            &["-D", "-l", "debug", "--context", "prod", "ctx", "doctor"][..],
        ] {
            let (g, rest) = split(argv).unwrap();
            assert_eq!(g.context.as_deref(), Some("prod"), "{argv:?}");
            assert_eq!(rest, ["doctor"], "{argv:?}");
        }
        let (g, rest) = split(&[
            "--config",
            "/c",
            "-H",
            "tcp://h:1",
            "--tlsverify",
            "ctx",
            "ls",
            "-q",
        ])
        .unwrap();
        assert_eq!(g.config.as_deref(), Some("/c"));
        assert_eq!(g.host.as_deref(), Some("tcp://h:1"));
        assert!(g.tlsverify && !g.tls);
        assert_eq!(rest, ["ls", "-q"]);
        // dctx's own flags after `ctx` are left alone.
        let (g, rest) = split(&["ctx", "check", "--context", "x"]).unwrap();
        assert_eq!(g, Globals::default());
        assert_eq!(rest, ["check", "--context", "x"]);
        // Run by hand, without docker.
        assert_eq!(split(&["ls"]).unwrap().1, ["ls"]);
        assert!(split(&["--tlscacert", "/ca.pem", "ctx", "ls"]).is_err());
        assert!(split(&["--context"]).is_err());
        assert!(split(&["-x", "ctx"]).is_err());
    }
}
