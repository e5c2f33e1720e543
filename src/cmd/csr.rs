//! `dctx csr NAME`: a key made where it will live, and a CSR to send to
//! whoever runs the CA; `dctx add NAME --cert signed.pem` completes it.

use crate::cli::CsrArgs;
use crate::environment::Env;
use crate::store::KeyStore;

pub fn run(args: CsrArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    crate::harden::no_core_dumps().map_err(anyhow::Error::new)?;
    let t = super::targets(env)?;
    if args.drop {
        if !t.csr_drop(&args.name)? {
            anyhow::bail!("no CSR is pending for {:?}", args.name);
        }
        eprintln!("Dropped the pending CSR of {} and its key.", args.name);
        return Ok(crate::exit::Exit::Ok);
    }
    let key_store = match args.key_store {
        Some(k) => k.into(),
        // The keyring when one answers: the key then never touches the disk.
        None if t.keyring.ensure_available().is_ok() => KeyStore::Keyring,
        None => KeyStore::File,
    };
    let cn = args.cn.clone().unwrap_or_else(|| args.name.clone());
    let (pem, made) = t.csr_create(&args.name, &cn, key_store)?;
    if let Some(out) = &args.output {
        crate::store::atomic::write(out, pem.as_bytes(), crate::store::atomic::PUBLIC_FILE)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    }
    super::print(&pem)?;
    let p = t
        .csr_pending(&args.name)
        .ok_or_else(|| anyhow::anyhow!("the pending CSR of {} vanished", args.name))?;
    eprintln!(
        "{} CSR for {} (CN {}); the key stays {}.\nSend the CSR to whoever runs the CA (it holds no secret), then:\n  dctx add {} --cert signed.pem --ca ca.pem --host tcp://HOST:2376",
        if made { "New" } else { "Pending" },
        args.name,
        crate::output::sanitize(&cn),
        match p.key_store {
            KeyStore::File => "in dctx's store (0600)",
            KeyStore::Keyring => "in the OS keyring",
        },
        args.name
    );
    Ok(crate::exit::Exit::Ok)
}
