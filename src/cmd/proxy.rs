//! `dctx proxy NAME`: bind the socket, print the DOCKER_HOST line, serve in
//! the foreground until SIGINT/SIGTERM/SIGHUP, then remove the socket.

use anyhow::Context as _;

use crate::cli::ProxyArgs;
use crate::environment::Env;
use crate::proxy::{self, Audit, Options, Policy, Proxy};

pub fn run(args: ProxyArgs, env: &Env) -> anyhow::Result<crate::exit::Exit> {
    let targets = super::targets(env)?;
    let target = targets.target(&targets.entry(&args.name)?)?;
    let socket = match args.socket {
        Some(p) => p,
        None => proxy::default_path(env.xdg_runtime_dir.as_deref(), &env.tmp_dir, &args.name)?,
    };
    let audit = match &args.log {
        Some(p) => Some(Audit::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => None,
    };
    let policy = Policy {
        read_only: args.read_only,
        protect: args.protect,
    };
    let host = target.host.clone();
    let mut opts = Options::new(policy, env.now);
    opts.max_clients = args.max_clients;
    opts.header_timeout = std::time::Duration::from_secs(args.header_timeout.max(1));
    // Each new upstream connection re-reads the profile: a renewed cert is
    // picked up without a restart. The key lives in memory only (zeroized on drop).
    let (env2, name) = (env.clone(), args.name.clone());
    let reload: proxy::Reload = std::sync::Arc::new(move || {
        let t = super::targets(&env2).map_err(|e| format!("{e:#}"))?;
        t.entry(&name)
            .and_then(|e| t.target(&e))
            .map_err(|e| format!("re-reading the profile: {e:#}"))
    });
    let server = Proxy::new(target, opts, audit, Some(reload))?;
    if let Some(w) = server.client_cert_warning() {
        eprintln!("dctx: warning: {}", crate::output::sanitize(&w));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let stop = signals();
        let bound = proxy::bind(&socket, &args.name)?;
        let value = format!("unix://{}", socket.display());
        let plain = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:._-+@%,".contains(&b));
        let value = if plain {
            value
        } else {
            crate::shell::posix_quote(&value)
        };
        super::print(&format!("export DOCKER_HOST={value}\n"))?;
        eprintln!(
            "dctx: proxying {} → {host} on {}; Ctrl-C stops it",
            args.name,
            socket.display()
        );
        server.serve(bound, stop).await?;
        anyhow::Ok(())
    })?;
    Ok(crate::exit::Exit::Ok)
}

/// The handlers are installed when this is called (before the socket line
/// is printed: a SIGTERM right after it must still clean up); the future
/// completes on the first signal.
fn signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).expect("signal handler");
    let mut term = signal(SignalKind::terminate()).expect("signal handler");
    let mut hup = signal(SignalKind::hangup()).expect("signal handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
}
