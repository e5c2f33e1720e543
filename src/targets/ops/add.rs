//! `dctx add` (and every import: enroll, renew, csr, pki).

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::{Also, context_metadata, fingerprints, summary, system_roots_pem};
use crate::bundle::Imported;
use crate::conn::Endpoint;
use crate::docker::DockerConfig;
use crate::pki::CertInfo;
use crate::store::{KeyStore, Profile, TlsFiles, TlsMode, validate_name};
use crate::targets::{DEFAULT, Detail, Entry, Kind, Targets};

/// `dctx add`, validated by the caller only as far as clap goes.
pub struct AddRequest {
    pub name: String,
    pub material: Option<Imported>,
    pub host: Option<String>,
    pub no_context: bool,
    pub system_roots: bool,
    pub skip_verify: bool,
    pub replace: bool,
    pub use_it: bool,
    pub key_store: KeyStore,
    /// Where the material came from (shown by `show`).
    pub source: Option<String>,
    /// A source that can issue it again (enroll, renew).
    pub origin: Option<crate::store::origin::Origin>,
    /// More changes staged in the same transaction (e.g. dropping the
    /// pending CSR whose key this is).
    pub also: Option<Also>,
    /// With `replace`: the material is only a CA, or only a client cert and
    /// key; the name's other half is kept (a CA swap keeps the client
    /// identity, a cert swap keeps the CA).
    pub keep_rest: bool,
}

/// What `add` did.
pub struct Added {
    pub profile: Profile,
    pub material: Option<Imported>,
    /// Endpoint and mode warnings (port conventions, weak modes).
    pub warnings: Vec<String>,
    /// The name was made docker's current context.
    pub used: bool,
    /// The kind of what was replaced, if anything.
    pub replaced: Option<Kind>,
}
impl Targets {
    /// `dctx add`: import material as a profile (and a Docker context).
    pub fn add(&self, mut req: AddRequest) -> anyhow::Result<Added> {
        validate_name(&req.name)?;
        if req.replace
            && req.keep_rest
            && req.material.as_ref().is_some_and(|m| m.key_pem.is_none())
            && let Some(p) = self.lookup(&req.name, Detail::Fast).and_then(|e| e.profile)
        {
            // The kept key stays where it is (keyring or file, context or not).
            req.key_store = p.key_store;
            req.no_context |= !p.context;
        }
        if req.key_store == KeyStore::Keyring {
            self.keyring.ensure_available()?;
        }
        let context = !req.no_context && req.key_store == KeyStore::File;
        self.locked_docker(context, |t| t.add_locked(req, context))
    }

    fn add_locked(&self, mut req: AddRequest, context: bool) -> anyhow::Result<Added> {
        let existing = self.lookup(&req.name, Detail::Fast);
        if req.replace
            && req.keep_rest
            && let (Some(e), Some(m)) = (&existing, req.material.as_mut())
        {
            self.keep_rest(e, m, &mut req.system_roots)?;
        }
        refuse_existing(existing.as_ref(), &req)?;
        let (host, mode, warnings) = endpoint_of(&req, existing.as_ref())?;
        let m = req.material.as_ref();
        let mut tls = tls_files(m, mode);
        let key = tls.key.take();
        let keyring_key = if req.key_store == KeyStore::Keyring {
            Some(
                key.clone()
                    .context("--key-store keyring: the bundle has no private key to keep")?,
            )
        } else {
            None
        };
        let (docker_tls, profile_pems) =
            placement(&tls, key.as_ref(), context, mode, req.key_store)?;
        let profile = Profile {
            name: req.name.clone(),
            host,
            tls: mode,
            context,
            key_store: req.key_store,
            ca: m.and_then(|m| m.ca.as_ref()).map(summary),
            cert: m.and_then(|m| m.cert.as_ref()).map(summary),
            has_key: key.is_some(),
            created: self.now,
            source: req.source.clone(),
            files: if context {
                fingerprints(&docker_tls)
            } else {
                fingerprints(&profile_pems)
            },
            adopted: false,
            origin: req.origin.clone(),
        };
        let staged = Staged {
            profile: &profile,
            profile_pems: &profile_pems,
            docker_tls: &docker_tls,
            keyring_key,
        };
        let used = self.commit_add(&mut req, staged, existing.as_ref())?;
        Ok(Added {
            profile,
            material: req.material,
            warnings,
            used,
            replaced: existing.map(|e| e.kind),
        })
    }

