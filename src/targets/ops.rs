//! Every change to the stores: each is one `Txn` under both locks, after
//! recovering whatever a killed run left.

use std::path::Path;

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::txn::{Content, Txn};
use super::{DEFAULT, Detail, Entry, Kind, Targets};
use crate::bundle::Material;
use crate::conn::Endpoint;
use crate::docker::{DCTX_KEY, DockerConfig};
use crate::pki::CertInfo;
use crate::store::atomic::{self, PRIVATE_DIR, PRIVATE_FILE, PUBLIC_DIR, PUBLIC_FILE};
use crate::store::{
    CertSummary, KeyStore, Profile, TlsFiles, TlsMode, read_pems, sha256_hex, validate_name,
};

const STATE: &str = "state.json";

/// Changes staged into another operation's transaction.
pub type Also = Box<dyn FnOnce(&mut Txn)>;

/// `dctx add`, validated by the caller only as far as clap goes.
pub struct AddRequest {
    pub name: String,
    pub material: Option<Material>,
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
    pub material: Option<Material>,
    /// Endpoint and mode warnings (port conventions, weak modes).
    pub warnings: Vec<String>,
    /// The name was made docker's current context.
    pub used: bool,
    /// The kind of what was replaced, if anything.
    pub replaced: Option<Kind>,
}

/// Where `key move` puts a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDestination {
    File,
    Keyring,
}

/// One line per name `rm` handled.
pub struct RmOutcome {
    pub lines: Vec<String>,
}

impl Targets {
    /// Run `f` under the store lock (and Docker's, when its dir exists or
    /// `docker` is set), after finishing whatever a killed run left.
    pub(crate) fn locked<R>(
        &self,
        f: impl FnOnce(&Self) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        self.locked_docker(false, f)
    }

    fn locked_docker<R>(
        &self,
        docker: bool,
        f: impl FnOnce(&Self) -> anyhow::Result<R>,
    ) -> anyhow::Result<R> {
        let _store = self.store.lock()?;
        let _docker = if docker || self.docker.dir.exists() {
            Some(self.docker.lock()?)
        } else {
            None
        };
        let config_dir = self.config_dir();
        let areas = [&*self.store.root, &*self.docker.dir, &*config_dir];
        super::txn::recover(&self.store.root, &self.keyring, &areas)?;
        super::txn::sweep(&self.store.root, &areas);
        f(self)
    }

