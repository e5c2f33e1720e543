//! `dctx help-man DIR`: one man page per command (dctx.1, dctx-check.1,
//! dctx-pki-server.1, …) from the clap definitions, exactly as committed
//! under man/ (a test holds them to the CLI, like completions/).

use std::path::Path;

use anyhow::Context;

use crate::cli::HelpManArgs;

/// (file name, roff) for the command and every visible subcommand, as
/// `clap_mangen::generate_to` names and renders them, but in memory.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), out);
        }
        let man = clap_mangen::Man::new(cmd);
        let mut roff = Vec::new();
        man.render(&mut roff)
            .expect("rendering into a Vec cannot fail");
        out.push((man.get_filename(), roff));
    }
    let mut cmd = crate::cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, &mut out);
    out.sort();
    out
}

pub fn run(args: HelpManArgs) -> anyhow::Result<crate::exit::Exit> {
    write_all(&args.dir)?;
    Ok(crate::exit::Exit::Ok)
}

fn write_all(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, roff) in pages() {
        let path = dir.join(&name);
        std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
