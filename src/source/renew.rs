//! Enrollment and renewal from OpenBao / Vault: a new key and CSR, signed by
//! `{mount}/sign/{role}`, become the profile (and its Docker context) in one
//! transaction. The network part of many renewals runs in parallel; each
//! profile is then committed on its own, so a kill leaves every profile with
//! its old or its new certificate and key, never a mix.

use zeroize::Zeroizing;

use super::vault::{self, Client};
use super::{Issuer, LocalSource, Origin, Renewal, VaultSource};
use crate::bundle::{self, Imported};
use crate::store::KeyStore;
use crate::targets::{AddRequest, Added, Targets};

/// How a renewal authenticates.
#[derive(Clone, Default)]
pub struct Auth {
    /// A token (flag, environment or ~/.vault-token): used when present.
    pub token: Option<Zeroizing<String>>,
    /// Else the `cert` auth method, with this role (`--cert-role`).
    pub cert_role: Option<String>,
}

/// `dctx enroll`.
pub struct EnrollRequest {
    pub name: String,
    pub host: String,
    pub source: VaultSource,
    pub key_store: KeyStore,
    pub replace: bool,
}

/// The certificate and the key it certifies, as a validated bundle.
pub struct Fresh {
    pub material: Imported,
    pub not_before: i64,
    /// The engine's warnings (escaped).
    pub warnings: Vec<String>,
}

/// Key + CSR here, signature there; the key stays in memory.
pub async fn issue(src: &VaultSource, token: &str, now: i64) -> anyhow::Result<Fresh> {
    let client = Client::new(
        &src.address,
        src.server_ca.as_deref().map(str::as_bytes),
        None,
        src.namespace.as_deref(),
    )?;
    issue_with(&client, src, token, now).await
}

async fn issue_with(
    client: &Client,
    src: &VaultSource,
    token: &str,
    now: i64,
) -> anyhow::Result<Fresh> {
    let kc = super::csr::generate(&src.cn)?;
    let signed = vault::sign(client, token, src, &kc.csr_pem).await?;
    let ca = src.daemon_ca.clone().unwrap_or(signed.ca_pem);
    let material = material(&signed.cert_pem, &ca, &kc.key_pem, now)?;
    let not_before = material.cert.as_ref().map(|c| c.not_before).unwrap_or(now);
    Ok(Fresh {
        material,
        not_before,
        warnings: signed.warnings,
    })
}

/// Validate cert + CA + key exactly as `dctx add` does a bundle.
pub fn material(cert_pem: &str, ca_pem: &str, key_pem: &str, now: i64) -> anyhow::Result<Imported> {
    let mut data = Zeroizing::new(Vec::new());
    for part in [cert_pem, ca_pem, key_pem] {
        data.extend_from_slice(part.trim().as_bytes());
        data.push(b'\n');
    }
    let src = bundle::Source::Memory {
        name: "the issued certificate".into(),
        data: data.to_vec(),
    };
    let opts = bundle::Options {
        now,
        ..Default::default()
    };
    let r = bundle::read(&src, &opts, &mut |_| {
        Err(bundle::BundleError::Other("no passphrase here".into()))
    });
    if let bundle::Source::Memory { mut data, .. } = src {
        zeroize::Zeroize::zeroize(&mut data);
    }
    Ok(r?)
}

impl Targets {
    /// `dctx enroll`: profile + Docker context from a freshly signed certificate.
    pub fn enroll(&self, req: EnrollRequest, fresh: Fresh) -> anyhow::Result<Added> {
        let origin = Origin {
            issuer: Issuer::Vault(req.source.clone()),
            renewal: Renewal {
                not_before: Some(fresh.not_before),
                last_success: Some(self.now),
                last_attempt: Some(self.now),
                ..Default::default()
            },
        };
        self.add(AddRequest {
            name: req.name,
            material: Some(fresh.material),
            host: Some(req.host),
            no_context: false,
            system_roots: false,
            skip_verify: false,
            replace: req.replace,
            use_it: false,
            key_store: req.key_store,
            source: Some(describe(&req.source)),
            origin: Some(origin),
            keep_rest: false,
            also: None,
        })
    }
}

