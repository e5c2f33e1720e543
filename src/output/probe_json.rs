//! JSON for `check --json` (an array) and `doctor --json` (one object).

use serde_json::Value;

use crate::probe::Report;

/// One report without the doctor steps.
pub fn check_value(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).expect("reports serialize");
    if let Some(o) = v.as_object_mut() {
        o.remove("steps");
    }
    v
}

/// `check --json`: an array, in the targets' order.
pub fn check(reports: &[Report]) -> String {
    let arr: Vec<Value> = reports.iter().map(check_value).collect();
    let mut s = serde_json::to_string_pretty(&arr).expect("json");
    s.push('\n');
    s
}

/// `doctor --json`: one object, steps included.
pub fn doctor(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("json");
    s.push('\n');
    s
}
