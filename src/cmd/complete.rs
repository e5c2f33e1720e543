//! Candidates for dynamic completion: profile and context names, read from
//! disk without parsing any certificate or starting a runtime.

use clap_complete::engine::CompletionCandidate;

use crate::environment::Env;

pub fn profile_candidates() -> Vec<CompletionCandidate> {
    let env = Env::from_process();
    crate::cmd::ls::all_names(&env)
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}
