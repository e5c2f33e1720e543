//! Passphrases for `add` and `pki`: from a terminal prompt (never echoed)
//! or, with `--password-stdin`, one per line from stdin; never an argument.

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use zeroize::Zeroizing;

/// Passphrases: from the terminal (never echoed), or one per line from stdin.
pub struct Secrets {
    stdin: bool,
    lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
    line: usize,
}

impl Secrets {
    pub fn new(stdin: bool) -> Self {
        Self {
            stdin,
            lines: None,
            line: 0,
        }
    }

    /// Ask for `what`; `confirm` asks twice on a terminal (new passphrases).
    pub fn ask(&mut self, what: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
        let pw = if self.stdin {
            self.line += 1;
            let lines = self
                .lines
                .get_or_insert_with(|| std::io::stdin().lock().lines());
            match lines.next() {
                Some(Ok(l)) => Zeroizing::new(l.trim_end_matches('\r').to_string()),
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading stdin")),
                None => bail!(
                    "--password-stdin: expected the {what} on line {} of stdin",
                    self.line
                ),
            }
        } else if !std::io::stdin().is_terminal() {
            bail!("{what} needed but stdin is not a terminal: pipe it with --password-stdin");
        } else {
            let ask = |prompt: String| {
                rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot ask for the {what} on a terminal ({e}); pipe it with --password-stdin"
                    )
                })
            };
            let pw = ask(format!("{what}: "))?;
            if confirm {
                let again = ask(format!("{what} (again): "))?;
                if *again != *pw {
                    bail!("the two entries do not match");
                }
            }
            pw
        };
        if pw.is_empty() {
            bail!("empty {what}");
        }
        Ok(pw)
    }
}