    /// config.json's real dir (through a dotfiles symlink).
    fn config_dir(&self) -> std::path::PathBuf {
        self.docker
            .config_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.docker.dir.clone())
    }

    /// `dctx recover [--abort]`: finish (or undo) an interrupted change.
    /// Whether there was one.
    pub fn recover(&self, abort: bool) -> anyhow::Result<bool> {
        let pending = super::txn::pending(&self.store.root);
        if !abort {
            self.locked(|_| Ok(()))?;
            return Ok(pending);
        }
        let _store = self.store.lock()?;
        let _docker = if self.docker.dir.exists() {
            Some(self.docker.lock()?)
        } else {
            None
        };
        let config_dir = self.config_dir();
        let areas = [&*self.store.root, &*self.docker.dir, &*config_dir];
        super::txn::abort(&self.store.root, &self.keyring, &areas)
    }

    fn txn(&self) -> Txn {
        Txn::new(&self.store.root)
    }

    fn profile_put(&self, tx: &mut Txn, p: &Profile, pems: &TlsFiles) {
        let mut files = vec![(
            "profile.json".to_string(),
            Zeroizing::new(p.to_json()),
            PRIVATE_FILE,
        )];
        for (f, data) in pem_list(pems) {
            files.push((f.to_string(), Zeroizing::new(data.to_vec()), PRIVATE_FILE));
        }
        tx.put(
            &self.store.root,
            self.store.profile_dir(&p.name),
            Content::Dir {
                mode: PRIVATE_DIR,
                files,
            },
        );
    }

    /// Stage a whole context (meta + TLS files), replacing any of that name.
    fn context_put(
        &self,
        tx: &mut Txn,
        name: &str,
        meta: Vec<u8>,
        tls: &TlsFiles,
    ) -> anyhow::Result<()> {
        let d = &self.docker;
        // Docker's own layout and modes for the shared parents.
        atomic::create_dir(&d.dir.join("contexts"), PUBLIC_DIR)?;
        atomic::create_dir(&d.dir.join("contexts/meta"), PUBLIC_DIR)?;
        atomic::create_dir(&d.dir.join("contexts/tls"), PRIVATE_DIR)?;
        tx.put(
            &d.dir,
            d.meta_dir(name),
            Content::Dir {
                mode: PUBLIC_DIR,
                files: vec![("meta.json".into(), Zeroizing::new(meta), PUBLIC_FILE)],
            },
        );
        let pems = pem_list(tls);
        if pems.is_empty() {
            tx.remove(&d.dir, d.tls_root(name));
        } else {
            tx.put(
                &d.dir,
                d.tls_root(name),
                Content::Dir {
                    mode: PRIVATE_DIR,
                    files: pems
                        .into_iter()
                        .map(|(f, data)| {
                            (
                                format!("docker/{f}"),
                                Zeroizing::new(data.to_vec()),
                                PRIVATE_FILE,
                            )
                        })
                        .collect(),
                },
            );
        }
        Ok(())
    }

    fn context_remove(&self, tx: &mut Txn, name: &str) {
        tx.remove(&self.docker.dir, self.docker.meta_dir(name));
        tx.remove(&self.docker.dir, self.docker.tls_root(name));
    }

    /// Stage config.json with a new currentContext (through a symlink,
    /// keeping owner, mode and every other value).
    fn config_put(&self, tx: &mut Txn, current: Option<&str>) -> anyhow::Result<()> {
        let cfg = self.docker.config()?;
        // Root on a user's config: the file stays (or becomes) the user's.
        let owner = if unsafe { libc::geteuid() } == 0 {
            cfg.owner.or_else(|| cfg.path.parent().and_then(dir_owner))
        } else {
            None
        };
        if let Some(parent) = cfg.path.parent() {
            atomic::create_dir(parent, PRIVATE_DIR)?;
        }
        tx.put_beside(cfg.path.clone(), cfg.with_current(current), cfg.mode, owner);
        Ok(())
    }

    fn previous(&self) -> Option<String> {
        let data = std::fs::read(self.store.root.join(STATE)).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
        v["previousContext"].as_str().map(str::to_owned)
    }

    fn state_put(&self, tx: &mut Txn, previous: &str) {
        let json = serde_json::json!({ "previousContext": previous });
        tx.put(
            &self.store.root,
            self.store.root.join(STATE),
            Content::File {
                data: serde_json::to_vec_pretty(&json).expect("json"),
                mode: PRIVATE_FILE,
                owner: if unsafe { libc::geteuid() } == 0 {
                    dir_owner(&self.store.root)
                } else {
                    None
                },
            },
        );
    }

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
        let name = req.name.as_str();
        if let Some(e) = &existing
            && !req.replace
        {
            match e.kind {
                Kind::Foreign if e.context => anyhow::bail!(
                    "a Docker context named {name:?} already exists and was not created by dctx: choose another name, `dctx adopt {name}` to manage it, or pass --replace to overwrite it"
                ),
                _ => anyhow::bail!(
                    "profile {name:?} already exists: pass --replace to overwrite it, or `dctx rm {name}` first"
                ),
            }
        }
        let m = req.material.as_ref();
        let given = req
            .host
            .clone()
            .or_else(|| m.and_then(|m| m.host.clone()))
            // Renewal: `add prod --bundle new.tar --replace` keeps the endpoint.
            .or_else(|| {
                existing
                    .as_ref()
                    .filter(|e| e.error.is_none() && e.endpoint != "-")
                    .map(|e| e.endpoint.clone())
            })
            .context("no endpoint: pass --host tcp://HOST:2376 (the bundle does not name one)")?;
        let ep = Endpoint::parse(&given)?;
        let mut warnings = Vec::new();
        let mode = decide_mode(&given, &ep, m, &req)?;
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
        let host = ep.to_string();

        let mut tls = tls_files(m, mode);
        let key = tls.key.take();
        let has_key = key.is_some();
        let keyring_key = if req.key_store == KeyStore::Keyring {
            Some(
                key.clone()
                    .context("--key-store keyring: the bundle has no private key to keep")?,
            )
        } else {
            None
        };
        // Where the files live: Docker's store when there is a context,
        // dctx's profile dir otherwise (never both: one copy of a key).
        let docker_tls = TlsFiles {
            ca: tls.ca.clone(),
            cert: tls.cert.clone(),
            key: if context { key.clone() } else { None },
        };
        let profile_pems = if context {
            TlsFiles {
                ca: None,
                cert: None,
                key: None,
            }
        } else {
            TlsFiles {
                // DOCKER_CERT_PATH needs a ca.pem: system-roots profiles get
                // a snapshot of the system roots.
                ca: if mode == TlsMode::SystemRoots {
                    Some(system_roots_pem()?)
                } else {
                    tls.ca.clone()
                },
                cert: tls.cert.clone(),
                key: if req.key_store == KeyStore::File {
                    key.clone()
                } else {
                    None
                },
            }
        };
        let profile = Profile {
            name: name.to_string(),
            host: host.clone(),
            tls: mode,
            context,
            key_store: req.key_store,
            ca: m.and_then(|m| m.ca.as_ref()).map(summary),
            cert: m.and_then(|m| m.cert.as_ref()).map(summary),
            has_key,
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

        // config.json is read (and refused if invalid) before anything is staged.
        let current = if context && req.use_it {
            self.docker.config()?.current_context()
        } else {
            self.docker.current_context()
        };
        let mut tx = self.txn();
        self.profile_put(&mut tx, &profile, &profile_pems);
        let mut used = false;
        if context {
            let meta = DockerConfig::meta_json(
                name,
                &host,
                mode == TlsMode::SkipVerify,
                &context_metadata(&profile),
            );
            self.context_put(&mut tx, name, meta, &docker_tls)?;
            if req.use_it && current.as_deref() != Some(name) {
                self.config_put(&mut tx, Some(name))?;
                self.state_put(&mut tx, current.as_deref().unwrap_or(DEFAULT));
                used = true;
            }
        } else if existing.as_ref().is_some_and(|e| e.context) {
            // Replacing a context-backed name with an env-only / keyring
            // profile: the old context (and its key.pem) goes.
            self.context_remove(&mut tx, name);
            if current.as_deref() == Some(name) {
                self.config_put(&mut tx, None)?;
            }
        }
        if let Some(k) = keyring_key {
            tx.key_put(name, k);
        } else if existing
            .as_ref()
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
        Ok(Added {
            profile,
            material: req.material,
            warnings,
            used,
            replaced: existing.map(|e| e.kind),
        })
    }

    /// Fill what `m` lacks from what `e` holds: the client cert and key
    /// for a CA-only `m`, the CA (or the system roots) for a cert-only one.
    fn keep_rest(
        &self,
        e: &Entry,
        m: &mut Material,
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

    /// `dctx rm`: all named entries or none.
    pub fn rm(
        &self,
        names: &[String],
        force: bool,
        keep_context: bool,
    ) -> anyhow::Result<RmOutcome> {
        for n in names {
            Self::check_name(n)?;
            if n == DEFAULT {
                anyhow::bail!("\"default\" is docker's built-in context; it cannot be removed");
            }
        }
        self.locked(|t| {
            let mut tx = t.txn();
            let mut lines = Vec::new();
            let current = t.docker.current_context();
            let mut reset_current = false;
            let mut keyring = false;
            for n in names {
                let e = t.lookup(n, Detail::Fast).ok_or_else(|| t.not_found(n))?;
                let record = t.store.exists(n);
                let remove_context = e.context
                    && !keep_context
                    && (e.kind == Kind::Profile || force);
                if e.context && !keep_context && !remove_context && !record {
                    anyhow::bail!(
                        "{n:?} is a Docker context that dctx did not create; pass --force to remove it (as `docker context rm {n}` would)"
                    );
                }
                if record {
                    tx.remove(&t.store.root, t.store.profile_dir(n));
                    if e.profile.as_ref().is_some_and(|p| p.key_store == KeyStore::Keyring) {
                        tx.key_remove(n);
                        keyring = true;
                    }
                }
                if remove_context {
                    t.context_remove(&mut tx, n);
                    if current.as_deref() == Some(n.as_str()) {
                        reset_current = true;
                    }
                }
                lines.push(match (record, remove_context, e.context) {
                    (true, false, true) if e.kind == Kind::Foreign => format!(
                        "Removed dctx's env-only profile {n}; the Docker context {n} stays (dctx rm --force {n} removes it)"
                    ),
                    (true, false, true) => format!("Removed {n}; kept its Docker context"),
                    (false, true, _) => format!("Removed Docker context {n}"),
                    _ => format!("Removed {n}"),
                });
            }
            if keyring {
                // Before anything is removed: all names or none.
                t.keyring.ensure_available()?;
            }
            if reset_current {
                t.config_put(&mut tx, None)?;
                lines.push(format!(
                    "Current context was {:?}; it is now \"default\"",
                    current.unwrap_or_default()
                ));
            }
            tx.commit(&t.keyring)?;
            Ok(RmOutcome { lines })
        })
    }

    /// `dctx use NAME|-|default`: returns (now, was); equal when nothing changed.
    pub fn use_context(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.locked_docker(true, |t| {
            let target = if name == "-" {
                t.previous().context("no previous context to go back to")?
            } else {
                name.to_string()
            };
            Self::check_name(&target)?;
            // The context alone decides; dctx's record is read only to explain.
            if target != DEFAULT && t.docker.read_context(&target)?.is_none() {
                let e = t.lookup(&target, Detail::Fast).ok_or_else(|| t.not_found(&target))?;
                {
                    let keyring = e
                        .profile
                        .as_ref()
                        .is_some_and(|p| p.key_store == KeyStore::Keyring);
                    if keyring {
                        anyhow::bail!(
                            "profile {target:?} keeps its key in the OS keyring and has no Docker context (docker can only read key.pem from disk): use `dctx shell {target}` or `dctx exec {target} -- docker …`"
                        );
                    }
                    anyhow::bail!(
                        "profile {target:?} has no Docker context (added with --no-context): use `eval \"$(dctx env {target})\"` or `dctx shell {target}`"
                    );
                }
            }
            let was = t
                .docker
                .config()?
                .current_context()
                .unwrap_or_else(|| DEFAULT.to_string());
            if was == target {
                // kubectx: switching to the current one keeps the history.
                return Ok((target, was));
            }
            let mut tx = t.txn();
            t.config_put(&mut tx, (target != DEFAULT).then_some(target.as_str()))?;
            t.state_put(&mut tx, &was);
            tx.commit(&t.keyring)?;
            Ok((target, was))
        })
    }

    /// `dctx mv OLD NEW`: both hash dirs, currentContext, the history and
    /// the keyring entry, atomically.
    pub fn rename(&self, old: &str, new: &str) -> anyhow::Result<()> {
        Self::check_name(old)?;
        validate_name(new)?;
        if old == DEFAULT {
            anyhow::bail!("\"default\" is docker's built-in context; it cannot be renamed");
        }
        self.locked(|t| {
            let e = t.lookup(old, Detail::Fast).ok_or_else(|| t.not_found(old))?;
            if t.lookup(new, Detail::Fast).is_some() {
                anyhow::bail!("{new:?} already exists (see `dctx ls`); choose another name or `dctx rm {new}` first");
            }
            let mut tx = t.txn();
            if t.store.exists(old) {
                let mut p = t.store.load(old).with_context(|| {
                    format!("cannot rename {old:?}: its record is unreadable; `dctx rm {old}` removes it")
                })?;
                p.name = new.to_string();
                let pems = read_pems(&t.store.profile_dir(old))?;
                t.profile_put(&mut tx, &p, &pems);
                tx.remove(&t.store.root, t.store.profile_dir(old));
                if p.key_store == KeyStore::Keyring && p.has_key {
                    t.keyring.ensure_available()?;
                    tx.key_move(old, new);
                }
            }
            if e.context {
                let d = &t.docker;
                let meta = d.edited_meta(old, Some(new), None)?;
                tx.put(
                    &d.dir,
                    d.meta_dir(new),
                    Content::Dir {
                        mode: PUBLIC_DIR,
                        files: vec![("meta.json".into(), Zeroizing::new(meta), PUBLIC_FILE)],
                    },
                );
                tx.remove(&d.dir, d.meta_dir(old));
                if d.tls_root(old).exists() {
                    // Moved, not copied: the key never exists twice.
                    tx.rename(d.tls_root(old), d.tls_root(new));
                }
                if d.current_context().as_deref() == Some(old) {
                    t.config_put(&mut tx, Some(new))?;
                }
            }
            if t.previous().as_deref() == Some(old) {
                t.state_put(&mut tx, new);
            }
            tx.commit(&t.keyring)
        })
    }

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

    /// `dctx key move NAME --to file|keyring`. Returns a summary line.
    pub fn key_move(&self, name: &str, to: KeyDestination) -> anyhow::Result<String> {
        validate_name(name)?;
        self.keyring.ensure_available()?;
        self.locked(|t| {
            let e = t.lookup(name, Detail::Fast).ok_or_else(|| t.not_found(name))?;
            let Some(mut p) = e.profile.clone() else {
                anyhow::bail!("{name:?} is not a dctx profile (see `dctx ls`); `dctx adopt {name}` manages a Docker context");
            };
            if !p.has_key {
                anyhow::bail!("profile {name:?} has no private key");
            }
            let mut tx = t.txn();
            match (p.key_store, to) {
                (KeyStore::File, KeyDestination::Keyring) => {
                    // An env-only record keeps its files itself (a Docker
                    // context of the same name is someone else's).
                    let managed_context = e.context && p.context;
                    let dir = if p.context {
                        e.cert_path.clone().context("the profile's TLS files are missing")?
                    } else {
                        t.store.profile_dir(name)
                    };
                    let mut files = read_pems(&dir)?;
                    let key = files.key.take().with_context(|| {
                        format!("{} has no key.pem", dir.display())
                    })?;
                    if managed_context && p.tls == TlsMode::SystemRoots {
                        files.ca = Some(system_roots_pem()?);
                    }
                    p.key_store = KeyStore::Keyring;
                    p.context = false;
                    if managed_context {
                        p.host = e.endpoint.clone();
                    }
                    p.files = fingerprints(&files);
                    t.profile_put(&mut tx, &p, &files);
                    if managed_context {
                        // A context without key.pem cannot work; one with it would leak.
                        t.context_remove(&mut tx, name);
                        if t.docker.current_context().as_deref() == Some(name) {
                            t.config_put(&mut tx, None)?;
                        }
                    }
                    tx.key_put(name, key);
                    tx.commit(&t.keyring)?;
                    Ok(format!(
                        "Moved the key of {name} into the OS keyring; removed key.pem{}.\nRun: dctx exec {name} -- docker ps (or dctx shell {name})\n",
                        if managed_context { " and the Docker context" } else { "" }
                    ))
                }
                (KeyStore::Keyring, KeyDestination::File) => {
                    if let Some(ctx) = t.docker.read_context(name)? {
                        anyhow::bail!(
                            "a Docker context named {name:?} exists (host {}) and was not made for this profile; not overwriting it: `dctx mv {name} NEW` for one of them first",
                            ctx.host
                        );
                    }
                    let key = t.keyring.get(name)?;
                    let pems = read_pems(&t.store.profile_dir(name))?;
                    let tls = TlsFiles {
                        ca: if p.tls == TlsMode::SystemRoots { None } else { pems.ca },
                        cert: pems.cert,
                        key: Some(key),
                    };
                    p.key_store = KeyStore::File;
                    p.context = true;
                    p.files = fingerprints(&tls);
                    t.profile_put(
                        &mut tx,
                        &p,
                        &TlsFiles {
                            ca: None,
                            cert: None,
                            key: None,
                        },
                    );
                    let meta = DockerConfig::meta_json(
                        name,
                        &p.host,
                        p.tls == TlsMode::SkipVerify,
                        &context_metadata(&p),
                    );
                    t.context_put(&mut tx, name, meta, &tls)?;
                    tx.key_remove(name);
                    tx.commit(&t.keyring)?;
                    Ok(format!(
                        "Moved the key of {name} to {} (0600) and wrote Docker context {name:?}.\n",
                        t.docker.tls_dir(name).join("key.pem").display()
                    ))
                }
                _ => Ok(format!("The key of {name} is already there.\n")),
            }
        })
    }
}

