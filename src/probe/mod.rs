//! Probing a daemon: diagnosis handshake (rustls), API calls (bollard),
//! findings with stable codes. Only `check`/`doctor` start a runtime.

pub mod target;
pub use target::Target;