    /// One transaction: the profile, the context (and `use`), the key.
    /// Returns whether the context became docker's current one.
    fn commit_add(
        &self,
        req: &mut AddRequest,
        s: Staged,
        existing: Option<&Entry>,
    ) -> anyhow::Result<bool> {
        let (name, context) = (s.profile.name.as_str(), s.profile.context);
        // config.json is read (and refused if invalid) before anything is staged.
        let current = if context && req.use_it {
            self.docker.config()?.current_context()
        } else {
            self.docker.current_context()
        };
        let mut tx = self.txn();
        self.profile_put(&mut tx, s.profile, s.profile_pems);
        let mut used = false;
        if context {
            let meta = DockerConfig::meta_json(
                name,
                &s.profile.host,
                s.profile.tls == TlsMode::SkipVerify,
                &context_metadata(s.profile),
            );
            self.context_put(&mut tx, name, meta, s.docker_tls)?;
            if req.use_it && current.as_deref() != Some(name) {
                self.config_put(&mut tx, Some(name))?;
                self.state_put(&mut tx, current.as_deref().unwrap_or(DEFAULT));
                used = true;
            }
        } else if existing.is_some_and(|e| e.context) {
            // Replacing a context-backed name with an env-only / keyring
            // profile: the old context (and its key.pem) goes.
            self.context_remove(&mut tx, name);
            if current.as_deref() == Some(name) {
                self.config_put(&mut tx, None)?;
            }
        }
        if let Some(k) = s.keyring_key {
            tx.key_put(name, k);
        } else if existing
            .and_then(|e| e.profile.as_ref())
            .is_some_and(|p| p.key_store == KeyStore::Keyring)
        {
            self.keyring.ensure_available()?;
            tx.key_remove(name);
        }
        if let Some(also) = req.also.take() {
            also(&mut tx);
        }
        tx.commit(&self.keyring)?;
        Ok(used)
    }

    /// Fill what `m` lacks from what `e` holds: the client cert and key
    /// for a CA-only `m`, the CA (or the system roots) for a cert-only one.
    fn keep_rest(
        &self,
        e: &Entry,
        m: &mut Imported,
        system_roots: &mut bool,
    ) -> anyhow::Result<()> {
        let name = &e.name;
        let mut old = if e.context {
            self.docker.read_tls(name)?
        } else if e.profile.is_some() {
            self.store.read_tls(name)?
        } else {
            return Ok(());
        };
        if !e.context
            && let Some(p) = &e.profile
            && p.key_store == KeyStore::Keyring
            && p.has_key
        {
            self.keyring.ensure_available()?;
            old.key = Some(self.keyring.get(name)?);
        }
        let text = |b: &[u8], f: &str| -> anyhow::Result<String> {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .with_context(|| format!("{name}'s {f} is not PEM text"))
        };
        let cn = |c: &CertInfo| c.common_name.clone().unwrap_or_else(|| c.subject.clone());
        if m.cert_pem.is_none() && m.key_pem.is_none() {
            let (Some(cert), Some(key)) = (old.cert, old.key) else {
                return Ok(());
            };
            let info = crate::pki::inspect::certs_from_pem(&cert)
                .into_iter()
                .next();
            m.notes.push(format!(
                "kept the client certificate{} and key of {name}",
                info.as_ref()
                    .map(|c| format!(" CN={}", cn(c)))
                    .unwrap_or_default()
            ));
            m.cert = info;
            m.cert_pem = Some(text(&cert, "cert.pem")?);
            m.key_pem = Some(Zeroizing::new(text(&key, "key.pem")?));
        } else if m.ca_pem.is_none() {
            if e.mode == TlsMode::SystemRoots {
                *system_roots = true;
                m.notes
                    .push(format!("kept {name}'s verification with the system roots"));
                return Ok(());
            }
            let Some(ca) = old.ca else {
                return Ok(());
            };
            let cas = crate::pki::inspect::certs_from_pem(&ca);
            if let Some(first) = cas.first() {
                m.notes
                    .push(format!("kept the CA CN={} of {name}", cn(first)));
            }
            if let Some(c) = &m.cert
                && !cas.iter().any(|ca| c.is_signed_by(ca))
            {
                m.warnings.push(format!(
                    "the new client certificate is not issued by {name}'s CA: the daemon may trust a different client CA"
                ));
            }
            m.ca = cas.into_iter().next();
            m.ca_pem = Some(text(&ca, "ca.pem")?);
        }
        Ok(())
    }
}

/// What `add` writes, ready to stage.
struct Staged<'a> {
    profile: &'a Profile,
    profile_pems: &'a TlsFiles,
    docker_tls: &'a TlsFiles,
    keyring_key: Option<Zeroizing<Vec<u8>>>,
}

/// An existing name is only overwritten with `--replace`.
fn refuse_existing(existing: Option<&Entry>, req: &AddRequest) -> anyhow::Result<()> {
    let name = req.name.as_str();
    match existing {
        Some(e) if !req.replace => match e.kind {
            Kind::Foreign if e.context => anyhow::bail!(
                "a Docker context named {name:?} already exists and was not created by dctx: choose another name, `dctx adopt {name}` to manage it, or pass --replace to overwrite it"
            ),
            _ => anyhow::bail!(
                "profile {name:?} already exists: pass --replace to overwrite it, or `dctx rm {name}` first"
            ),
        },
        _ => Ok(()),
    }
}

