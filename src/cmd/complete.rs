//! Candidates for dynamic completion: exactly the names each command
//! accepts, read from disk without parsing certificates or starting a runtime.

use clap_complete::engine::CompletionCandidate;

use crate::environment::Env;
use crate::targets::{Accepts, Targets};

pub fn candidates(accepts: Accepts, extra: &[&str]) -> Vec<CompletionCandidate> {
    let Ok(t) = Targets::from_env(&Env::from_process()) else {
        return Vec::new();
    };
    t.names(accepts)
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()))
        .map(CompletionCandidate::new)
        .collect()
}
