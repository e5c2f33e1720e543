//! Where a profile's material comes from, when that place can issue it
//! again: a CSR signed by whoever runs the CA (`csr`), or an OpenBao /
//! Vault PKI engine (`vault`) that `renew` asks for a new certificate with
//! a new key. The record keeps the source and the renewal state, never a
//! token.

#[cfg(feature = "runtime")]
pub mod csr;
#[cfg(feature = "runtime")]
pub mod renew;
#[cfg(feature = "runtime")]
pub mod vault;

pub use crate::store::origin::{DEFAULT_BEFORE, Issuer, LocalSource, Origin, Renewal, VaultSource};
