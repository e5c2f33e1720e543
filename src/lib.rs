//! dctx: Docker TLS contexts. The data path runs one way:
//! bundle → store (profile) → {docker context, shell env} → probe → output.

pub mod bundle;
pub mod cli;
pub mod cmd;
pub mod docker;
pub mod environment;
pub mod exit;
pub mod output;
pub mod pki;
pub mod probe;
pub mod proxy;
pub mod shell;
pub mod store;
