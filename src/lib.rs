//! dctx, the library: the domain (`targets`) over three stores (Docker's
//! context store, dctx's records, the OS keyring), bundle import, PKI,
//! probes and rendering. The command line (clap) lives in the binary only.
//!
//! bundle → targets (docker + store + keyring, transactions) →
//! {shell env, probe → report} → output

pub mod bundle;
pub mod docker;
pub mod environment;
pub mod exit;
pub mod harden;
pub mod output;
pub mod pki;
pub mod probe;
pub mod proxy;
pub mod session;
pub mod shell;
pub mod store;
pub mod targets;
