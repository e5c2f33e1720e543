//! Certificates: inspection (used by import, `show` and the probe) and issuing.
pub mod backup;
pub mod daemon;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod lint;

pub use inspect::CertInfo;
