//! Bundle import: read TLS material from any container format, recognise
//! every object by content, pick the client cert / key / CA, validate.
//!
//! Never prints, never touches the disk outside reading the source.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::pki::CertInfo;

/// Where the material comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--bundle PATH`: tar, tar.gz, zip, directory, .p12, docker export, docker-machine dir.
    Bundle(PathBuf),
    /// `--ca/--cert/--key` given separately.
    Files {
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    },
}

/// Import policy.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Accept a bundle without CA (publicly trusted server: system roots).
    pub allow_no_ca: bool,
    /// Import an expired / wrong-EKU client cert with a warning instead of refusing.
    pub force: bool,
    /// Unix seconds, for expiry checks.
    pub now: i64,
}

/// Asks for a passphrase; the argument says what for (e.g. `key.pem in x.tar`).
pub type PassphraseFn<'a> = dyn FnMut(&str) -> Result<Zeroizing<String>, BundleError> + 'a;

/// What a bundle yields: PEM text ready to be written as ca.pem / cert.pem / key.pem.
pub struct Material {
    /// CA certificate(s), PEM.
    pub ca_pem: Option<String>,
    /// Client certificate (leaf first, then any intermediates), PEM.
    pub cert_pem: Option<String>,
    /// Unencrypted private key, PEM (PKCS#1, SEC1 or PKCS#8).
    pub key_pem: Option<Zeroizing<String>>,
    pub ca: Option<CertInfo>,
    pub cert: Option<CertInfo>,
    /// Endpoint found inside the bundle (docker export meta.json, docker-machine config.json).
    pub host: Option<String>,
    /// SkipTLSVerify found inside a docker export.
    pub skip_verify: Option<bool>,
    /// Human notes: which CA was chosen and why, what was ignored.
    pub notes: Vec<String>,
    /// Non-fatal problems (client cert not signed by the bundled CA, forced imports).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Material {
    // Hand-written so a private key can never end up in a log or panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("ca", &self.ca.as_ref().map(|c| &c.subject))
            .field("cert", &self.cert.as_ref().map(|c| &c.subject))
            .field("key", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .field("notes", &self.notes)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Typed import failures; every message names the file inside the bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Other(String),
}

/// Read and classify a bundle (implemented in the bundle branch).
pub fn read(
    _src: &Source,
    _opts: &Options,
    _pass: &mut PassphraseFn<'_>,
) -> Result<Material, BundleError> {
    Err(BundleError::Other("not implemented".into()))
}
