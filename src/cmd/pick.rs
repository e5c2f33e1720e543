//! `dctx use` without a name on a terminal: a fuzzy picker over the names
//! `use` accepts, each with its endpoint and mode, the current one marked.
//! Enter switches; Esc (or Ctrl-C) leaves everything as it was.

use crate::targets::{Accepts, Targets};

pub fn run(t: &Targets) -> anyhow::Result<crate::exit::Exit> {
    let names = t.names(Accepts::Contexts);
    let (current, _) = t.current();
    let entries: Vec<_> = names.iter().filter_map(|n| t.entry(n).ok()).collect();
    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} {:width$}  {}  ({})",
                if e.name == current { "*" } else { " " },
                crate::output::sanitize(&e.name),
                crate::output::sanitize(&e.endpoint),
                e.mode.label()
            )
        })
        .collect();
    let start = entries.iter().position(|e| e.name == current).unwrap_or(0);
    let picked = dialoguer::FuzzySelect::with_theme(&dialoguer::theme::ColorfulTheme::default())
        .with_prompt("docker context")
        .items(&items)
        .default(start)
        .interact_opt()?;
    let Some(i) = picked else {
        eprintln!("dctx: nothing changed");
        return Ok(crate::exit::Exit::Ok);
    };
    let (now, was) = t.use_context(&entries[i].name)?;
    if now == was {
        super::print(&format!("Current context is already {now:?}\n"))?;
    } else {
        super::print(&format!("Current context is now {now:?} (was {was:?})\n"))?;
    }
    Ok(crate::exit::Exit::Ok)
}
