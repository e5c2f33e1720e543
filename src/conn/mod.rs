//! How a daemon is reached; the only place dctx connects to one (`probe`,
//! `proxy`, `session` and `metrics` come through here).
//!
//! - [`endpoint`]: the one `Endpoint` type (strict parse for writing, the
//!   lenient reading a dialler needs).
//! - [`target`]: what reaching one daemon takes (endpoint string + TLS
//!   material), and [`target::Source`], material that can be re-read so a
//!   renewed client cert or CA is used by the next connection.
//! - [`tls`]: the material parsed into rustls configs, with the recording
//!   verifier the probe diagnoses with.
//! - [`dial`]: tcp / TLS / unix connections, and the connector hyper's
//!   pooled client (the proxy) dials with.
//! - [`ssh`]: ssh:// through the system client's `docker system dial-stdio`.
//! - [`http`]: the pipelined HTTP/1.1 reader (the probe's one round trip),
//!   and [`docker`]: one bollard transport over a dial or any stream.

pub mod dial;
pub mod docker;
pub mod endpoint;
pub mod http;
pub mod ssh;
pub mod target;
pub mod tls;

pub use dial::{Dial, Stage, Watch};
pub use endpoint::{Endpoint, EndpointError};
pub use target::{Source, Target};

/// Unix seconds now (certificates are judged against it when dialling).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The first `T` in an error chain: along `source()`, and into the error an
/// `io::Error` wraps (hyper and tokio-rustls hide rustls's and our own
/// errors there, where `source()` does not look).
pub fn find_in_chain<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(t) = find_in_chain(inner)
        {
            return Some(t);
        }
        cur = err.source();
    }
    None
}
