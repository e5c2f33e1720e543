//! `dctx adopt`.

use super::{fingerprints, summary};
use crate::store::{KeyStore, Profile, TlsFiles};
use crate::targets::{DEFAULT, Detail, Targets};

impl Targets {
    /// `dctx adopt NAME`: manage a Docker context without rewriting it (or,
    /// for a profile that drifted, accept docker's version as the record).
    /// Returns the record and the TLS files dctx had written that the
    /// context has lost (adopting accepts their loss: say so).
    pub fn adopt(&self, name: &str) -> anyhow::Result<(Profile, Vec<String>)> {
        Self::check_name(name)?;
        if name == DEFAULT {
            anyhow::bail!("\"default\" is docker's built-in context; there is nothing to adopt");
        }
        self.locked(|t| {
            let e = t.lookup(name, Detail::Fast).ok_or_else(|| t.not_found(name))?;
            let Some(ctx) = t.docker.read_context(name)? else {
                anyhow::bail!("{name:?} has no Docker context to adopt");
            };
            if e.profile.as_ref().is_some_and(|p| !p.context) {
                anyhow::bail!(
                    "an env-only dctx profile named {name:?} shadows this Docker context: `dctx rm {name}` (removes only dctx's record) or `dctx mv {name} NEW` first"
                );
            }
            let files = t.docker.read_tls(name)?;
            let certs = |pem: &Option<Vec<u8>>| {
                pem.as_deref()
                    .map(crate::pki::inspect::certs_from_pem)
                    .and_then(|c| c.into_iter().next())
            };
            let old = e.profile.clone();
            let now_there = fingerprints(&files);
            let lost: Vec<String> = old
                .iter()
                .flat_map(|p| p.files.keys())
                .filter(|f| !now_there.contains_key(*f))
                .cloned()
                .collect();
            let p = Profile {
                name: name.to_string(),
                host: ctx.host.clone(),
                tls: e.mode,
                context: true,
                key_store: KeyStore::File,
                ca: certs(&files.ca).as_ref().map(summary),
                cert: certs(&files.cert).as_ref().map(summary),
                has_key: files.key.is_some(),
                created: old.as_ref().map(|p| p.created).unwrap_or(t.now),
                source: old.as_ref().and_then(|p| p.source.clone()),
                files: fingerprints(&files),
                adopted: old.as_ref().map(|p| p.adopted).unwrap_or(true),
                origin: old.as_ref().and_then(|p| p.origin.clone()),
            };
            let mut tx = t.txn();
            t.profile_put(
                &mut tx,
                &p,
                &TlsFiles {
                    ca: None,
                    cert: None,
                    key: None,
                },
            );
            tx.commit(&t.keyring)?;
            Ok((p, lost))
        })
    }
}
