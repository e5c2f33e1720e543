//! rustls plumbing: the profile's trust material, a recording server-cert
//! verifier (diagnosis mode lets the handshake continue past a bad chain so
//! client auth can be tested too), and a client-cert resolver that records
//! whether the server asked and which CAs it said it accepts.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::target::Target;
use crate::pki::CertInfo;

/// The one crypto provider dctx uses.
pub fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

fn native_roots() -> Arc<RootCertStore> {
    static R: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    R.get_or_init(|| {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        Arc::new(store)
    })
    .clone()
}

/// A profile's TLS material, parsed once.
pub struct Material {
    pub roots: Arc<RootCertStore>,
    /// The profile's CA certificates (empty when using the system roots).
    pub ca: Vec<CertInfo>,
    pub system_roots: bool,
    pub client: Option<Arc<CertifiedKey>>,
    pub client_info: Option<CertInfo>,
    /// DER of the client certificate's issuer Name (to compare with the
    /// server's acceptable-CA hints).
    pub client_issuer_der: Option<Vec<u8>>,
    /// The private key does not belong to the certificate.
    pub key_mismatch: bool,
}

/// Parse the target's PEM. `Err` is a plain-words reason (invalid-profile).
pub fn load_material(t: &Target) -> Result<Material, String> {
    let (roots, ca, system_roots) = match &t.ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the CA file is not valid PEM: {e}"))?;
            if certs.is_empty() {
                return Err("the CA file holds no certificate".into());
            }
            let mut store = RootCertStore::empty();
            let mut infos = Vec::new();
            for c in &certs {
                store
                    .add(c.clone())
                    .map_err(|e| format!("the CA certificate is unusable: {e}"))?;
                if let Ok(i) = CertInfo::from_der(c) {
                    infos.push(i);
                }
            }
            (Arc::new(store), infos, false)
        }
        None => (native_roots(), Vec::new(), true),
    };
    let mut m = Material {
        roots,
        ca,
        system_roots,
        client: None,
        client_info: None,
        client_issuer_der: None,
        key_mismatch: false,
    };
    if let Some(cert_pem) = &t.cert_pem {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the client certificate is not valid PEM: {e}"))?;
        let Some(leaf) = chain.first() else {
            return Err("the client certificate file holds no certificate".into());
        };
        let info = CertInfo::from_der(leaf).map_err(|e| format!("client certificate: {e}"))?;
        m.client_issuer_der = issuer_der(leaf);
        m.client_info = Some(info);
        let Some(key_pem) = &t.key_pem else {
            return Err("the profile has a client certificate but no key".into());
        };
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("the client key is not a usable PEM private key: {e}"))?;
        let signing = provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("the client key is not usable: {e}"))?;
        let ck = CertifiedKey::new(chain, signing);
        m.key_mismatch = matches!(
            ck.keys_match(),
            Err(rustls::Error::InconsistentKeys(
                rustls::InconsistentKeys::KeyMismatch
            ))
        );
        m.client = Some(Arc::new(ck));
    }
    Ok(m)
}

fn issuer_der(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, c) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    Some(c.issuer().as_raw().to_vec())
}

/// A DER Name → `CN=…, O=…` (or hex when unparsable).
pub fn name_to_string(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    match x509_parser::x509::X509Name::from_der(der) {
        Ok((_, n)) => n.to_string(),
        Err(_) => hex::encode(der),
    }
}

/// How the verifier answers rustls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Record the verdict and carry on (diagnosis only, never a success).
    Diagnose,
    /// Record and enforce.
    Strict,
    /// The profile says skip-verify: accept any chain.
    Insecure,
}

/// What one handshake revealed.
#[derive(Debug, Default)]
pub struct Observed {
    /// The presented chain, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// `None` after verification passed (or before it ran).
    pub verify_error: Option<rustls::Error>,
    pub verified: bool,
    /// Did the server send a CertificateRequest?
    pub client_cert_requested: bool,
    /// DER Names of the CAs the server said it accepts.
    pub acceptable_cas: Vec<Vec<u8>>,
    /// Did we answer with a certificate?
    pub client_cert_sent: bool,
}

pub type Observations = Arc<Mutex<Observed>>;

#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    mode: VerifyMode,
    now: UnixTime,
    obs: Observations,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Verify against the injected clock, so the verdict matches what
        // dctx reports about dates.
        let res = match &self.inner {
            Some(v) => v
                .verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    self.now,
                )
                .map(|_| ()),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        };
        {
            let mut o = self.obs.lock().unwrap();
            o.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.to_vec())
                .collect();
            o.verified = res.is_ok();
            o.verify_error = res.as_ref().err().cloned();
        }
        match (self.mode, res) {
            (VerifyMode::Strict, Err(e)) => Err(e),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

#[derive(Debug)]
struct RecordingResolver {
    key: Option<Arc<CertifiedKey>>,
    obs: Observations,
}

impl rustls::client::ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let mut o = self.obs.lock().unwrap();
        o.client_cert_requested = true;
        o.acceptable_cas = root_hint_subjects.iter().map(|h| h.to_vec()).collect();
        o.client_cert_sent = self.key.is_some();
        self.key.clone()
    }

    // Always true, so a CertificateRequest is observed even without a cert.
    fn has_certs(&self) -> bool {
        true
    }
}

/// A client config whose verifier and resolver record into `obs`.
pub fn client_config(
    m: Option<&Material>,
    mode: VerifyMode,
    now: i64,
    obs: Observations,
) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let inner = match m {
        Some(m) if !m.roots.is_empty() => Some(
            WebPkiServerVerifier::builder_with_provider(m.roots.clone(), provider.clone())
                .build()
                .map_err(|e| format!("cannot use the CA: {e}"))?,
        ),
        _ => None,
    };
    let verifier = RecordingVerifier {
        inner,
        mode,
        now: UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64)),
        obs: obs.clone(),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
    };
    let resolver = RecordingResolver {
        key: m.and_then(|m| m.client.clone()),
        obs,
    };
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(resolver));
    Ok(Arc::new(cfg))
}

/// The config a working connection uses: the target's material, verified
/// strictly against `now` (or not at all when the profile skips
/// verification), recording nothing.
pub fn working_config(t: &Target, now: i64) -> Result<Arc<ClientConfig>, String> {
    let m = load_material(t)?;
    let mode = if t.skip_verify {
        VerifyMode::Insecure
    } else {
        VerifyMode::Strict
    };
    client_config(Some(&m), mode, now, Default::default())
}

pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is neither a valid DNS name nor an IP address"))
}

/// Wraps a stream and keeps the first bytes the peer sent (to recognise a
/// plain-HTTP answer to our ClientHello).
pub struct Sniff<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

pub const SNIFF_LEN: usize = 64;

impl<S> Sniff<S> {
    pub fn new(inner: S) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (
            Sniff {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let mut seen = self.seen.lock().unwrap();
            if seen.len() < SNIFF_LEN {
                let new = &buf.filled()[before..];
                let take = new.len().min(SNIFF_LEN - seen.len());
                seen.extend_from_slice(&new[..take]);
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The rustls error inside an error chain (hyper → io::Error → rustls).
pub fn find_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    super::find_in_chain(e)
}

/// The io::Error inside an error chain.
pub fn find_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    super::find_in_chain(e)
}
