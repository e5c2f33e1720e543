//! The domain: every name a user can say ("prod", a context made with
//! `docker context create`, `default`) resolved to what docker would use.
//!
//! Three stores hold a user's connections: Docker's context store (the
//! truth for endpoint and TLS files wherever a context exists), dctx's own
//! records (what Docker has no place for: a key in the keyring, where a
//! bundle came from, env-only profiles) and the OS keyring. `Targets` owns
//! all three; commands are thin leaves over it. Reads never write; every
//! change is one transaction across the stores (`store::txn`), taken under both
//! locks in one order (dctx's store, then Docker's config dir).

pub mod health;
mod ops;

use std::path::PathBuf;

use serde::Serialize;

use crate::conn::Target;
use crate::docker::{ContextMeta, DockerConfig, TlsPresence};
use crate::env_vars;
use crate::shell::Change;
use crate::shell::env::Via;
use crate::store::keyring::Keyring;
use crate::store::txn;
use crate::store::{KeyStore, Profile, Store, TlsMode, validate_name};

pub use ops::{AddRequest, Added, Also, RmOutcome};

/// docker's own name for the context that is no stored context.
pub const DEFAULT: &str = "default";
/// Where docker's `default` context goes without DOCKER_HOST.
pub const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// The DOCKER_* variables of the calling shell (docker honours them).
#[derive(Debug, Clone, Default)]
pub struct DockerVars {
    pub host: Option<String>,
    pub context: Option<String>,
    pub tls_verify: Option<String>,
    pub tls: Option<String>,
    pub cert_path: Option<PathBuf>,
    /// `DCTX_PROFILE`, `DCTX_SHELL`: the name `dctx env` / `dctx shell` set.
    pub dctx_profile: Option<String>,
    pub dctx_shell: Option<String>,
    /// Where `dctx shell` makes its private dirs (DOCKER_CERT_PATH there).
    pub session_base: PathBuf,
}

impl DockerVars {
    pub fn from_env(env: &crate::environment::Env) -> Self {
        DockerVars {
            host: env.docker_host.clone(),
            context: env.docker_context.clone(),
            tls_verify: env.docker_tls_verify.clone(),
            tls: env.docker_tls.clone(),
            cert_path: env.docker_cert_path.clone(),
            dctx_profile: env.dctx_profile.clone(),
            dctx_shell: env.dctx_shell.clone(),
            session_base: env
                .xdg_runtime_dir
                .clone()
                .unwrap_or_else(|| env.tmp_dir.clone()),
        }
    }

    /// A DOCKER_* variable's value as docker reads it (empty = unset).
    fn get(&self, var: &str) -> Option<String> {
        match var {
            env_vars::DOCKER_HOST => self.host.clone(),
            env_vars::DOCKER_CONTEXT => self.context.clone(),
            env_vars::DOCKER_TLS_VERIFY => self.tls_verify.clone(),
            env_vars::DOCKER_TLS => self.tls.clone(),
            env_vars::DOCKER_CERT_PATH => self.cert_path.as_ref().map(|p| p.display().to_string()),
            env_vars::DCTX_PROFILE => self.dctx_profile.clone(),
            _ => None,
        }
    }
}

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Managed by dctx (made by `dctx add`, or adopted).
    Profile,
    /// A Docker context dctx does not manage.
    Foreign,
    /// docker's built-in `default` (DOCKER_HOST, else the local socket).
    Default,
}

/// Where an entry's endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The Docker context's meta.json.
    DockerContext,
    /// dctx's record (profiles without a Docker context).
    Profile,
    /// `DOCKER_HOST` (the `default` context).
    DockerHost,
    /// docker's built-in local socket (the `default` context).
    LocalSocket,
}

/// A difference between dctx's record and Docker's store: docker wins, the
/// difference is shown and probed as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The context's host is not the one dctx recorded (`docker context update`).
    Host { recorded: String, docker: String },
    /// docker's SkipTLSVerify differs from the recorded mode.
    SkipVerify { recorded: bool, docker: bool },
    /// A TLS file of the context differs from what dctx wrote.
    TlsChanged { file: String },
    /// A TLS file dctx wrote is gone from the context.
    TlsRemoved { file: String },
    /// The Docker context was removed outside dctx (`docker context rm`).
    ContextRemoved,
    /// An env-only dctx profile shares its name with this Docker context;
    /// docker's context is what every command uses.
    Shadowed,
}

