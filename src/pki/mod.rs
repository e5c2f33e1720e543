//! Certificates: inspection (used by import, `show` and the probe) and issuing.
pub mod inspect;
pub mod keys;

pub use inspect::CertInfo;