fn decide_mode(
    given: &str,
    ep: &Endpoint,
    m: Option<&Material>,
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

fn summary(c: &CertInfo) -> CertSummary {
    CertSummary {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        not_after: c.not_after,
        sha256: c.sha256.clone(),
    }
}

fn pem_list(f: &TlsFiles) -> Vec<(&'static str, &[u8])> {
    let mut v = Vec::new();
    if let Some(d) = &f.ca {
        v.push(("ca.pem", d.as_slice()));
    }
    if let Some(d) = &f.cert {
        v.push(("cert.pem", d.as_slice()));
    }
    if let Some(d) = &f.key {
        v.push(("key.pem", d.as_slice()));
    }
    v
}

/// Drift fingerprints of the files a record vouches for.
fn fingerprints(f: &TlsFiles) -> std::collections::BTreeMap<String, String> {
    pem_list(f)
        .into_iter()
        .map(|(n, d)| (n.to_string(), sha256_hex(d)))
        .collect()
}

/// dctx's fields inside the context's Metadata (docker preserves unknown keys).
pub fn context_metadata(p: &Profile) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "Description".into(),
        format!("dctx profile ({})", p.tls.label()).into(),
    );
    m.insert(
        DCTX_KEY.into(),
        serde_json::json!({"managed": true, "tls": p.tls, "keyStore": p.key_store}),
    );
    m
}

/// The system's trusted roots as one PEM file.
fn system_roots_pem() -> anyhow::Result<Vec<u8>> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        anyhow::bail!("--system-roots: no trusted root certificates found on this system");
    }
    Ok(found
        .certs
        .iter()
        .map(|c| crate::pki::keys::pem_encode("CERTIFICATE", c.as_ref()))
        .collect::<String>()
        .into_bytes())
}

fn tls_files(m: Option<&Material>, mode: TlsMode) -> TlsFiles {
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

/// (uid, gid) of a dir another user owns, for files root creates in it.
fn dir_owner(dir: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .map(|m| (m.uid(), m.gid()))
        .filter(|&(uid, _)| uid != 0)
}