/// The endpoint to write (normalised, default port explicit), the TLS mode,
/// and warnings about a port that contradicts it.
fn endpoint_of(
    req: &AddRequest,
    existing: Option<&Entry>,
) -> anyhow::Result<(String, TlsMode, Vec<String>)> {
    let m = req.material.as_ref();
    let given = req
        .host
        .clone()
        .or_else(|| m.and_then(|m| m.host.clone()))
        // Renewal: `add prod --bundle new.tar --replace` keeps the endpoint.
        .or_else(|| {
            existing
                .filter(|e| e.error.is_none() && e.endpoint != "-")
                .map(|e| e.endpoint.clone())
        })
        .context("no endpoint: pass --host tcp://HOST:2376 (the bundle does not name one)")?;
    let ep = Endpoint::parse(&given)?;
    let mut warnings = Vec::new();
    let mode = decide_mode(&given, &ep, m, req)?;
    let ep = ep.with_default_port(mode.uses_tls());
    if ep.is_tcp() {
        match (ep.port(), mode.uses_tls()) {
            (Some(2375), true) => warnings.push(format!(
                "{ep}: port 2375 is the plaintext Docker port by convention, but this profile speaks TLS (TLS daemons listen on 2376)"
            )),
            (Some(2376), false) => warnings.push(format!(
                "{ep}: port 2376 is the TLS Docker port by convention, but this profile speaks plain HTTP (add a bundle for TLS)"
            )),
            _ => {}
        }
    }
    Ok((ep.to_string(), mode, warnings))
}

/// Where the files live: Docker's store when there is a context, dctx's
/// profile dir otherwise (never both: one copy of a key). Returns (Docker's
/// files, the profile's files).
fn placement(
    tls: &TlsFiles,
    key: Option<&Zeroizing<Vec<u8>>>,
    context: bool,
    mode: TlsMode,
    key_store: KeyStore,
) -> anyhow::Result<(TlsFiles, TlsFiles)> {
    let docker_tls = TlsFiles {
        ca: tls.ca.clone(),
        cert: tls.cert.clone(),
        key: if context { key.cloned() } else { None },
    };
    if context {
        let none = TlsFiles {
            ca: None,
            cert: None,
            key: None,
        };
        return Ok((docker_tls, none));
    }
    let profile_pems = TlsFiles {
        // DOCKER_CERT_PATH needs a ca.pem: system-roots profiles get a
        // snapshot of the system roots.
        ca: if mode == TlsMode::SystemRoots {
            Some(system_roots_pem()?)
        } else {
            tls.ca.clone()
        },
        cert: tls.cert.clone(),
        key: if key_store == KeyStore::File {
            key.cloned()
        } else {
            None
        },
    };
    Ok((docker_tls, profile_pems))
}

fn decide_mode(
    given: &str,
    ep: &Endpoint,
    m: Option<&Imported>,
    req: &AddRequest,
) -> anyhow::Result<TlsMode> {
    let has_ca = m.is_some_and(|m| m.ca_pem.is_some());
    let has_cert = m.is_some_and(|m| m.cert_pem.is_some() && m.key_pem.is_some());
    let skip_verify = req.skip_verify || m.and_then(|m| m.skip_verify).unwrap_or(false);
    Ok(match ep {
        Endpoint::Unix(_) => {
            if m.is_some() {
                anyhow::bail!(
                    "{given} is a unix socket: TLS material does not apply, drop --bundle/--ca/--cert/--key"
                );
            }
            TlsMode::Unix
        }
        Endpoint::Ssh { .. } => {
            if m.is_some() {
                anyhow::bail!(
                    "{given} is an ssh:// endpoint: docker reaches it through ssh, TLS material does not apply; drop --bundle/--ca/--cert/--key"
                );
            }
            TlsMode::Ssh
        }
        Endpoint::Tcp { .. } => {
            if skip_verify && (has_ca || has_cert) {
                TlsMode::SkipVerify
            } else if has_ca && has_cert {
                TlsMode::Mtls
            } else if has_ca {
                TlsMode::ServerOnly
            } else if has_cert && req.system_roots {
                TlsMode::SystemRoots
            } else if m.is_none()
                && !req.system_roots
                && !given.to_ascii_lowercase().starts_with("https://")
            {
                TlsMode::Plain
            } else {
                anyhow::bail!(
                    "a TLS profile needs a CA, a client certificate, or both (pass --system-roots for a publicly trusted daemon)"
                );
            }
        }
    })
}
fn tls_files(m: Option<&Imported>, mode: TlsMode) -> TlsFiles {
    let Some(m) = m.filter(|_| mode.uses_tls()) else {
        return TlsFiles {
            ca: None,
            cert: None,
            key: None,
        };
    };
    TlsFiles {
        ca: m.ca_pem.as_ref().map(|s| s.as_bytes().to_vec()),
        cert: m.cert_pem.as_ref().map(|s| s.as_bytes().to_vec()),
        key: m
            .key_pem
            .as_ref()
            .map(|k| Zeroizing::new(k.as_bytes().to_vec())),
    }
}
