//! Client private keys in the OS keyring (Secret Service on Linux, Keychain
//! on macOS, Credential Manager on Windows) via the keyring crate. Service
//! `dctx`, account = profile name; the secret is the unencrypted key PEM.

use zeroize::Zeroizing;

const SERVICE: &str = "dctx";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "no OS keyring is available ({0}); start a Secret Service (e.g. gnome-keyring) or use --key-store file"
    )]
    Unavailable(String),
    #[error("the OS keyring has no key for profile {0:?} (was it removed outside dctx?)")]
    Missing(String),
    #[error("OS keyring: {0}")]
    Other(String),
}

fn entry(profile: &str) -> Result<keyring::Entry, KeyringError> {
    if let Err(e) = keyring::Entry::store_status() {
        return Err(KeyringError::Unavailable(e.to_string()));
    }
    keyring::Entry::new(SERVICE, profile).map_err(|e| match e {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => {
            KeyringError::Unavailable(e.to_string())
        }
        e => KeyringError::Other(e.to_string()),
    })
}

fn map(profile: &str, e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoEntry => KeyringError::Missing(profile.to_string()),
        keyring::Error::NoStorageAccess(_) | keyring::Error::NoDefaultStore => {
            KeyringError::Unavailable(e.to_string())
        }
        e => KeyringError::Other(e.to_string()),
    }
}

/// Fail early (before anything is written) when no keyring answers.
pub fn ensure_available(profile: &str) -> Result<(), KeyringError> {
    match entry(profile)?.get_secret() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(map(profile, e)),
    }
}

/// Store (or replace) the key of `profile`.
pub fn put(profile: &str, key_pem: &[u8]) -> Result<(), KeyringError> {
    entry(profile)?
        .set_secret(key_pem)
        .map_err(|e| map(profile, e))
}

/// Read the key of `profile` into memory.
pub fn get(profile: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    entry(profile)?
        .get_secret()
        .map(Zeroizing::new)
        .map_err(|e| map(profile, e))
}

/// Delete the key of `profile`; a missing entry is fine.
pub fn delete(profile: &str) -> Result<(), KeyringError> {
    match entry(profile)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(map(profile, e)),
    }
}
