//! The Docker CLI's own files: the context store and config.json.
//!
//! ```text
//! $DOCKER_CONFIG/config.json                         0600, currentContext + the user's keys
//! $DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json   0644
//! $DOCKER_CONFIG/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem  0600, dirs 0700
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Map, Value};

use crate::store::atomic::{self, Lock, PRIVATE_DIR, PRIVATE_FILE, PUBLIC_DIR, PUBLIC_FILE};
use crate::store::{TlsFiles, read_pems, write_pems};

/// Key inside a context's `Metadata` that marks it as written by dctx.
pub const DCTX_KEY: &str = "dctx";

/// One Docker context's meta.json, as far as dctx cares.
#[derive(Debug, Clone)]
pub struct ContextMeta {
    pub name: String,
    pub host: String,
    pub skip_verify: bool,
    pub metadata: Map<String, Value>,
}

impl ContextMeta {
    /// Written by dctx (so `rm` may delete it and `ls` shows it as a profile).
    pub fn managed(&self) -> bool {
        self.metadata.contains_key(DCTX_KEY)
    }
}

/// The context store id: lower-case hex SHA-256 of the name (what docker uses).
pub fn context_id(name: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes()).as_ref())
}

#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub dir: PathBuf,
}

impl DockerConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn from_env(env: &crate::environment::Env) -> anyhow::Result<Self> {
        env.docker_config_dir()
            .map(Self::new)
            .context("cannot find the Docker config dir: set HOME or DOCKER_CONFIG")
    }

    fn meta_dir(&self, name: &str) -> PathBuf {
        self.dir.join("contexts/meta").join(context_id(name))
    }

    /// Where docker keeps the context's ca.pem / cert.pem / key.pem.
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        self.dir
            .join("contexts/tls")
            .join(context_id(name))
            .join("docker")
    }

    /// Serialises dctx writers of this Docker config (docker itself takes no lock).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        atomic::create_dir(&self.dir, PRIVATE_DIR)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        Lock::acquire(&self.dir.join(".dctx.lock")).context("locking the Docker config dir")
    }

    /// Write (or replace) a context: TLS files first, then meta.json, so docker
    /// never sees a context whose certificates are missing.
    pub fn write_context(&self, meta: &ContextMeta, tls: &TlsFiles) -> anyhow::Result<()> {
        let tls_dir = self.tls_dir(&meta.name);
        let tls_root = tls_dir.parent().expect("tls dir has a parent");
        // Never leave a stale key behind: clear what the old context had.
        match fs::remove_dir_all(tls_root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::Error::new(e).context("removing old context TLS files")),
        }
        if tls.ca.is_some() || tls.cert.is_some() || tls.key.is_some() {
            atomic::create_dir(&self.dir.join("contexts/tls"), PRIVATE_DIR)?;
            atomic::create_dir(tls_root, PRIVATE_DIR)?;
            atomic::create_dir(&tls_dir, PRIVATE_DIR)?;
            write_pems(&tls_dir, tls)?;
        }
        let meta_dir = self.meta_dir(&meta.name);
        atomic::create_dir(&self.dir.join("contexts"), PUBLIC_DIR)?;
        atomic::create_dir(&self.dir.join("contexts/meta"), PUBLIC_DIR)?;
        atomic::create_dir(&meta_dir, PUBLIC_DIR)?;
        let json = serde_json::json!({
            "Name": meta.name,
            "Metadata": meta.metadata,
            "Endpoints": {"docker": {"Host": meta.host, "SkipTLSVerify": meta.skip_verify}},
        });
        atomic::write(
            &meta_dir.join("meta.json"),
            &serde_json::to_vec(&json)?,
            PUBLIC_FILE,
        )
        .with_context(|| format!("writing Docker context {}", meta.name))
    }

    /// Read one context, `None` when it does not exist.
    pub fn read_context(&self, name: &str) -> anyhow::Result<Option<ContextMeta>> {
        read_meta(&self.meta_dir(name).join("meta.json"))
    }

    /// Every context in the store, sorted by name; unreadable ones are skipped.
    pub fn list(&self) -> Vec<ContextMeta> {
        let mut out: Vec<ContextMeta> = fs::read_dir(self.dir.join("contexts/meta"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| read_meta(&e.path().join("meta.json")).ok().flatten())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub fn read_tls(&self, name: &str) -> anyhow::Result<TlsFiles> {
        read_pems(&self.tls_dir(name))
    }

    pub fn remove_context(&self, name: &str) -> anyhow::Result<()> {
        for dir in [
            self.meta_dir(name),
            self.dir.join("contexts/tls").join(context_id(name)),
        ] {
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("removing {}", dir.display()))
                    );
                }
            }
        }
        Ok(())
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// config.json as an ordered JSON object (empty when missing).
    fn read_config(&self) -> anyhow::Result<Map<String, Value>> {
        let path = self.config_path();
        match fs::read(&path) {
            Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
            Ok(data) => match serde_json::from_slice(&data) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => anyhow::bail!("{} is not a JSON object; not touching it", path.display()),
                Err(e) => anyhow::bail!(
                    "{} is not valid JSON ({e}); not touching it",
                    path.display()
                ),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Map::new()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        }
    }

    /// `currentContext` from config.json (None = docker's `default`).
    pub fn current_context(&self) -> Option<String> {
        self.read_config()
            .ok()?
            .get("currentContext")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// Set (or with `None`, remove) `currentContext`, keeping every other key
    /// and its order. Returns the previous value. Caller holds the lock.
    pub fn set_current_context(&self, name: Option<&str>) -> anyhow::Result<Option<String>> {
        let mut cfg = self.read_config()?;
        let previous = cfg
            .get("currentContext")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        match name {
            Some(n) => {
                cfg.insert("currentContext".into(), Value::String(n.into()));
            }
            None => {
                cfg.shift_remove("currentContext");
            }
        }
        atomic::create_dir(&self.dir, PRIVATE_DIR)?;
        atomic::write(
            &self.config_path(),
            &to_docker_json(&Value::Object(cfg))?,
            PRIVATE_FILE,
        )
        .with_context(|| format!("writing {}", self.config_path().display()))?;
        Ok(previous)
    }
}

/// Tab-indented, like the docker CLI's own `json.MarshalIndent(…, "", "\t")`.
fn to_docker_json(v: &Value) -> anyhow::Result<Vec<u8>> {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    v.serialize(&mut ser)?;
    Ok(out)
}

fn read_meta(path: &Path) -> anyhow::Result<Option<ContextMeta>> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let v: Value = serde_json::from_slice(&data)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let ep = &v["Endpoints"]["docker"];
    Ok(Some(ContextMeta {
        name: v["Name"].as_str().unwrap_or_default().to_owned(),
        host: ep["Host"].as_str().unwrap_or_default().to_owned(),
        skip_verify: ep["SkipTLSVerify"].as_bool().unwrap_or(false),
        metadata: v["Metadata"].as_object().cloned().unwrap_or_default(),
    }))
}
