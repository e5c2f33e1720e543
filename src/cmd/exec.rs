//! `dctx exec NAME -- CMD…`: materialise ca/cert/key into a fresh 0700 dir
//! (under $XDG_RUNTIME_DIR when present), run CMD pointed at it, forward
//! signals and the exit status, and always remove the dir afterwards.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Context as _;

use crate::cli::ExecArgs;
use crate::environment::Env;
use crate::probe::Target;
use crate::store::{TlsFiles, atomic, write_pems};

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // Async-signal-safe: just relay it.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Removes the directory on every exit path, including panics.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn private_dir(env: &Env) -> anyhow::Result<TempDir> {
    let base = env
        .xdg_runtime_dir
        .clone()
        .unwrap_or_else(|| env.tmp_dir.clone());
    for attempt in 0..16u32 {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ attempt.wrapping_mul(0x9E37_79B9);
        let dir = base.join(format!("dctx-exec-{}-{nonce:08x}", std::process::id()));
        // create_dir (not _all): fails if it exists, so nobody pre-creates it for us.
        match std::fs::DirBuilder::new()
            .mode(atomic::PRIVATE_DIR)
            .create(&dir)
        {
            Ok(()) => return Ok(TempDir(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("creating a private dir in {}", base.display())));
            }
        }
    }
    anyhow::bail!("could not create a private dir in {}", base.display())
}

use std::os::unix::fs::DirBuilderExt;

/// The docker CLI environment for `t` with its files in `dir`.
pub fn docker_env(t: &Target, dir: &Path) -> Vec<(&'static str, Option<String>)> {
    let mut v: Vec<(&'static str, Option<String>)> = vec![("DOCKER_HOST", Some(t.host.clone()))];
    let cert_path = Some(dir.display().to_string());
    if !t.tls {
        v.extend([
            ("DOCKER_TLS_VERIFY", None),
            ("DOCKER_TLS", None),
            ("DOCKER_CERT_PATH", None),
        ]);
    } else if t.skip_verify {
        v.extend([
            ("DOCKER_TLS_VERIFY", None),
            ("DOCKER_TLS", Some("1".into())),
            ("DOCKER_CERT_PATH", cert_path),
        ]);
    } else {
        v.extend([
            ("DOCKER_TLS_VERIFY", Some("1".into())),
            ("DOCKER_TLS", None),
            ("DOCKER_CERT_PATH", cert_path),
        ]);
    }
    v.push(("DOCKER_CONTEXT", None));
    v
}

pub fn run(args: ExecArgs, env: &Env) -> anyhow::Result<u8> {
    let target = super::targets::resolve(env, std::slice::from_ref(&args.name))?
        .pop()
        .context("no such profile")?;
    let dir = private_dir(env)?;
    if target.tls {
        write_pems(
            &dir.0,
            &TlsFiles {
                ca: target.ca_pem.clone(),
                cert: target.cert_pem.clone(),
                key: target.key_pem.clone(),
            },
        )?;
    }
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    for (k, v) in docker_env(&target, &dir.0) {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    // Terminal signals (INT, QUIT) reach the child through the process group;
    // TERM and HUP sent to dctx alone are relayed. Either way dctx survives
    // long enough to clean up.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, forward as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, forward as *const () as libc::sighandler_t);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {:?}", args.command[0]))?;
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let status = child.wait().context("waiting for the command")?;
    drop(dir);
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
        _ => 1,
    })
}
