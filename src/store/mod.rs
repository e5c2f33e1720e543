//! dctx's own records: what Docker's context store has no place for. One
//! directory per profile holding `profile.json`; the PEM files live here
//! only for profiles without a Docker context (env-only, keyring): where a
//! context exists its TLS files are Docker's, never copied.
//!
//! ```text
//! $DCTX_HOME/            0700
//!   .lock  journal.json  state.json
//!   profiles/<name>/     0700
//!     profile.json       0600
//!     ca.pem cert.pem [key.pem]   0600   (no Docker context only)
//! ```
//!
//! Writes go through `txn` (all-or-nothing across the stores).

pub mod atomic;
#[cfg(feature = "runtime")]
pub mod keyring;
pub mod origin;
#[cfg(feature = "runtime")]
pub mod txn;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use atomic::Lock;

/// How a profile reaches its daemon; the weaker modes are flagged everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Server verified with the profile's CA, client cert presented.
    Mtls,
    /// Server verified with the profile's CA, no client cert.
    ServerOnly,
    /// Client cert presented, server NOT verified (docker's SkipTLSVerify).
    SkipVerify,
    /// Server verified with the system roots (no CA in the bundle).
    SystemRoots,
    /// tcp:// without TLS.
    Plain,
    /// unix:// socket (local; TLS does not apply).
    Unix,
    /// ssh:// (docker runs `ssh HOST docker system dial-stdio`; TLS does not apply).
    Ssh,
}

impl TlsMode {
    pub fn label(self) -> &'static str {
        match self {
            TlsMode::Mtls => "mTLS",
            TlsMode::ServerOnly => "TLS, no client cert",
            TlsMode::SkipVerify => "mTLS, server NOT verified",
            TlsMode::SystemRoots => "TLS, system roots",
            TlsMode::Plain => "PLAINTEXT",
            TlsMode::Unix => "unix socket",
            TlsMode::Ssh => "ssh",
        }
    }

    pub fn uses_tls(self) -> bool {
        !matches!(self, TlsMode::Plain | TlsMode::Unix | TlsMode::Ssh)
    }

    /// Weaker than full mTLS over TCP.
    pub fn is_weak(self) -> bool {
        !matches!(self, TlsMode::Mtls | TlsMode::Unix | TlsMode::Ssh)
    }
}

/// Where a private key lives (a profile's, a pending CSR's): the one type for it;
/// `cli::KeyStoreArg` is only its clap mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStore {
    #[default]
    File,
    Keyring,
}

/// Summary of a certificate kept in profile.json so `ls` and `env` never parse PEM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertRecord {
    pub subject: String,
    pub issuer: String,
    pub not_after: i64,
    pub sha256: String,
}

/// profile.json
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub host: String,
    pub tls: TlsMode,
    /// A Docker context of the same name was written by dctx.
    pub context: bool,
    #[serde(default)]
    pub key_store: KeyStore,
    pub ca: Option<CertRecord>,
    pub cert: Option<CertRecord>,
    pub has_key: bool,
    /// Unix seconds.
    pub created: i64,
    /// Where the material came from (for `show`).
    #[serde(default)]
    pub source: Option<String>,
    /// SHA-256 of each TLS file as dctx wrote (or adopted) it: a file that
    /// differs later was changed outside dctx (drift).
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Taken under management by `dctx adopt` (the context was not written by dctx).
    #[serde(default)]
    pub adopted: bool,
    /// A source that can issue it again (OpenBao / Vault), and renewal state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<origin::Origin>,
}

impl Profile {
    /// The bytes of profile.json.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a profile serializes")
    }
}

/// Lower-case hex SHA-256 (drift fingerprints of TLS files).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// `[a-zA-Z0-9][a-zA-Z0-9<extra>]*`: safe as a file name, never `..` or `/`.
pub fn is_simple_name(name: &str, extra: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// Profile names follow Docker's context rule; `default` is reserved.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    if name.len() < 2 || !is_simple_name(name, "_.+-") {
        anyhow::bail!(
            "invalid profile name {:?}: use letters, digits and _.+- (at least 2 characters, starting with a letter or digit)",
            name.escape_debug().to_string()
        );
    }
    if name.len() > 200 {
        anyhow::bail!("invalid profile name: longer than 200 characters");
    }
    if name == "default" {
        anyhow::bail!(
            "invalid profile name \"default\": reserved by Docker for its built-in context"
        );
    }
    Ok(())
}

/// PEM files of a TLS profile, as read back from the store.
pub struct TlsFiles {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn from_env(env: &crate::environment::Env) -> anyhow::Result<Self> {
        env.store_root()
            .map(Self::new)
            .context("cannot find a config directory: set DCTX_HOME")
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    /// The DOCKER_CERT_PATH of a profile.
    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.profiles_dir().join(name)
    }

    /// Exclusive store lock, held across a whole read-modify-write.
    pub fn lock(&self) -> anyhow::Result<Lock> {
        atomic::create_dir(&self.root, atomic::PRIVATE_DIR)
            .with_context(|| format!("creating {}", self.root.display()))?;
        Lock::acquire(&self.root.join(".lock"))
            .with_context(|| format!("locking {}", self.root.display()))
    }

    /// A profile dir of that name exists (its profile.json may be unreadable).
    pub fn exists(&self, name: &str) -> bool {
        self.profile_dir(name).is_dir()
    }

    /// Read exactly one profile.json (the `env` hot path).
    pub fn load(&self, name: &str) -> anyhow::Result<Profile> {
        let path = self.profile_dir(name).join("profile.json");
        let data = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow::anyhow!("no profile named {name:?} (see `dctx ls`)"),
            _ => anyhow::Error::new(e).context(format!("reading {}", path.display())),
        })?;
        serde_json::from_slice(&data).with_context(|| format!("{} is corrupt", path.display()))
    }

    /// Names of all profile dirs, sorted; no file is parsed. A dir whose
    /// profile.json is missing or corrupt is still listed (one failing row,
    /// removable), but never a name dctx could not have made.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.profiles_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    pub fn read_tls(&self, name: &str) -> anyhow::Result<TlsFiles> {
        read_pems(&self.profile_dir(name))
    }
}

/// Write ca.pem / cert.pem / key.pem that are present (all 0600) into `dir`.
pub fn write_pems(dir: &Path, files: &TlsFiles) -> anyhow::Result<()> {
    for (file, data) in [
        ("ca.pem", files.ca.as_deref()),
        ("cert.pem", files.cert.as_deref()),
        ("key.pem", files.key.as_ref().map(|k| k.as_slice())),
    ] {
        if let Some(data) = data {
            atomic::write(&dir.join(file), data, atomic::PRIVATE_FILE)
                .with_context(|| format!("writing {}", dir.join(file).display()))?;
        }
    }
    Ok(())
}

/// Read whichever of ca.pem / cert.pem / key.pem exist in `dir`.
pub fn read_pems(dir: &Path) -> anyhow::Result<TlsFiles> {
    let read = |f: &str| -> anyhow::Result<Option<Vec<u8>>> {
        match fs::read(dir.join(f)) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("reading {}", dir.join(f).display())))
            }
        }
    };
    Ok(TlsFiles {
        ca: read("ca.pem")?,
        cert: read("cert.pem")?,
        key: read("key.pem")?.map(zeroize::Zeroizing::new),
    })
}
