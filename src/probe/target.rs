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
