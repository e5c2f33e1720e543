//! Documented exit codes (also listed in the README and `dctx --help`).

use std::process::ExitCode;

/// Everything worked (for `check`: every profile is ok or warn).
pub const OK: u8 = 0;
/// dctx itself failed: bad input, I/O error, invalid bundle…
pub const ERROR: u8 = 1;
/// Command-line usage error (clap's own code).
pub const USAGE: u8 = 2;
/// `check`/`doctor`: at least one profile is in state `fail`.
pub const UNHEALTHY: u8 = 3;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