crate::text::words! {
    /// The kinds of `Drift`: the JSON `code` and what `ls` and `check` print.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DriftKind {
        Host => "host",
        SkipVerify => "skip-verify",
        TlsChanged => "tls-changed",
        TlsRemoved => "tls-removed",
        ContextRemoved => "context-removed",
        Shadowed => "shadowed",
    }
}

impl Drift {
    pub fn kind(&self) -> DriftKind {
        match self {
            Drift::Host { .. } => DriftKind::Host,
            Drift::SkipVerify { .. } => DriftKind::SkipVerify,
            Drift::TlsChanged { .. } => DriftKind::TlsChanged,
            Drift::TlsRemoved { .. } => DriftKind::TlsRemoved,
            Drift::ContextRemoved => DriftKind::ContextRemoved,
            Drift::Shadowed => DriftKind::Shadowed,
        }
    }

    /// Stable word for JSON.
    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The distinct codes of `ds`, in order ("tls-removed" once for three files).
    pub fn codes(ds: &[Drift]) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for d in ds {
            if !out.contains(&d.code()) {
                out.push(d.code());
            }
        }
        out
    }

    /// One line per kind of drift in `ds`: the files of a kind are named together.
    pub fn messages(ds: &[Drift]) -> Vec<String> {
        let mut out = Vec::new();
        for code in Self::codes(ds) {
            let same: Vec<&Drift> = ds.iter().filter(|d| d.code() == code).collect();
            let files: Vec<&str> = same
                .iter()
                .filter_map(|d| match d {
                    Drift::TlsChanged { file } | Drift::TlsRemoved { file } => Some(file.as_str()),
                    _ => None,
                })
                .collect();
            match (same[0], files.len()) {
                (Drift::TlsChanged { .. }, n) if n > 1 => out.push(format!(
                    "the Docker context's {} are not the ones dctx wrote",
                    files.join(", ")
                )),
                (Drift::TlsRemoved { .. }, n) if n > 1 => out.push(format!(
                    "the Docker context's {} were removed outside dctx",
                    files.join(", ")
                )),
                _ => out.extend(same.iter().map(|d| d.message())),
            }
        }
        out
    }

    /// `{code, message, fix}` for JSON output.
    pub fn to_json(&self, name: &str) -> serde_json::Value {
        serde_json::json!({"code": self.code(), "message": self.message(), "fix": self.fix(name)})
    }

    /// One line for `show`, `check` and `ls --json`.
    pub fn message(&self) -> String {
        match self {
            Drift::Host { recorded, docker } => format!(
                "the Docker context's host is {docker}, dctx recorded {recorded} (changed outside dctx)"
            ),
            Drift::SkipVerify { recorded, docker } => format!(
                "the Docker context's SkipTLSVerify is {docker}, dctx recorded {recorded}"
            ),
            Drift::TlsChanged { file } => {
                format!("the Docker context's {file} is not the one dctx wrote")
            }
            Drift::TlsRemoved { file } => {
                format!("the Docker context's {file} was removed outside dctx")
            }
            Drift::ContextRemoved => {
                "the Docker context dctx wrote was removed outside dctx".to_string()
            }
            Drift::Shadowed => {
                "a dctx env-only profile has the same name; docker (and dctx) use the Docker context"
                    .to_string()
            }
        }
    }

    /// The command that settles it.
    pub fn fix(&self, name: &str) -> String {
        match self {
            Drift::Shadowed => format!(
                "rename one of them: `dctx mv {name} NEW` renames the Docker context; or drop dctx's record with `dctx rm {name}`"
            ),
            Drift::ContextRemoved => format!(
                "re-import with `dctx add {name} --bundle … --replace`, or `dctx rm {name}`"
            ),
            _ => format!(
                "accept docker's version with `dctx adopt {name}`, or re-import with `dctx add {name} --bundle … --replace`"
            ),
        }
    }
}

