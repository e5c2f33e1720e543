//! Where a profile's certificate comes from when that place can issue it
//! again, and its renewal state: part of dctx's record (profile.json), so
//! it lives with the store; `source` does the issuing and renewing.

use serde::{Deserialize, Serialize};

/// A profile's renewable source and its renewal state (in profile.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    #[serde(flatten)]
    pub issuer: Issuer,
    #[serde(default)]
    pub renewal: Renewal,
}

/// Who issues the next certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Issuer {
    /// An OpenBao / Vault PKI engine: `POST /v1/{mount}/sign/{role}`.
    Vault(VaultSource),
    /// The local CA of `dctx pki` (its record names the certificate).
    LocalCa(LocalSource),
}

impl Issuer {
    /// The word `ls` shows in its SOURCE column.
    pub fn label(&self) -> &'static str {
        match self {
            Issuer::Vault(_) => "vault",
            Issuer::LocalCa(_) => "pki",
        }
    }
}

/// Everything a renewal needs without the environment (no token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultSource {
    /// `https://bao.example:8200`
    pub address: String,
    pub mount: String,
    pub role: String,
    pub cn: String,
    /// Requested TTL (`--ttl`), else the role's default.
    #[serde(default)]
    pub ttl: Option<String>,
    /// PEM of the CA the server's own TLS certificate was verified with
    /// (`--vault-ca`); none: the system roots.
    #[serde(default)]
    pub server_ca: Option<String>,
    /// `VAULT_NAMESPACE` at enrollment (X-Vault-Namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The `cert` auth role to log in with when no token is at hand.
    #[serde(default)]
    pub cert_role: Option<String>,
    /// Where the daemon's CA came from: the engine's chain, or a file
    /// given with `--ca` (kept as is on renewal).
    #[serde(default)]
    pub daemon_ca: Option<String>,
}

/// A client certificate `dctx pki client NAME` issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalSource {
    /// The PKI directory (`dctx pki --dir`, default `<store>/pki`).
    pub pki_dir: std::path::PathBuf,
    /// Its record name (`dctx pki ls`).
    pub record: String,
}

/// The last renewals (all unix seconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Renewal {
    /// notBefore of the current certificate (with its notAfter: the lifetime).
    #[serde(default)]
    pub not_before: Option<i64>,
    #[serde(default)]
    pub last_success: Option<i64>,
    #[serde(default)]
    pub last_attempt: Option<i64>,
    /// Why the last attempt failed (cleared by a success).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Failed attempts since the profile was enrolled.
    #[serde(default)]
    pub failures: u64,
}

/// Renew past this fraction of the lifetime (step-ca's and common practice).
pub const DEFAULT_BEFORE: f64 = 2.0 / 3.0;

impl Renewal {
    /// When the certificate valid from `not_before` (else `issued`) to
    /// `not_after` is due for renewal at `fraction` of its lifetime.
    pub fn due_at(&self, not_after: i64, fraction: f64) -> i64 {
        let start = self.not_before.unwrap_or(not_after);
        start + ((not_after - start) as f64 * fraction) as i64
    }
}
