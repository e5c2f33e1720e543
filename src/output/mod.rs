//! output

pub mod doctor;
pub mod health;
pub mod probe_json;
pub mod progress;
