//! `dctx pki …` arguments.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PkiArgs {
    #[command(subcommand)]
    pub command: PkiCommand,
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create the certificate authority.
    Init,
}