/// One row of `ls`: a name and what docker would use for it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub endpoint: String,
    pub source: Source,
    /// `tls` in JSON: how docker talks to it.
    #[serde(rename = "tls")]
    pub mode: TlsMode,
    pub key_store: Option<KeyStore>,
    /// A Docker context of this name exists.
    pub context: bool,
    #[serde(skip)]
    pub skip_verify: bool,
    /// The directory holding ca.pem / cert.pem / key.pem (DOCKER_CERT_PATH).
    pub cert_path: Option<PathBuf>,
    #[serde(skip)]
    pub drift: Vec<Drift>,
    /// The record could not be read (one failing row; `rm` still removes it).
    pub error: Option<String>,
    /// Client certificate expiry (unix seconds), from what docker would send.
    #[serde(skip)]
    pub client_not_after: Option<i64>,
    #[serde(skip)]
    pub profile: Option<Profile>,
}

/// How `current` was decided, in docker's precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CurrentSource {
    /// `DOCKER_HOST` is set: docker uses `default` with that host.
    DockerHost,
    /// `DOCKER_CONTEXT` names it.
    DockerContext,
    /// `currentContext` in config.json.
    ConfigFile,
    /// Nothing set.
    Default,
    /// `DOCKER_HOST` and its TLS variables are exactly what `dctx env NAME`
    /// (or `dctx shell NAME`) set: docker talks to NAME's endpoint.
    DctxEnv,
}

impl CurrentSource {
    /// The variable or file that decided, as users know it.
    pub fn label(self) -> &'static str {
        match self {
            CurrentSource::DockerHost => env_vars::DOCKER_HOST,
            CurrentSource::DockerContext => env_vars::DOCKER_CONTEXT,
            CurrentSource::ConfigFile => "currentContext in config.json",
            CurrentSource::Default => "docker's default",
            CurrentSource::DctxEnv => "dctx env / dctx shell",
        }
    }
}

/// Which names a command accepts (completion offers exactly those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Anything with an endpoint: show, check, doctor, exec, shell, env.
    Any,
    /// Docker contexts and `default` (`use`).
    Contexts,
    /// What `rm` removes: profiles and foreign contexts (not `default`).
    Removable,
    /// dctx profiles only (key move, set-host of a profile…).
    Profiles,
    /// Foreign contexts only (`adopt`).
    Foreign,
}

/// How much to read for an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// The `env` hot path: meta.json + profile.json, `stat` of TLS files.
    Fast,
    /// Also drift fingerprints and the client certificate's expiry.
    Full,
}

/// dctx's view of the three stores (zoxide's `Database`, in spirit).
pub struct Targets {
    pub store: Store,
    pub docker: DockerConfig,
    pub keyring: Keyring,
    pub vars: DockerVars,
    pub now: i64,
}

impl Targets {
    pub fn new(store: Store, docker: DockerConfig, vars: DockerVars, now: i64) -> Self {
        let keyring = Keyring::for_store(&store.root);
        Targets {
            store,
            docker,
            keyring,
            vars,
            now,
        }
    }

    pub fn from_env(env: &crate::environment::Env) -> anyhow::Result<Self> {
        Ok(Self::new(
            Store::from_env(env)?,
            DockerConfig::from_env(env)?,
            DockerVars::from_env(env),
            env.now,
        ))
    }

    /// Refuse names that cannot be a profile or context (`../x`, `a/b`…)
    /// at every entry point; `default` is accepted where it means docker's.
    pub fn check_name(name: &str) -> anyhow::Result<()> {
        if name == DEFAULT {
            return Ok(());
        }
        validate_name(name).map_err(|_| {
            anyhow::anyhow!(
                "invalid name {:?}: profile and context names are letters, digits and _.+- (starting with a letter or digit)",
                name.escape_debug().to_string()
            )
        })
    }

