//! dctx, the library: the domain (`targets`) over three stores (Docker's
//! context store, dctx's records, the OS keyring), bundle import, PKI,
//! probes and rendering. The command line (clap) lives in the binary only.
//!
//! bundle → targets (docker + store + keyring, transactions) →
//! {shell env, conn → probe → report} → output; proxy, session and
//! metrics reach daemons through conn too
//!
//! `text` (spellings, escapes, expiry words, colours) is a leaf every
//! other module may use; it uses none of them.

pub mod bundle;
#[cfg(feature = "runtime")]
pub mod conn;
pub mod docker;
#[cfg(feature = "runtime")]
pub mod dockerd;
pub mod env_vars;
pub mod environment;
pub mod exit;
pub mod harden;
#[cfg(feature = "runtime")]
pub mod output;
pub mod pki;
#[cfg(feature = "runtime")]
pub mod probe;
#[cfg(feature = "runtime")]
pub mod proxy;
pub mod routes;
#[cfg(feature = "runtime")]
pub mod session;
pub mod shell;
pub mod source;
pub mod store;
#[cfg(feature = "runtime")]
pub mod targets;
pub mod text;