/// `https://bao:8200 pki/sign/role` (for `show`).
pub fn describe(s: &VaultSource) -> String {
    format!("{} {}/sign/{}", s.address, s.mount, s.role)
}

fn describe_issuer(i: &Issuer) -> String {
    match i {
        Issuer::Vault(s) => describe(s),
        Issuer::LocalCa(l) => format!("dctx pki ({}) client {}", l.pki_dir.display(), l.record),
    }
}

/// Asks for the local CA key's passphrase (only when it is encrypted).
pub type Passphrase<'a> = &'a mut dyn FnMut() -> anyhow::Result<Zeroizing<String>>;

/// What renewing one profile came to.
pub enum Outcome {
    Renewed { not_after: i64 },
    NotDue { due_at: i64 },
    Failed(anyhow::Error),
}

/// A profile that can renew, with what its renewal needs.
#[derive(Clone)]
struct Plan {
    name: String,
    issuer: Issuer,
    renewal: Renewal,
    not_after: i64,
    host: String,
    key_store: KeyStore,
    context: bool,
    /// The current cert and key, for the `cert` login.
    current: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
}

/// Every profile that can renew (for `--all` and `--watch`): enrolled, or
/// holding a client certificate the local CA (`dctx pki`) issued.
pub fn enrolled(t: &Targets) -> Vec<String> {
    let local = t.local_pki();
    t.store
        .names()
        .into_iter()
        .filter(|n| {
            t.store
                .load(n)
                .is_ok_and(|p| p.origin.is_some() || local_record(&local, &p).is_some())
        })
        .collect()
}

/// The `dctx pki client` record whose certificate the profile holds.
fn local_record(
    pki: &crate::pki::issue::Pki,
    p: &crate::store::Profile,
) -> Option<crate::pki::issue::IssuedMeta> {
    let cert = p.cert.as_ref()?;
    if !pki.has_ca() {
        return None;
    }
    pki.records().ok()?.into_iter().find(|m| {
        m.kind == crate::pki::issue::Kind::Client && m.sha256.eq_ignore_ascii_case(&cert.sha256)
    })
}

impl Targets {
    /// The local CA `dctx pki` uses by default.
    fn local_pki(&self) -> crate::pki::issue::Pki {
        crate::pki::issue::Pki::new(self.store.root.join("pki"))
    }
}

fn plan(t: &Targets, name: &str, need_cert: bool) -> anyhow::Result<Plan> {
    let e = t.entry(name)?;
    let p = e.profile.clone().ok_or_else(|| {
        anyhow::anyhow!("{name} is not a dctx profile: nothing records where to renew it from")
    })?;
    let local = t.local_pki();
    let origin = match (p.origin.clone(), local_record(&local, &p)) {
        (Some(o), _) => o,
        // Issued by `dctx pki client` and imported: the local CA renews it.
        (None, Some(meta)) => Origin {
            issuer: Issuer::LocalCa(LocalSource {
                pki_dir: local.dir.clone(),
                record: meta.name.clone(),
            }),
            renewal: Renewal {
                not_before: Some(meta.not_before),
                ..Default::default()
            },
        },
        (None, None) => anyhow::bail!(
            "{name} was imported, not enrolled: dctx does not know who issues its certificates; ask whoever gave you the bundle, or enroll it (`dctx enroll {name} --replace …`)"
        ),
    };
    let not_after = p
        .cert
        .as_ref()
        .map(|c| c.not_after)
        .ok_or_else(|| anyhow::anyhow!("{name} has no client certificate"))?;
    let current = if need_cert {
        let target = t.target(&e)?;
        match (target.cert_pem, target.key_pem) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        }
    } else {
        None
    };
    Ok(Plan {
        name: name.to_string(),
        issuer: origin.issuer,
        renewal: origin.renewal,
        not_after,
        host: e.endpoint.clone(),
        key_store: p.key_store,
        context: p.context,
        current,
    })
}

