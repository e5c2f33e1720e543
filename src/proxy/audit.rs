//! `--log FILE`: one JSON line per request (time, method, path, status,
//! bytes each way, duration). Never headers, bodies or the query string
//! (`X-Registry-Auth` carries registry passwords; build args ride in the query).
//! A hijacked session (attach, exec) gets a line with `"session":"open"` when
//! it starts and one with `"session":"closed"` when it ends.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The open log (appended to, created 0600).
#[derive(Clone)]
pub struct Audit(Arc<Mutex<std::fs::File>>);

impl Audit {
    /// Open (or create 0600) the log; never through a symlink, and never a
    /// file another user owns or others may write (they could forge lines).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        let m = f.metadata()?;
        let refuse = |why: String| Err(std::io::Error::other(why));
        if !m.is_file() {
            return refuse("not a regular file".into());
        }
        let me = unsafe { libc::geteuid() };
        if m.uid() != me {
            return refuse(format!(
                "the file belongs to another user (uid {}); choose another --log",
                m.uid()
            ));
        }
        if m.mode() & 0o022 != 0 {
            return refuse(format!(
                "the file is writable by others (mode {:o}); chmod go-w it or choose another --log",
                m.mode() & 0o777
            ));
        }
        Ok(Audit(Arc::new(Mutex::new(f))))
    }
}

/// One request's line, written once when the exchange is over.
pub struct Record {
    audit: Audit,
    time: SystemTime,
    pub started: Instant,
    method: String,
    path: String,
    /// HTTP status returned to the client (0 before there is one).
    pub status: u16,
    /// Request body bytes (client → daemon).
    pub sent: Arc<AtomicU64>,
    /// Bytes after an upgrade (client → daemon).
    pub extra_sent: u64,
    /// Response bytes (daemon → client).
    pub received: u64,
}

impl Record {
    pub fn new(audit: Audit, method: &str, path: &str) -> Self {
        Record {
            audit,
            time: SystemTime::now(),
            started: Instant::now(),
            method: method.to_string(),
            path: path.to_string(),
            status: 0,
            sent: Arc::default(),
            extra_sent: 0,
            received: 0,
        }
    }

    pub fn write(self) {
        self.emit(None);
    }

    /// A hijacked session's line when it opens (bytes so far).
    pub fn write_session(&mut self, phase: &str) {
        self.emit(Some(phase));
    }

    /// A hijacked session's closing line, with the relayed bytes.
    pub fn close_session(mut self, up: u64, down: u64) {
        self.extra_sent = up;
        self.received = down;
        self.emit(Some("closed"));
    }

    fn emit(&self, session: Option<&str>) {
        let mut line = serde_json::json!({
            "time": rfc3339(self.time),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "bytes_in": self.sent.load(Ordering::Relaxed) + self.extra_sent,
            "bytes_out": self.received,
            "duration_ms": (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
        if let Some(phase) = session {
            line["session"] = phase.into();
        }
        let mut f = self.audit.0.lock().unwrap_or_else(|e| e.into_inner());
        // A full disk must not take the proxy down: the request already happened.
        let _ = writeln!(f, "{line}");
    }
}

fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    match time::OffsetDateTime::from_unix_timestamp(d.as_secs() as i64) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            dt.month() as u8,
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            d.subsec_millis()
        ),
        Err(_) => d.as_secs().to_string(),
    }
}
