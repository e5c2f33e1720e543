//! `dctx renew`: enrolled profiles past their renewal point get a new key
//! and certificate; `--watch` keeps doing it at each one's due time.

use std::time::Duration;

use crate::cli::RenewProfilesArgs;
use crate::environment::Env;
use crate::source::renew::{self, Auth, Outcome};
use crate::source::vault::VaultEnv;

pub fn run(args: RenewProfilesArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    crate::harden::no_core_dumps().map_err(anyhow::Error::new)?;
    if args.names.is_empty() && !args.all && !args.watch {
        anyhow::bail!("name the profiles to renew, or pass --all");
    }
    let venv = VaultEnv::from_process(env.home.as_deref());
    let auth = Auth {
        token: super::enroll::token(&args.conn, &venv)?,
        cert_role: args.cert_role.clone(),
    };
    let rt = crate::probe::runtime()?;
    if args.watch {
        return watch(&args, env, &auth, &rt);
    }
    let t = super::targets(env)?;
    let names = if args.names.is_empty() {
        renew::enrolled(&t)
    } else {
        args.names.clone()
    };
    if names.is_empty() {
        eprintln!("dctx: no enrolled profile to renew (`dctx enroll` makes one)");
        return Ok(crate::exit::Exit::Ok);
    }
    let mut failed = false;
    let mut out = String::new();
    let mut secrets = super::secrets::Secrets::new(false);
    let mut pass = || secrets.ask("local CA key passphrase", false);
    for (name, o) in renew::renew(&t, &rt, &names, &auth, args.force, args.before, &mut pass) {
        match o {
            Outcome::Renewed { not_after } => {
                out += &format!(
                    "{name}: renewed with a new key, valid until {}\n",
                    crate::pki::inspect::rfc3339(not_after)
                )
            }
            Outcome::NotDue { due_at } => {
                out += &format!(
                    "{name}: not due until {} (--force renews now)\n",
                    crate::pki::inspect::rfc3339(due_at)
                )
            }
            Outcome::Failed(e) => {
                failed = true;
                eprintln!("dctx: {name}: renewal failed: {e:#}");
            }
        }
    }
    super::print(&out)?;
    Ok(if failed {
        crate::exit::Exit::Error
    } else {
        crate::exit::Exit::Ok
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Random seconds in 0..=max (jitter, so many machines do not renew at once).
fn jitter(max: i64) -> i64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() || max <= 0 {
        return 0;
    }
    (u64::from_le_bytes(b) % (max as u64 + 1)) as i64
}

/// Renew each enrolled profile when due, forever; one line per renewal.
fn watch(
    args: &RenewProfilesArgs,
    env: &Env,
    auth: &Auth,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<crate::exit::Exit> {
    // A profile's next attempt: its due time plus jitter, or a retry.
    let mut next: std::collections::BTreeMap<String, i64> = Default::default();
    let mut secrets = super::secrets::Secrets::new(false);
    loop {
        let env_now = Env {
            now: now(),
            ..env.clone()
        };
        let t = super::targets(&env_now)?;
        let names = if args.names.is_empty() {
            renew::enrolled(&t)
        } else {
            args.names.clone()
        };
        next.retain(|n, _| names.contains(n));
        let due: Vec<String> = names
            .iter()
            .filter(|n| next.get(*n).is_none_or(|at| *at <= t.now))
            .cloned()
            .collect();
        let mut pass = || secrets.ask("local CA key passphrase", false);
        for (name, o) in renew::renew(&t, rt, &due, auth, false, args.before, &mut pass) {
            let at = match o {
                Outcome::Renewed { not_after } => {
                    super::print(&format!(
                        "{} {name}: renewed with a new key, valid until {}\n",
                        crate::pki::inspect::rfc3339(t.now),
                        crate::pki::inspect::rfc3339(not_after)
                    ))?;
                    // Re-read on the next turn: its new due time.
                    t.now
                }
                Outcome::NotDue { due_at } => {
                    due_at + jitter(((due_at - t.now) / 20).clamp(0, 300))
                }
                Outcome::Failed(e) => {
                    eprintln!(
                        "{} dctx: {name}: renewal failed: {e:#}",
                        crate::pki::inspect::rfc3339(t.now)
                    );
                    t.now + 10 + jitter(20)
                }
            };
            next.insert(name, at);
        }
        let wake = next.values().min().copied().unwrap_or(t.now + 60);
        let secs = (wake - now()).clamp(1, 3600);
        std::thread::sleep(Duration::from_secs(secs as u64));
    }
}