/// Sign a new certificate for `plan` (token, else cert login).
async fn fetch(plan: &Plan, src: &VaultSource, auth: &Auth, now: i64) -> anyhow::Result<Fresh> {
    let server_ca = src.server_ca.as_deref().map(str::as_bytes);
    if let Some(token) = &auth.token {
        return issue(src, token, now).await;
    }
    let Some((cert, key)) = &plan.current else {
        anyhow::bail!(
            "no token (--token-stdin, BAO_TOKEN / VAULT_TOKEN, ~/.vault-token) and no current certificate to log in with"
        );
    };
    let client = Client::new(
        &src.address,
        server_ca,
        Some((cert, key)),
        src.namespace.as_deref(),
    )?;
    let role = auth.cert_role.as_deref().or(src.cert_role.as_deref());
    let token = vault::cert_login(&client, role).await.map_err(|e| {
        e.context("no token was given (--token-stdin, BAO_TOKEN / VAULT_TOKEN, ~/.vault-token), so dctx logged in with the current certificate")
    })?;
    issue_with(&client, src, &token, now).await
}

/// Renew `names` (already resolved): network in parallel, one transaction
/// each. `force` ignores the due time.
pub fn renew(
    t: &Targets,
    rt: &tokio::runtime::Runtime,
    names: &[String],
    auth: &Auth,
    force: bool,
    before: f64,
    passphrase: Passphrase<'_>,
) -> Vec<(String, Outcome)> {
    let (mut out, work) = due(t, names, auth.token.is_none(), force, before);
    // The local CA signs here, under its lock, one after the other.
    let (local, work): (Vec<Plan>, Vec<Plan>) = work
        .into_iter()
        .partition(|p| matches!(p.issuer, Issuer::LocalCa(_)));
    for p in local {
        let outcome = settle(t, &p.name, renew_local(t, &p, passphrase));
        out.push((p.name.clone(), outcome));
    }
    for (p, r) in fetch_all(rt, work, auth, t.now) {
        let outcome = settle(t, &p.name, r.and_then(|fresh| commit(t, &p, fresh)));
        out.push((p.name, outcome));
    }
    let order = |n: &String| names.iter().position(|x| x == n);
    out.sort_by_key(|(n, _)| order(n));
    out
}

/// The plans to renew now; the names that cannot be planned or are not due
/// yet already have their outcome.
fn due(
    t: &Targets,
    names: &[String],
    need_cert: bool,
    force: bool,
    before: f64,
) -> (Vec<(String, Outcome)>, Vec<Plan>) {
    let mut out: Vec<(String, Outcome)> = Vec::new();
    let mut work = Vec::new();
    for n in names {
        match plan(t, n, need_cert) {
            Err(e) => out.push((n.clone(), Outcome::Failed(e))),
            Ok(p) => {
                let due_at = p.renewal.due_at(p.not_after, before);
                if !force && t.now < due_at {
                    out.push((n.clone(), Outcome::NotDue { due_at }));
                } else {
                    work.push(p);
                }
            }
        }
    }
    (out, work)
}

/// Every vault plan's new certificate, fetched in parallel; each result
/// stays paired with its plan (a panicked task is that plan's error).
fn fetch_all(
    rt: &tokio::runtime::Runtime,
    work: Vec<Plan>,
    auth: &Auth,
    now: i64,
) -> Vec<(Plan, anyhow::Result<Fresh>)> {
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, p) in work.iter().enumerate() {
            let auth = auth.clone();
            // The task owns a copy; `work` keeps the plan for the commit.
            let p2 = p.clone();
            set.spawn(async move {
                let Issuer::Vault(src) = &p2.issuer else {
                    unreachable!("local CA plans were taken out above")
                };
                (i, fetch(&p2, src, &auth, now).await)
            });
        }
        let mut results: Vec<Option<anyhow::Result<Fresh>>> = work.iter().map(|_| None).collect();
        while let Some(r) = set.join_next().await {
            if let Ok((i, r)) = r {
                results[i] = Some(r);
            }
        }
        work.into_iter()
            .zip(results)
            .map(|(p, r)| {
                let r = r.unwrap_or_else(|| Err(anyhow::anyhow!("the renewal task panicked")));
                (p, r)
            })
            .collect()
    })
}

