//! `dctx env`: the shell hot path. Reads exactly one profile.json: no
//! runtime, no network, no certificate parsing.

use crate::cli::EnvArgs;
use crate::environment::Env;
use crate::shell::{self, Change};
use crate::store::{KeyStore, Profile, Store, TlsMode};

const VARS: [&str; 4] = [
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
];

/// The environment that makes the docker CLI talk to `profile`.
pub fn changes(profile: &Profile, cert_path: &std::path::Path) -> Vec<Change> {
    let cert_path = cert_path.display().to_string();
    let mut c = vec![Change::Set("DOCKER_HOST", profile.host.clone())];
    match profile.tls {
        // DOCKER_TLS_VERIFY counts as on for ANY non-empty value, so the
        // unverified mode must unset it and use DOCKER_TLS instead.
        TlsMode::SkipVerify => {
            c.push(Change::Unset("DOCKER_TLS_VERIFY"));
            c.push(Change::Set("DOCKER_TLS", "1".into()));
            c.push(Change::Set("DOCKER_CERT_PATH", cert_path));
        }
        TlsMode::Mtls | TlsMode::ServerOnly | TlsMode::SystemRoots => {
            c.push(Change::Set("DOCKER_TLS_VERIFY", "1".into()));
            c.push(Change::Unset("DOCKER_TLS"));
            c.push(Change::Set("DOCKER_CERT_PATH", cert_path));
        }
        TlsMode::Plain | TlsMode::Unix => {
            c.push(Change::Unset("DOCKER_TLS_VERIFY"));
            c.push(Change::Unset("DOCKER_TLS"));
            c.push(Change::Unset("DOCKER_CERT_PATH"));
        }
    }
    // DOCKER_HOST beats DOCKER_CONTEXT anyway; unsetting avoids confusion.
    c.push(Change::Unset("DOCKER_CONTEXT"));
    c
}

pub fn run(args: EnvArgs, env: &Env) -> anyhow::Result<u8> {
    let shell = args
        .shell
        .unwrap_or_else(|| shell::detect_from(env.parent_comm.as_deref(), env.shell.as_deref()));
    let shell_flag = args
        .shell
        .map(|s| {
            let v = clap::ValueEnum::to_possible_value(&s).expect("no skipped variants");
            format!(" --shell {}", v.get_name())
        })
        .unwrap_or_default();
    if args.unset {
        let changes: Vec<Change> = VARS.iter().map(|v| Change::Unset(v)).collect();
        super::print(&shell::render(
            shell,
            &changes,
            &format!("dctx env --unset{shell_flag}"),
        ))?;
        return Ok(crate::exit::OK);
    }
    let Some(name) = args.name else {
        anyhow::bail!("which profile? usage: dctx env NAME (or --unset)");
    };
    let store = Store::from_env(env)?;
    let profile = store.load(&name)?;
    if profile.key_store == KeyStore::Keyring {
        anyhow::bail!(
            "profile {name:?} keeps its key in the OS keyring; `dctx env` would have to write it to disk. Run commands with `dctx exec {name} -- docker …` instead"
        );
    }
    let changes = changes(&profile, &store.profile_dir(&name));
    super::print(&shell::render(
        shell,
        &changes,
        &format!("dctx env {name}{shell_flag}"),
    ))?;
    Ok(crate::exit::OK)
}
