//! The Docker CLI's own files, the truth for every endpoint: the context
//! store and config.json. Reading only; changes are staged as bytes here and
//! applied by `store::txn`.
//!
//! ```text
//! $DOCKER_CONFIG/config.json                         currentContext + the user's keys
//! $DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json   0644
//! $DOCKER_CONFIG/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem  0600, dirs 0700
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::store::atomic::{self, Lock, PRIVATE_DIR};
use crate::store::{TlsFiles, read_pems};

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
    /// Carries dctx's marker in its Metadata (written by some dctx store).
    pub fn marked(&self) -> bool {
        self.metadata.contains_key(DCTX_KEY)
    }
}

/// Which TLS files a context has (from `stat`, nothing is read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsPresence {
    pub ca: bool,
    pub cert: bool,
    pub key: bool,
}

impl TlsPresence {
    pub fn any(self) -> bool {
        self.ca || self.cert || self.key
    }

    pub fn of_dir(dir: &Path) -> Self {
        TlsPresence {
            ca: dir.join("ca.pem").exists(),
            cert: dir.join("cert.pem").exists(),
            key: dir.join("key.pem").exists(),
        }
    }
}

/// The context store id: lower-case hex SHA-256 of the name (what docker uses).
pub fn context_id(name: &str) -> String {
    crate::store::sha256_hex(name.as_bytes())
}

#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub dir: PathBuf,
}

/// config.json as the docker CLI keeps it, with every value verbatim
/// (numbers too) and the key order kept.
pub struct ConfigFile {
    /// The real file (through a dotfiles symlink).
    pub path: PathBuf,
    entries: indexmap::IndexMap<String, Box<RawValue>>,
    /// Mode and owner to keep when rewriting it.
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
}

impl ConfigFile {
    pub fn current_context(&self) -> Option<String> {
        let raw = self.entries.get("currentContext")?;
        serde_json::from_str::<String>(raw.get())
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The file's bytes with `currentContext` set (or, with `None`, removed).
    pub fn with_current(&self, name: Option<&str>) -> Vec<u8> {
        let mut entries = self.entries.clone();
        match name {
            Some(n) => {
                let v = RawValue::from_string(serde_json::to_string(n).expect("a string"))
                    .expect("valid JSON");
                entries.insert("currentContext".into(), v);
            }
            None => {
                entries.shift_remove("currentContext");
            }
        }
        // Tab-indented like the docker CLI's json.MarshalIndent(…, "", "\t");
        // nested values keep their own text.
        let mut out = String::from("{");
        for (i, (k, v)) in entries.iter().enumerate() {
            out.push_str(if i == 0 { "\n\t" } else { ",\n\t" });
            out.push_str(&serde_json::to_string(k).expect("a string"));
            out.push_str(": ");
            out.push_str(v.get());
        }
        out.push_str(if entries.is_empty() { "}" } else { "\n}" });
        out.into_bytes()
    }
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

    pub fn meta_dir(&self, name: &str) -> PathBuf {
        self.dir.join("contexts/meta").join(context_id(name))
    }

    /// `contexts/tls/<id>`: every endpoint's TLS files of one context.
    pub fn tls_root(&self, name: &str) -> PathBuf {
        self.dir.join("contexts/tls").join(context_id(name))
    }

    /// Where docker keeps the context's ca.pem / cert.pem / key.pem.
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        self.tls_root(name).join("docker")
    }

    /// Serialises dctx writers of this Docker config (docker itself takes no lock).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        atomic::create_dir(&self.dir, PRIVATE_DIR)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        Lock::acquire(&self.dir.join(".dctx.lock"))
            .with_context(|| format!("locking {}", self.dir.join(".dctx.lock").display()))
    }

    /// A new context's meta.json.
    pub fn meta_json(
        name: &str,
        host: &str,
        skip_verify: bool,
        metadata: &Map<String, Value>,
    ) -> Vec<u8> {
        let json = serde_json::json!({
            "Name": name,
            "Metadata": metadata,
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
        });
        serde_json::to_vec(&json).expect("json")
    }

    /// The existing meta.json of `name` with a new name and/or docker host,
    /// every other field kept (other endpoints, Metadata).
    pub fn edited_meta(
        &self,
        name: &str,
        new_name: Option<&str>,
        new_host: Option<&str>,
    ) -> anyhow::Result<Vec<u8>> {
        let path = self.meta_dir(name).join("meta.json");
        let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut v: Value = serde_json::from_slice(&data)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        if let Some(n) = new_name {
            v["Name"] = Value::String(n.into());
        }
        if let Some(h) = new_host {
            v["Endpoints"]["docker"]["Host"] = Value::String(h.into());
        }
        Ok(serde_json::to_vec(&v)?)
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

    pub fn tls_presence(&self, name: &str) -> TlsPresence {
        TlsPresence::of_dir(&self.tls_dir(name))
    }

    fn config_link(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The real config.json (through a dotfiles symlink; the link itself
    /// when it dangles or is missing).
    pub fn config_path(&self) -> PathBuf {
        let link = self.config_link();
        fs::canonicalize(&link).unwrap_or(link)
    }

    /// config.json (empty when missing), read through a symlink.
    pub fn config(&self) -> anyhow::Result<ConfigFile> {
        let link = self.config_link();
        // A dotfiles manager's symlink: write through it, never replace it.
        let path = match fs::canonicalize(&link) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => link.clone(),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("reading {}", link.display())));
            }
        };
        let (entries, mode, owner) = match fs::read(&path) {
            Ok(data) => {
                let meta = fs::metadata(&path)?;
                let entries = if data.iter().all(u8::is_ascii_whitespace) {
                    indexmap::IndexMap::new()
                } else {
                    serde_json::from_slice(&data).map_err(|e| {
                        anyhow::anyhow!(
                            "{} is not a valid JSON object ({e}); not touching it",
                            path.display()
                        )
                    })?
                };
                (
                    entries,
                    meta.mode() & 0o7777,
                    Some((meta.uid(), meta.gid())),
                )
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                (indexmap::IndexMap::new(), atomic::PRIVATE_FILE, None)
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("reading {}", path.display())));
            }
        };
        Ok(ConfigFile {
            path,
            entries,
            mode,
            owner,
        })
    }

    /// `currentContext` from config.json (None = docker's `default`).
    pub fn current_context(&self) -> Option<String> {
        self.config().ok()?.current_context()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_numbers_order_and_nested_text() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\n\t\"auths\": {\"r\": {\"auth\": \"eA==\"}},\n\t\"big\": 12345678901234567890123,\n\t\"currentContext\": \"a\",\n\t\"z\": 1.50\n}";
        fs::write(dir.path().join("config.json"), text).unwrap();
        let d = DockerConfig::new(dir.path().to_path_buf());
        let c = d.config().unwrap();
        assert_eq!(c.current_context().as_deref(), Some("a"));
        let out = String::from_utf8(c.with_current(Some("b"))).unwrap();
        assert_eq!(
            out,
            "{\n\t\"auths\": {\"r\": {\"auth\": \"eA==\"}},\n\t\"big\": 12345678901234567890123,\n\t\"currentContext\": \"b\",\n\t\"z\": 1.50\n}"
        );
        let out = String::from_utf8(c.with_current(None)).unwrap();
        assert!(!out.contains("currentContext"), "{out}");
        assert!(out.contains("12345678901234567890123"), "{out}");
    }
}