/// The outcome of one renewal; a failure is also kept in the profile's
/// record, where `check` shows it.
fn settle(t: &Targets, name: &str, r: anyhow::Result<i64>) -> Outcome {
    match r {
        Ok(not_after) => Outcome::Renewed { not_after },
        Err(e) => {
            let _ = t.record_failure(name, &format!("{e:#}"));
            Outcome::Failed(e)
        }
    }
}

/// A new client certificate and key from the local CA. The record in the
/// PKI dir follows the profile's commit (a kill in between leaves the
/// profile renewed and `pki ls` one serial behind, nothing worse).
fn renew_local(t: &Targets, p: &Plan, passphrase: Passphrase<'_>) -> anyhow::Result<i64> {
    use crate::pki::issue::{Kind, LeafRequest, Pki};
    let Issuer::LocalCa(l) = &p.issuer else {
        anyhow::bail!("not a local CA profile");
    };
    let pki = Pki::new(l.pki_dir.clone());
    let _lock = pki.lock()?;
    let ca = pki.load_ca(passphrase)?;
    let meta = pki.load_record(&l.record)?;
    let issued = pki.issue(
        &ca,
        &LeafRequest {
            name: meta.name.clone(),
            kind: Kind::Client,
            hosts: Vec::new(),
            key_type: meta.key_type,
            days: meta.days,
        },
        t.now,
    )?;
    let material = material(&issued.cert_pem, &issued.ca_pem, &issued.key_pem, t.now)?;
    let not_before = issued.meta.not_before;
    let not_after = commit(
        t,
        p,
        Fresh {
            material,
            not_before,
            warnings: Vec::new(),
        },
    )?;
    pki.record(&issued)?;
    Ok(not_after)
}

/// One renewal, one transaction (`add --replace` with the same endpoint and store).
fn commit(t: &Targets, p: &Plan, fresh: Fresh) -> anyhow::Result<i64> {
    let origin = Origin {
        issuer: p.issuer.clone(),
        renewal: Renewal {
            not_before: Some(fresh.not_before),
            last_success: Some(t.now),
            last_attempt: Some(t.now),
            last_error: None,
            failures: p.renewal.failures,
        },
    };
    let added = t.add(AddRequest {
        name: p.name.clone(),
        material: Some(fresh.material),
        host: Some(p.host.clone()),
        no_context: !p.context,
        system_roots: false,
        skip_verify: false,
        replace: true,
        use_it: false,
        key_store: p.key_store,
        source: Some(describe_issuer(&p.issuer)),
        origin: Some(origin),
        keep_rest: false,
        also: None,
    })?;
    Ok(added.profile.cert.map(|c| c.not_after).unwrap_or(0))
}

impl Targets {
    /// Keep the reason of a failed renewal in the record (`check` shows it).
    pub fn record_failure(&self, name: &str, why: &str) -> anyhow::Result<()> {
        use crate::store::txn::{Content, Txn};
        self.locked(|t| {
            let mut p = t.store.load(name)?;
            let Some(o) = p.origin.as_mut() else {
                return Ok(());
            };
            o.renewal.last_attempt = Some(t.now);
            o.renewal.last_error = Some(why.to_string());
            o.renewal.failures += 1;
            let mut tx = Txn::new(&t.store.root);
            tx.put(
                &t.store.root,
                t.store.profile_dir(name).join("profile.json"),
                Content::File {
                    data: p.to_json(),
                    mode: crate::store::atomic::PRIVATE_FILE,
                    owner: None,
                },
            );
            tx.commit(&t.keyring)
        })
    }
}
