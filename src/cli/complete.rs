//! Candidates for dynamic completion: exactly the names each command
//! accepts, read from disk without parsing certificates or starting a runtime.
//! Part of the clap tree (the arguments name these functions), so `cli`
//! reaches no command module.

use clap_complete::engine::CompletionCandidate;

use crate::environment::Env;
use crate::targets::{Accepts, Targets};

fn candidates(accepts: Accepts, extra: &[&str]) -> Vec<CompletionCandidate> {
    let Ok(t) = Targets::from_env(&Env::from_process()) else {
        return Vec::new();
    };
    t.names(accepts)
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()))
        .map(CompletionCandidate::new)
        .collect()
}

pub(super) fn any_names() -> Vec<CompletionCandidate> {
    candidates(Accepts::Any, &[])
}
pub(super) fn use_names() -> Vec<CompletionCandidate> {
    candidates(Accepts::Contexts, &["-"])
}
pub(super) fn removable_names() -> Vec<CompletionCandidate> {
    candidates(Accepts::Removable, &[])
}
pub(super) fn profile_names() -> Vec<CompletionCandidate> {
    candidates(Accepts::Profiles, &[])
}
pub(super) fn foreign_names() -> Vec<CompletionCandidate> {
    candidates(Accepts::Foreign, &[])
}

pub(super) fn finding_codes() -> Vec<CompletionCandidate> {
    crate::probe::explain::ALL
        .iter()
        .map(|e| CompletionCandidate::new(e.code.as_str()).help(Some(e.summary.into())))
        .collect()
}
