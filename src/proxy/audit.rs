//! `--log FILE`: one JSON line per request (time, method, path, status,
//! bytes each way, duration). Never headers, bodies or the query string
//! (`X-Registry-Auth` carries registry passwords; build args ride in the query).

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
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
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
        let line = serde_json::json!({
            "time": rfc3339(self.time),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "bytes_in": self.sent.load(Ordering::Relaxed) + self.extra_sent,
            "bytes_out": self.received,
            "duration_ms": (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
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
