//! A one-line progress indicator on stderr while probes are outstanding
//! (only on a TTY; the caller decides). Its `\r\x1b[2K` is cursor
//! control, not colour: anstyle has no erase-line, and `--color`/NO_COLOR
//! do not govern it.

use std::io::Write;

pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress { enabled }
    }

    pub fn update(&self, done: usize, total: usize) {
        if self.enabled {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2Kprobing… {done}/{total}");
            let _ = e.flush();
        }
    }

    pub fn clear(&self) {
        if self.enabled {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }
}
