//! Revocations recorded in the CA directory (`revoked.json`, 0644), the
//! input of every CRL the local CA signs. Written under the PKI lock.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::store::atomic;

/// RFC 5280 §5.3.1 reason codes (the CLI has its own clap mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "key-compromise",
            Reason::CaCompromise => "ca-compromise",
            Reason::AffiliationChanged => "affiliation-changed",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessation-of-operation",
            Reason::CertificateHold => "certificate-hold",
            Reason::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }

    pub fn rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            Reason::Unspecified => R::Unspecified,
            Reason::KeyCompromise => R::KeyCompromise,
            Reason::CaCompromise => R::CaCompromise,
            Reason::AffiliationChanged => R::AffiliationChanged,
            Reason::Superseded => R::Superseded,
            Reason::CessationOfOperation => R::CessationOfOperation,
            Reason::CertificateHold => R::CertificateHold,
            Reason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revoked {
    /// Upper-case hex, no colons, no leading zero bytes (as `pki ls` shows it).
    pub serial: String,
    /// The record name when the certificate was issued here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reason: Reason,
    /// Unix seconds.
    pub revoked: i64,
}

pub fn path(pki_dir: &Path) -> PathBuf {
    pki_dir.join("revoked.json")
}

/// Normalise a serial as users paste it (`0a:1B…`, `0x…`, spaces) to upper
/// hex without colons or leading zero bytes.
pub fn normalize_serial(raw: &str) -> anyhow::Result<String> {
    let s: String = raw
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{raw:?} is not a hexadecimal serial number (e.g. 3A:1F:… or 3A1F…)");
    }
    let s = s.to_ascii_uppercase();
    let padded = if s.len() % 2 == 1 { format!("0{s}") } else { s };
    let mut t = padded.as_str();
    while t.len() > 2 && t.starts_with("00") {
        t = &t[2..];
    }
    Ok(t.to_string())
}

/// Every revocation recorded in `pki_dir` (none when the file is absent).
pub fn load(pki_dir: &Path) -> anyhow::Result<Vec<Revoked>> {
    let p = path(pki_dir);
    match fs::read(&p) {
        Ok(data) => {
            serde_json::from_slice(&data).with_context(|| format!("{} is corrupt", p.display()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", p.display()))),
    }
}

/// Record `r`; refuses a serial that is already revoked. Caller holds the lock.
pub fn add(pki_dir: &Path, r: Revoked) -> anyhow::Result<()> {
    let mut all = load(pki_dir)?;
    if let Some(old) = all.iter().find(|o| o.serial == r.serial) {
        bail!(
            "serial {} is already revoked (since {}, {})",
            r.serial,
            crate::pki::inspect::rfc3339(old.revoked),
            old.reason.label()
        );
    }
    all.push(r);
    let json = serde_json::to_vec_pretty(&all)?;
    atomic::write(&path(pki_dir), &json, atomic::PUBLIC_FILE)
        .with_context(|| format!("writing {}", path(pki_dir).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(normalize_serial("0a:1b:FF").unwrap(), "0A1BFF");
        assert_eq!(normalize_serial("00:80").unwrap(), "80");
        assert_eq!(normalize_serial("0x123").unwrap(), "0123");
        assert_eq!(normalize_serial("00").unwrap(), "00");
        for bad in ["", "xyz", "12:zz"] {
            assert!(normalize_serial(bad).is_err(), "{bad}");
        }
    }
}
