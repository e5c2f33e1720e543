//! Certificates: inspection (used by import, `show` and the probe) and issuing.
pub mod backup;
pub mod crl;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod lint;
pub mod revoke;

pub use inspect::CertInfo;