    /// Every name: `default` first, then profiles and contexts by name.
    pub fn list(&self) -> anyhow::Result<Vec<Entry>> {
        self.finish_pending()?;
        let mut names = self.store.names();
        names.extend(self.docker.list().into_iter().map(|c| c.name));
        names.sort();
        names.dedup();
        let mut out = vec![self.default_entry()];
        for n in names.iter().filter(|n| n.as_str() != DEFAULT) {
            if let Some(e) = self.lookup(n, Detail::Full) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Names only (completion, did-you-mean): no file is parsed but meta.json.
    pub fn names(&self, accepts: Accepts) -> Vec<String> {
        let profiles = self.store.names();
        let contexts: Vec<String> = self.docker.list().into_iter().map(|c| c.name).collect();
        let mut out: Vec<String> = match accepts {
            Accepts::Any | Accepts::Removable => {
                profiles.iter().chain(contexts.iter()).cloned().collect()
            }
            Accepts::Contexts => contexts,
            Accepts::Profiles => profiles,
            Accepts::Foreign => contexts
                .into_iter()
                .filter(|c| !profiles.contains(c))
                .collect(),
        };
        if matches!(accepts, Accepts::Any | Accepts::Contexts) {
            out.push(DEFAULT.to_string());
        }
        out.sort();
        out.dedup();
        out
    }

    /// One name, fully (drift included).
    pub fn entry(&self, name: &str) -> anyhow::Result<Entry> {
        Self::check_name(name)?;
        self.finish_pending()?;
        self.lookup(name, Detail::Full)
            .ok_or_else(|| self.not_found(name))
    }

    /// One name for the shell hot path: reads that name's meta.json and
    /// profile.json, nothing else (no PEM, no other profile).
    pub fn entry_fast(&self, name: &str) -> anyhow::Result<Entry> {
        Self::check_name(name)?;
        self.lookup(name, Detail::Fast)
            .ok_or_else(|| self.not_found(name))
    }

    /// "no profile or Docker context named …", with a suggestion.
    pub fn not_found(&self, name: &str) -> anyhow::Error {
        let hint = self
            .did_you_mean(name)
            .map(|s| format!("; did you mean {s}?"))
            .unwrap_or_default();
        anyhow::anyhow!("no profile or Docker context named {name:?}{hint} (see `dctx ls`)")
    }

    fn did_you_mean(&self, name: &str) -> Option<String> {
        self.names(Accepts::Any)
            .into_iter()
            .map(|n| (strsim::jaro_winkler(name, &n), n))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n)
    }

    /// The name docker would use now, and what decided it.
    pub fn current(&self) -> (String, CurrentSource) {
        if self.vars.host.is_some() {
            if let Some(name) = self.dctx_env_name() {
                return (name, CurrentSource::DctxEnv);
            }
            return (DEFAULT.into(), CurrentSource::DockerHost);
        }
        if let Some(c) = &self.vars.context {
            return (c.clone(), CurrentSource::DockerContext);
        }
        match self.docker.current_context() {
            Some(c) => (c, CurrentSource::ConfigFile),
            None => (DEFAULT.into(), CurrentSource::Default),
        }
    }

    /// The profile `DCTX_PROFILE` names, if the DOCKER_* variables are
    /// exactly what `dctx env` (or, with `DCTX_SHELL`, `dctx shell`) sets for
    /// it now; one hand-edited variable and docker's answer stands. Reads
    /// that name's meta.json and profile.json only (the prompt hot path).
    fn dctx_env_name(&self) -> Option<String> {
        let name = self.vars.dctx_profile.as_deref()?;
        let want = if self.vars.dctx_shell.as_deref() == Some(name) {
            // The shell's files live in its private dir: `dctx-shell-*`
            // under the session base, as `dctx shell` made it.
            let dir = self.vars.cert_path.as_deref();
            if let Some(d) = dir
                && (d.parent() != Some(self.vars.session_base.as_path())
                    || !d
                        .file_name()
                        .and_then(|f| f.to_str())
                        .is_some_and(|f| f.starts_with("dctx-shell-")))
            {
                return None;
            }
            let e = self.entry_fast(name).ok()?;
            if e.kind != Kind::Profile {
                return None;
            }
            let t = Target {
                name: e.name.clone(),
                host: e.endpoint.clone(),
                tls: e.mode.uses_tls(),
                skip_verify: e.skip_verify,
                ca_pem: None,
                cert_pem: None,
                key_pem: None,
            };
            crate::session::docker_env(&t, dir.unwrap_or(std::path::Path::new("")))
        } else {
            self.env_changes(name).ok()?
        };
        want.iter()
            .all(|c| match c {
                Change::Set(k, v) => self.vars.get(k).as_ref() == Some(v),
                Change::Unset(k) => self.vars.get(k).is_none(),
            })
            .then(|| name.to_string())
    }

    /// A killed writer's journal is finished before anything is read (reads
    /// take the locks only then). A journal that cannot be finished is an
    /// error: the stores may be half-changed. Stray temp files alone are not.
    fn finish_pending(&self) -> anyhow::Result<()> {
        if txn::pending(&self.store.root) {
            return self.locked(|_| Ok(()));
        }
        let config_dir = self.docker.config_path().parent().map(PathBuf::from);
        let mut dirs = vec![self.store.root.as_path(), self.docker.dir.as_path()];
        if let Some(c) = &config_dir {
            dirs.push(c);
        }
        if txn::leftovers(&dirs) {
            let _ = self.locked(|_| Ok(()));
        }
        Ok(())
    }

    fn lookup(&self, name: &str, detail: Detail) -> Option<Entry> {
        if name == DEFAULT {
            return Some(self.default_entry());
        }
        let ctx = self.docker.read_context(name).ok().flatten();
        let prof = self.store.exists(name).then(|| self.store.load(name));
        if ctx.is_none() && prof.is_none() {
            return None;
        }
        Some(self.build(name, prof, ctx, detail))
    }

    /// One entry from what both stores hold under `name`: a Docker context
    /// decides how it is reached; a profile alone is an env-only record
    /// (or one whose context went missing).
    fn build(
        &self,
        name: &str,
        prof: Option<anyhow::Result<Profile>>,
        ctx: Option<ContextMeta>,
        detail: Detail,
    ) -> Entry {
        let (profile, error) = match prof {
            Some(Ok(p)) => (Some(p), None),
            Some(Err(e)) => (None, Some(format!("{e:#}"))),
            None => (None, None),
        };
        match ctx {
            Some(ctx) => self.context_entry(name, ctx, profile, error, detail),
            None => self.profile_entry(name, profile, error),
        }
    }

    /// An entry backed by a Docker context, with the profile (if any)
    /// compared to it for drift.
    fn context_entry(
        &self,
        name: &str,
        ctx: ContextMeta,
        profile: Option<Profile>,
        error: Option<String>,
        detail: Detail,
    ) -> Entry {
        let tls_dir = self.docker.tls_dir(name);
        let presence = TlsPresence::of_dir(&tls_dir);
        let mode = context_mode(&ctx.host, ctx.skip_verify, presence);
        let managed = profile.as_ref().is_some_and(|p| p.context);
        let mut drift = Vec::new();
        if let Some(p) = &profile {
            if !p.context {
                drift.push(Drift::Shadowed);
            } else if detail == Detail::Full {
                drift = self.drift(p, &ctx, &tls_dir, presence);
            }
        }
        let cert_changed = drift
            .iter()
            .any(|d| matches!(d, Drift::TlsChanged { file } | Drift::TlsRemoved { file } if file == "cert.pem"));
        let client_not_after = match (&profile, detail) {
            (Some(p), _) if managed && !cert_changed => p.cert.as_ref().map(|c| c.not_after),
            (_, Detail::Full) if presence.cert => first_cert_not_after(&tls_dir),
            _ => None,
        };
        Entry {
            name: name.to_string(),
            kind: if managed || error.is_some() {
                Kind::Profile
            } else {
                Kind::Foreign
            },
            endpoint: ctx.host,
            source: Source::DockerContext,
            mode,
            key_store: presence.key.then_some(KeyStore::File),
            context: true,
            skip_verify: ctx.skip_verify,
            cert_path: presence.any().then_some(tls_dir),
            drift,
            error,
            client_not_after,
            profile,
        }
    }

    /// An entry with no Docker context: the profile's own record, or only
    /// the error that kept its profile.json from loading.
    fn profile_entry(&self, name: &str, profile: Option<Profile>, error: Option<String>) -> Entry {
        let Some(p) = profile else {
            return Entry {
                name: name.to_string(),
                kind: Kind::Profile,
                endpoint: "-".into(),
                source: Source::Profile,
                mode: TlsMode::Plain,
                key_store: None,
                context: false,
                skip_verify: false,
                cert_path: None,
                drift: Vec::new(),
                error,
                client_not_after: None,
                profile: None,
            };
        };
        let mut drift = Vec::new();
        if p.context {
            drift.push(Drift::ContextRemoved);
        }
        Entry {
            name: name.to_string(),
            kind: Kind::Profile,
            endpoint: p.host.clone(),
            source: Source::Profile,
            mode: p.tls,
            key_store: p.has_key.then_some(p.key_store),
            context: false,
            skip_verify: p.tls == TlsMode::SkipVerify,
            cert_path: (p.tls.uses_tls() && !p.context).then(|| self.store.profile_dir(name)),
            drift,
            error,
            client_not_after: p.cert.as_ref().map(|c| c.not_after),
            profile: Some(p),
        }
    }

    fn drift(
        &self,
        p: &Profile,
        ctx: &ContextMeta,
        tls_dir: &std::path::Path,
        presence: TlsPresence,
    ) -> Vec<Drift> {
        let mut d = Vec::new();
        if p.host != ctx.host {
            d.push(Drift::Host {
                recorded: p.host.clone(),
                docker: ctx.host.clone(),
            });
        }
        let recorded_skip = p.tls == TlsMode::SkipVerify;
        if recorded_skip != ctx.skip_verify {
            d.push(Drift::SkipVerify {
                recorded: recorded_skip,
                docker: ctx.skip_verify,
            });
        }
        // Records from before fingerprints were kept have none: no verdict.
        if p.files.is_empty() {
            return d;
        }
        for (file, present) in [
            ("ca.pem", presence.ca),
            ("cert.pem", presence.cert),
            ("key.pem", presence.key),
        ] {
            let file_s = file.to_string();
            match (p.files.get(file), present) {
                (Some(_), false) => d.push(Drift::TlsRemoved { file: file_s }),
                (None, true) => d.push(Drift::TlsChanged { file: file_s }),
                // The key is compared by presence only: ls never reads keys.
                (Some(want), true) if file != "key.pem" => {
                    let got = std::fs::read(tls_dir.join(file))
                        .map(|b| crate::store::sha256_hex(&b))
                        .unwrap_or_default();
                    if &got != want {
                        d.push(Drift::TlsChanged { file: file_s });
                    }
                }
                _ => {}
            }
        }
        d
    }

    fn default_entry(&self) -> Entry {
        let (endpoint, source) = match &self.vars.host {
            Some(h) => (h.clone(), Source::DockerHost),
            None => (LOCAL_SOCKET.to_string(), Source::LocalSocket),
        };
        // DOCKER_TLS_VERIFY is on for ANY non-empty value; DOCKER_TLS alone
        // means TLS without verification.
        let verify = self.vars.tls_verify.is_some();
        let tls = verify || self.vars.tls.is_some();
        let cert_dir = self
            .vars
            .cert_path
            .clone()
            .unwrap_or_else(|| self.docker.dir.clone());
        let mode = if !tls || !endpoint.starts_with("tcp://") {
            context_mode(&endpoint, false, TlsPresence::default())
        } else {
            let p = TlsPresence::of_dir(&cert_dir);
            if !verify {
                TlsMode::SkipVerify
            } else if p.cert && p.key {
                TlsMode::Mtls
            } else if p.ca {
                TlsMode::ServerOnly
            } else {
                TlsMode::SystemRoots
            }
        };
        let key = mode.uses_tls() && cert_dir.join("key.pem").exists();
        Entry {
            name: DEFAULT.into(),
            kind: Kind::Default,
            endpoint,
            source,
            mode,
            key_store: key.then_some(KeyStore::File),
            context: false,
            skip_verify: tls && !verify,
            cert_path: mode.uses_tls().then_some(cert_dir),
            drift: Vec::new(),
            error: None,
            client_not_after: None,
            profile: None,
        }
    }

    /// What the probe needs to reach `e` as docker would. Reads the TLS
    /// files and, for keyring profiles, the key (into memory only).
    pub fn target(&self, e: &Entry) -> anyhow::Result<Target> {
        if let Some(err) = &e.error
            && !e.context
        {
            anyhow::bail!("{}: {err}", e.name);
        }
        if e.drift.contains(&Drift::ContextRemoved) {
            // Its TLS files went with it: nothing docker could use is left.
            anyhow::bail!(
                "the Docker context {} was removed outside dctx, and its TLS files with it",
                e.name
            );
        }
        let mut files = match &e.cert_path {
            Some(dir) if e.mode.uses_tls() => crate::store::read_pems(dir)?,
            _ => crate::store::TlsFiles {
                ca: None,
                cert: None,
                key: None,
            },
        };
        if !e.context
            && let Some(p) = &e.profile
            && p.key_store == KeyStore::Keyring
            && p.has_key
        {
            files.key = Some(self.keyring.get(&e.name)?);
        }
        if e.mode == TlsMode::SystemRoots {
            // A profile's ca.pem is only a snapshot for DOCKER_CERT_PATH;
            // probe with the live roots.
            files.ca = None;
        }
        Ok(Target {
            name: e.name.clone(),
            host: e.endpoint.clone(),
            tls: e.mode.uses_tls(),
            skip_verify: e.skip_verify,
            ca_pem: files.ca,
            cert_pem: files.cert,
            key_pem: files.key,
        })
    }

    /// All targets (`names` empty: every entry but an unreachable `default`
    /// nobody asked for) or the named ones in the order given.
    pub fn resolve(
        &self,
        names: &[String],
    ) -> anyhow::Result<Vec<(Entry, anyhow::Result<Target>)>> {
        let entries: Vec<Entry> = if names.is_empty() {
            self.list()?
        } else {
            names
                .iter()
                .map(|n| self.entry(n))
                .collect::<anyhow::Result<_>>()?
        };
        Ok(entries
            .into_iter()
            .map(|e| {
                let t = self.target(&e);
                (e, t)
            })
            .collect())
    }

    /// The environment that points the docker CLI (and any client reading
    /// DOCKER_HOST) at `name`. Hot path: see `entry_fast`.
    pub fn env_changes(&self, name: &str) -> anyhow::Result<Vec<Change>> {
        let e = self.entry_fast(name)?;
        if let Some(err) = &e.error
            && !e.context
        {
            anyhow::bail!("profile {name:?} cannot be used: {err}");
        }
        if e.kind != Kind::Default
            && !e.context
            && e.profile
                .as_ref()
                .is_some_and(|p| p.key_store == KeyStore::Keyring)
        {
            anyhow::bail!(
                "profile {name:?} keeps its key in the OS keyring; `dctx env` would have to write it to disk. Use `dctx shell {name}` (a shell with the key in a private temp dir) or `dctx exec {name} -- docker …`"
            );
        }
        if e.kind != Kind::Default
            && let Err(err) = crate::conn::Endpoint::parse(&e.endpoint)
        {
            // Never hand a shell (or cmd.exe) a host that could inject a line.
            anyhow::bail!(
                "{name}: the host {:?} is not a valid endpoint ({err})",
                e.endpoint
            );
        }
        let use_context = e.kind == Kind::Default || (e.context && e.mode == TlsMode::SystemRoots);
        let cert_path = e
            .cert_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let via = if use_context {
            Via::Context
        } else {
            Via::Host {
                host: &e.endpoint,
                mode: e.mode,
                cert_path: &cert_path,
            }
        };
        Ok(crate::shell::env::profile(&e.name, via))
    }
}

/// How docker talks to a context, from what its store holds.
pub fn context_mode(host: &str, skip_verify: bool, p: TlsPresence) -> TlsMode {
    let scheme = host.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "unix" | "npipe" | "fd" => TlsMode::Unix,
        "ssh" => TlsMode::Ssh,
        // docker turns TLS on when the context has TLS data or SkipTLSVerify.
        _ if skip_verify => TlsMode::SkipVerify,
        _ if !p.ca && !p.cert => {
            if scheme == "https" {
                TlsMode::SystemRoots
            } else {
                TlsMode::Plain
            }
        }
        _ if p.ca && p.cert => TlsMode::Mtls,
        _ if p.ca => TlsMode::ServerOnly,
        _ => TlsMode::SystemRoots,
    }
}

fn first_cert_not_after(dir: &std::path::Path) -> Option<i64> {
    let pem = std::fs::read(dir.join("cert.pem")).ok()?;
    crate::pki::inspect::certs_from_pem(&pem)
        .first()
        .map(|c| c.not_after)
}

#[cfg(test)]
mod drift_tests {
    use super::*;

    #[test]
    fn drift_kinds_have_one_spelling() {
        crate::text::assert_one_spelling(DriftKind::VARIANTS, DriftKind::as_str);
        let d = Drift::TlsRemoved {
            file: "cert.pem".into(),
        };
        assert_eq!(d.to_json("x")["code"], "tls-removed");
    }
}
