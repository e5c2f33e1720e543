//! How dctx ends: one value from every command to `main` (fd's
//! `exit_codes.rs` is the model). The codes are documented in the README
//! and `dctx --help`; the child's own code and a signal death pass through
//! `exec`/`shell` unchanged.

/// The outcome of a command, turned into the process's status in one place
/// (`cmd::execute`), which also re-raises a signal death.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: everything worked (for `check`: every target is ok or warn).
    Ok,
    /// 1: dctx itself failed: bad input, I/O error, invalid bundle…
    Error,
    /// 2: command-line usage error (clap's own code).
    Usage,
    /// 3: `check`/`doctor`: at least one target is in state `fail`.
    Unhealthy,
    /// 127: the program `exec`/`shell` was asked to run does not exist.
    NotFound,
    /// 126: it exists but cannot be executed.
    NotExecutable,
    /// The program `exec`/`shell` ran exited with this code.
    Child(u8),
    /// The program died of this signal: dctx dies of it too, after cleanup.
    Signal(i32),
}

impl Exit {
    /// The status a shell sees (a signal death reads as 128+N, as in sh).
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::Unhealthy => 3,
            Exit::NotExecutable => 126,
            Exit::NotFound => 127,
            Exit::Child(c) => c,
            Exit::Signal(s) => 128u8.wrapping_add(s as u8),
        }
    }

    /// `Unhealthy` when `failed`, else `Ok`: what check/doctor return.
    pub fn health(failed: bool) -> Exit {
        if failed { Exit::Unhealthy } else { Exit::Ok }
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn documented_codes() {
        let all = [
            (Exit::Ok, 0),
            (Exit::Error, 1),
            (Exit::Usage, 2),
            (Exit::Unhealthy, 3),
            (Exit::NotExecutable, 126),
            (Exit::NotFound, 127),
            (Exit::Child(42), 42),
            (Exit::Signal(15), 143),
        ];
        for (e, c) in all {
            assert_eq!(e.code(), c, "{e:?}");
        }
        assert_eq!(Exit::health(true), Exit::Unhealthy);
        assert_eq!(Exit::health(false), Exit::Ok);
    }
}
