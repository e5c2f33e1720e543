//! Which variables point docker at a target: what `dctx env` prints (and
//! `current` compares against), before `render` spells it for a shell.

use super::Change;
use crate::env_vars;
use crate::store::TlsMode;

/// How docker is to reach the target.
pub enum Via<'a> {
    /// Through its Docker context (DOCKER_CONTEXT): docker resolves it itself.
    Context,
    /// Straight at `host` (DOCKER_HOST), speaking `mode`, with the TLS files in `cert_path`.
    Host {
        host: &'a str,
        mode: TlsMode,
        cert_path: &'a str,
    },
}

/// The changes that select profile `name` through `via`.
pub fn profile(name: &str, via: Via) -> Vec<Change> {
    let mut c = docker(name, via);
    // For prompts: a name instead of a URL.
    c.push(Change::Set(env_vars::DCTX_PROFILE, name.to_string()));
    c
}

/// The DOCKER_* part alone: what `dctx exec` and `dctx shell` give the
/// programs they start (their own marker is DCTX_SHELL).
pub fn docker(name: &str, via: Via) -> Vec<Change> {
    let mut c = Vec::new();
    match via {
        Via::Context => {
            // docker resolves these itself (system roots need no ca.pem).
            for v in [
                env_vars::DOCKER_HOST,
                env_vars::DOCKER_TLS_VERIFY,
                env_vars::DOCKER_TLS,
                env_vars::DOCKER_CERT_PATH,
            ] {
                c.push(Change::Unset(v));
            }
            c.push(Change::Set(env_vars::DOCKER_CONTEXT, name.to_string()));
        }
        Via::Host {
            host,
            mode,
            cert_path,
        } => {
            c.push(Change::Set(env_vars::DOCKER_HOST, host.to_string()));
            let cert_path = cert_path.to_string();
            match mode {
                // DOCKER_TLS_VERIFY counts as on for ANY non-empty value, so
                // the unverified mode must unset it and use DOCKER_TLS.
                TlsMode::SkipVerify => {
                    c.push(Change::Unset(env_vars::DOCKER_TLS_VERIFY));
                    c.push(Change::Set(env_vars::DOCKER_TLS, "1".into()));
                    c.push(Change::Set(env_vars::DOCKER_CERT_PATH, cert_path));
                }
                TlsMode::Mtls | TlsMode::ServerOnly | TlsMode::SystemRoots => {
                    c.push(Change::Set(env_vars::DOCKER_TLS_VERIFY, "1".into()));
                    c.push(Change::Unset(env_vars::DOCKER_TLS));
                    c.push(Change::Set(env_vars::DOCKER_CERT_PATH, cert_path));
                }
                TlsMode::Plain | TlsMode::Unix | TlsMode::Ssh => {
                    c.push(Change::Unset(env_vars::DOCKER_TLS_VERIFY));
                    c.push(Change::Unset(env_vars::DOCKER_TLS));
                    c.push(Change::Unset(env_vars::DOCKER_CERT_PATH));
                }
            }
            // DOCKER_HOST beats DOCKER_CONTEXT anyway; unsetting avoids confusion.
            c.push(Change::Unset(env_vars::DOCKER_CONTEXT));
        }
    }
    c
}

/// What `dctx env --unset` clears.
pub fn unset() -> Vec<Change> {
    [
        env_vars::DOCKER_HOST,
        env_vars::DOCKER_TLS_VERIFY,
        env_vars::DOCKER_TLS,
        env_vars::DOCKER_CERT_PATH,
        env_vars::DOCKER_CONTEXT,
        env_vars::DCTX_PROFILE,
    ]
    .into_iter()
    .map(Change::Unset)
    .collect()
}
