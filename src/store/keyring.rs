//! Client private keys in the OS keyring (Secret Service on Linux, Keychain
//! on macOS) via the keyring crate. Entries are namespaced per dctx store
//! (service `dctx:<absolute store path>`, account = profile name), so two
//! stores (two `DCTX_HOME`s, tests side by side) never share a key. The
//! secret is the unencrypted key PEM.

use std::path::Path;

use zeroize::Zeroizing;

/// The un-namespaced service of dctx ≤ 0.1 (read as a fallback only).
const LEGACY_SERVICE: &str = "dctx";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No Secret Service / Keychain answered.
    #[error(
        "no OS keyring is available ({0}); start a Secret Service (e.g. gnome-keyring) or use --key-store file"
    )]
    Unavailable(String),
    /// The profile says its key is in the keyring, but there is no entry.
    #[error("the OS keyring has no key for profile {0:?} (was it removed outside dctx?)")]
    Missing(String),
    /// Anything else the keyring reported.
    #[error("OS keyring: {0}")]
    Other(String),
}

/// The keyring namespace of one dctx store.
#[derive(Debug, Clone)]
pub struct Keyring {
    service: String,
}

fn map(account: &str, e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoEntry => KeyringError::Missing(account.to_string()),
        keyring::Error::NoStorageAccess(_) | keyring::Error::NoDefaultStore => {
            KeyringError::Unavailable(e.to_string())
        }
        e => KeyringError::Other(e.to_string()),
    }
}

impl Keyring {
    /// The namespace of the store at `root` (an absolute path).
    pub fn for_store(root: &Path) -> Self {
        Keyring {
            service: format!("dctx:{}", root.display()),
        }
    }

    pub fn with_service(service: &str) -> Self {
        Keyring {
            service: service.to_string(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry_in(service: &str, account: &str) -> Result<keyring::Entry, KeyringError> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(KeyringError::Unavailable(e.to_string()));
        }
        keyring::Entry::new(service, account).map_err(|e| map(account, e))
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeyringError> {
        Self::entry_in(&self.service, account)
    }

    /// Fail early (before anything is written) when no keyring answers.
    pub fn ensure_available(&self) -> Result<(), KeyringError> {
        self.get_opt("availability-check").map(|_| ())
    }

    /// Store (or replace) the secret of `account`.
    pub fn put(&self, account: &str, secret: &[u8]) -> Result<(), KeyringError> {
        self.entry(account)?
            .set_secret(secret)
            .map_err(|e| map(account, e))
    }

    /// The secret of `account`, `None` when there is no entry.
    pub fn get_opt(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        match self.entry(account)?.get_secret() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map(account, e)),
        }
    }

    /// The key of profile `account`, read into memory.
    pub fn get(&self, account: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        if let Some(s) = self.get_opt(account)? {
            return Ok(s);
        }
        // Entries written before keys were namespaced per store.
        match Self::entry_in(LEGACY_SERVICE, account)?.get_secret() {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(e) => Err(map(account, e)),
        }
    }

    /// Delete `account`; a missing entry is fine.
    pub fn delete(&self, account: &str) -> Result<(), KeyringError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map(account, e)),
        }
    }
}
