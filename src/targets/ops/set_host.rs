//! `dctx set-host`.

use crate::conn::Endpoint;
use crate::store::TlsMode;
use crate::store::atomic::{PRIVATE_FILE, PUBLIC_FILE};
use crate::store::txn::Content;
use crate::targets::{DEFAULT, Detail, Targets};

impl Targets {
    /// `dctx set-host NAME URL`: the endpoint in both places. Returns the
    /// stored endpoint and warnings.
    pub fn set_host(&self, name: &str, url: &str) -> anyhow::Result<(String, Vec<String>)> {
        Self::check_name(name)?;
        if name == DEFAULT {
            anyhow::bail!("\"default\" follows DOCKER_HOST; set that variable instead");
        }
        let ep = Endpoint::parse(url)?;
        self.locked(|t| {
            let e = t.lookup(name, Detail::Fast).ok_or_else(|| t.not_found(name))?;
            let tls = e.mode.uses_tls();
            if !ep.is_tcp() && (tls || e.key_store.is_some()) {
                anyhow::bail!(
                    "{name:?} holds TLS material, which a {} endpoint cannot use: re-import with `dctx add {name} --host … --replace`",
                    url.split("://").next().unwrap_or("")
                );
            }
            let host = ep.clone().with_default_port(tls).to_string();
            let mut warnings = Vec::new();
            if ep.is_tcp() && !tls && e.mode != TlsMode::Plain {
                warnings.push(format!("{name} had a {} endpoint; it is now plain tcp:// without TLS", e.mode.label()));
            }
            let mut tx = t.txn();
            if e.context {
                let meta = t.docker.edited_meta(name, None, Some(&host))?;
                tx.put(
                    &t.docker.dir,
                    t.docker.meta_dir(name).join("meta.json"),
                    Content::File {
                        data: meta,
                        mode: PUBLIC_FILE,
                        owner: None,
                    },
                );
            }
            if let Some(mut p) = e.profile.clone() {
                p.host = host.clone();
                if !e.context {
                    p.tls = match (&ep, p.tls) {
                        (Endpoint::Unix(_), _) => TlsMode::Unix,
                        (Endpoint::Ssh { .. }, _) => TlsMode::Ssh,
                        (_, TlsMode::Unix | TlsMode::Ssh) => TlsMode::Plain,
                        (_, m) => m,
                    };
                }
                tx.put(
                    &t.store.root,
                    t.store.profile_dir(name).join("profile.json"),
                    Content::File {
                        data: p.to_json(),
                        mode: PRIVATE_FILE,
                        owner: None,
                    },
                );
            }
            tx.commit(&t.keyring)?;
            Ok((host, warnings))
        })
    }
}
