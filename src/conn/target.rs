//! What the probe needs to reach one daemon, independent of where it came
//! from (a dctx profile or a Docker context dctx did not create).

use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Target {
    pub name: String,
    /// `tcp://host:port`, `unix:///path`, `https://…`.
    pub host: String,
    /// Whether TLS is expected (docker: DOCKER_TLS_VERIFY or TLS material present).
    pub tls: bool,
    /// docker's SkipTLSVerify: do not verify the server chain.
    pub skip_verify: bool,
    /// PEM; None with `tls` means the system roots.
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("tls", &self.tls)
            .field("skip_verify", &self.skip_verify)
            .field("ca", &self.ca_pem.is_some())
            .field("cert", &self.cert_pem.is_some())
            .field("key", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Target {
    /// The endpoint as a dialler reads it, and whether TLS is spoken.
    pub fn endpoint(&self) -> Result<(super::Endpoint, bool), super::EndpointError> {
        super::Endpoint::read(&self.host, self.tls)
    }
}

/// Re-reads a profile (its TLS files, and the key from wherever it is kept).
pub type Reload = std::sync::Arc<dyn Fn() -> Result<Target, String> + Send + Sync>;

/// A target whose material can change while dctx runs: with a reload, every
/// new connection re-reads it first (a renewed client cert or CA is picked up
/// without a restart; open connections keep theirs).
pub struct Source {
    current: std::sync::Mutex<Target>,
    reload: Option<Reload>,
}

impl Source {
    pub fn new(target: Target, reload: Option<Reload>) -> Self {
        Source {
            current: std::sync::Mutex::new(target),
            reload,
        }
    }

    /// The target as last read.
    pub fn current(&self) -> Target {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-read the target when there is a reload; the result either way.
    pub fn refresh(&self) -> Result<Target, String> {
        if let Some(reload) = &self.reload {
            let fresh = reload()?;
            *self.current.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        Ok(self.current())
    }
}
