//! Running a program against a target: `dctx exec` (one command) and
//! `dctx shell` (an interactive shell). The target's material goes into a
//! private dir that lives exactly as long as the program; signals are
//! relayed; the program's exit status (or signal death) becomes dctx's.

pub mod dir;
pub mod shell;
pub mod signals;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;

use crate::conn::Target;
use crate::harden::CoreLimit;
use crate::shell::Change;
use crate::shell::env::Via;
use crate::store::{TlsFiles, TlsMode, write_pems};

pub use dir::{PrivateDir, sweep};
pub use signals::reraise;

/// Why a program could not be run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such program (on PATH or at that path); shells exit 127.
    #[error("{0}: command not found")]
    NotFound(String),
    /// The program exists but cannot be executed; shells exit 126.
    #[error("{0}: cannot execute: {1}")]
    NotExecutable(String, std::io::Error),
    /// Anything else: the private dir, writing the material, waiting.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// How dctx ends because of it (126/127, as a shell would).
    pub fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            Error::NotFound(_) => Exit::NotFound,
            Error::NotExecutable(..) => Exit::NotExecutable,
            Error::Other(_) => Exit::Error,
        }
    }
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status.
    Exited(u8),
    /// It (or dctx, before it started) was killed by this signal: the caller
    /// re-raises it once everything is cleaned up.
    Signaled(i32),
}

/// What to run and where its material lives.
pub struct Request<'a> {
    /// Material to write (ca.pem, cert.pem, key.pem); None writes nothing.
    pub material: Option<&'a Target>,
    /// Where the private dir goes ($XDG_RUNTIME_DIR, else the temp dir).
    pub base: &'a Path,
    /// Its name prefix, one of [`dir::PREFIXES`].
    pub prefix: &'static str,
    /// Given back to the program (dctx itself runs with no core limit).
    pub core_limit: Option<CoreLimit>,
}

/// Sweep dead runs' dirs, make the private dir, write the material, build
/// the command with `prepare(dir)`, run it and wait. The dir is gone when
/// this returns, on every path (errors, signals, panics).
pub fn run(
    req: Request<'_>,
    prepare: impl FnOnce(&Path) -> anyhow::Result<Command>,
) -> Result<Outcome, Error> {
    // Handlers first: from here on no signal can kill dctx with a key on disk.
    let mut guard = signals::Guard::install()
        .map_err(|e| anyhow::Error::new(e).context("installing signal handlers"))?;
    sweep(req.base);
    let dir = PrivateDir::create(req.base, req.prefix)?;
    if let Some(t) = req.material.filter(|t| t.tls) {
        write_pems(
            dir.path(),
            &TlsFiles {
                ca: t.ca_pem.clone(),
                cert: t.cert_pem.clone(),
                key: t.key_pem.clone(),
            },
        )?;
    }
    let mut cmd = prepare(dir.path())?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let reset = guard.child_reset();
    let core = req.core_limit;
    unsafe {
        cmd.pre_exec(move || {
            reset()?;
            if let Some(c) = &core {
                c.restore()?;
            }
            Ok(())
        });
    }
    if let Some(sig) = guard.pending() {
        return Ok(Outcome::Signaled(sig));
    }
    let mut child = cmd.spawn().map_err(|e| spawn_error(program, e))?;
    guard.child_started(child.id());
    let status = child
        .wait()
        .map_err(|e| anyhow::Error::new(e).context("waiting for the command"))?;
    drop(dir);
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited(u8::try_from(code).unwrap_or(1)),
        (None, Some(sig)) => Outcome::Signaled(sig),
        _ => Outcome::Exited(1),
    })
}

fn spawn_error(program: String, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound(program),
        Some(libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::ENOTDIR | libc::ETXTBSY) => {
            Error::NotExecutable(program, e)
        }
        _ => Error::Other(anyhow::Error::new(e).context(format!("cannot run {program:?}"))),
    }
}

/// The docker CLI environment for `t` with its files in `dir` (the same
/// variables `dctx env` sets, from shell::env).
pub fn docker_env(t: &Target, dir: &Path) -> Vec<Change> {
    let mode = if !t.tls {
        TlsMode::Plain
    } else if t.skip_verify {
        TlsMode::SkipVerify
    } else {
        TlsMode::Mtls
    };
    let cert_path = dir.display().to_string();
    let via = Via::Host {
        host: &t.host,
        mode,
        cert_path: &cert_path,
    };
    crate::shell::env::docker(&t.name, via)
}

/// The environment that selects Docker context `name` (one dctx did not
/// create): DOCKER_HOST and the TLS variables would override it.
pub fn context_env(name: &str) -> Vec<Change> {
    crate::shell::env::docker(name, Via::Context)
}

/// Apply `vars` to `cmd`.
pub fn apply_env(cmd: &mut Command, vars: &[Change]) {
    for c in vars {
        match c {
            Change::Set(k, v) => cmd.env(k, v),
            Change::Unset(k) => cmd.env_remove(k),
        };
    }
}
