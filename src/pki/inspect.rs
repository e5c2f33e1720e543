//! Certificate inspection: everything dctx needs to know about one X.509
//! certificate, parsed once into plain data so later layers never touch DER.

use serde::Serialize;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why a blob could not be inspected as a certificate.
#[derive(Debug, thiserror::Error)]
#[error("not an X.509 certificate: {0}")]
pub struct NotACert(pub String);

/// The facts about one certificate that import, `show` and the probe use.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub subject: String,
    /// Subject common name, if any (used as a display name).
    pub common_name: Option<String>,
    pub issuer: String,
    /// DNS and IP subject alternative names, in certificate order (`DNS:x`, `IP:1.2.3.4`).
    pub sans: Vec<String>,
    #[serde(skip)]
    pub dns_names: Vec<String>,
    #[serde(skip)]
    pub ip_addrs: Vec<std::net::IpAddr>,
    /// Whether a subjectAltName extension exists at all (CN-only certs lack it).
    #[serde(skip)]
    pub has_san_ext: bool,
    /// Extended key usages in words: `serverAuth`, `clientAuth`, `any`, or the OID.
    pub eku: Vec<String>,
    #[serde(skip)]
    pub has_eku_ext: bool,
    pub is_ca: bool,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    pub serial: String,
    pub sha256: String,
    /// Hex subject / authority key identifiers.
    pub ski: Option<String>,
    pub aki: Option<String>,
    pub key_type: String,
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    #[serde(skip)]
    pub der: Vec<u8>,
}

impl CertInfo {
    /// Parse DER; the error says why it is not a certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, NotACert> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| NotACert(e.to_string()))?;
        if !rest.is_empty() {
            return Err(NotACert("trailing bytes after the certificate".into()));
        }
        Ok(Self::from_parsed(&cert, der))
    }

    fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> Self {
        let Exts {
            sans,
            dns_names,
            ip_addrs,
            has_san_ext,
            eku,
            has_eku_ext,
            ski,
            aki,
        } = Exts::of(cert);
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let key_type = key_type_name(cert);
        Self {
            subject: cert.subject().to_string(),
            common_name,
            issuer: cert.issuer().to_string(),
            sans,
            dns_names,
            ip_addrs,
            has_san_ext,
            eku,
            has_eku_ext,
            is_ca: cert.is_ca(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            serial: cert.raw_serial_as_string(),
            sha256: fingerprint(der),
            ski,
            aki,
            key_type,
            spki_der: cert.public_key().raw.to_vec(),
            der: der.to_vec(),
        }
    }

    /// True when the cert may authenticate a TLS client (no EKU = any use).
    pub fn allows_client_auth(&self) -> bool {
        !self.has_eku_ext || self.eku.iter().any(|e| e == "clientAuth" || e == "any")
    }

    /// True when the cert may authenticate a TLS server (no EKU = any use).
    pub fn allows_server_auth(&self) -> bool {
        !self.has_eku_ext || self.eku.iter().any(|e| e == "serverAuth" || e == "any")
    }

    /// Whole days from `now` (unix seconds) until expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// Does `issuer` sign this certificate? (A real signature check, not a name match.)
    pub fn is_signed_by(&self, issuer: &CertInfo) -> bool {
        let Ok((_, me)) = X509Certificate::from_der(&self.der) else {
            return false;
        };
        let Ok((_, ca)) = X509Certificate::from_der(&issuer.der) else {
            return false;
        };
        me.issuer() == ca.subject() && me.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// Self-signed: issuer == subject and the signature verifies with its own key.
    pub fn is_self_signed(&self) -> bool {
        self.is_signed_by(self)
    }

    /// Display name: CN if present, else the whole subject.
    pub fn display_name(&self) -> &str {
        self.common_name.as_deref().unwrap_or(&self.subject)
    }

    /// RFC 3339 (UTC) form of `not_after`.
    pub fn not_after_rfc3339(&self) -> String {
        rfc3339(self.not_after)
    }

    /// RFC 3339 (UTC) form of `not_before`.
    pub fn not_before_rfc3339(&self) -> String {
        rfc3339(self.not_before)
    }
}

/// What `CertInfo` keeps of a certificate's extensions.
#[derive(Default)]
struct Exts {
    sans: Vec<String>,
    dns_names: Vec<String>,
    ip_addrs: Vec<std::net::IpAddr>,
    has_san_ext: bool,
    eku: Vec<String>,
    has_eku_ext: bool,
    ski: Option<String>,
    aki: Option<String>,
}

impl Exts {
    fn of(cert: &X509Certificate<'_>) -> Exts {
        let mut x = Exts::default();
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    x.has_san_ext = true;
                    x.add_sans(&san.general_names);
                }
                ParsedExtension::ExtendedKeyUsage(e) => {
                    x.has_eku_ext = true;
                    x.add_ekus(e);
                }
                ParsedExtension::SubjectKeyIdentifier(k) => x.ski = Some(hex::encode(k.0)),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    x.aki = a.key_identifier.as_ref().map(|k| hex::encode(k.0));
                }
                _ => {}
            }
        }
        x
    }

    fn add_sans(&mut self, names: &[GeneralName<'_>]) {
        for name in names {
            match name {
                GeneralName::DNSName(d) => {
                    self.sans.push(format!("DNS:{d}"));
                    self.dns_names.push(d.to_string());
                }
                GeneralName::IPAddress(raw) => {
                    if let Some(ip) = ip_from_bytes(raw) {
                        self.sans.push(format!("IP:{ip}"));
                        self.ip_addrs.push(ip);
                    }
                }
                GeneralName::RFC822Name(m) => self.sans.push(format!("email:{m}")),
                GeneralName::URI(u) => self.sans.push(format!("URI:{u}")),
                _ => {}
            }
        }
    }

    fn add_ekus(&mut self, e: &x509_parser::extensions::ExtendedKeyUsage<'_>) {
        for (set, name) in [
            (e.any, "any"),
            (e.server_auth, "serverAuth"),
            (e.client_auth, "clientAuth"),
            (e.code_signing, "codeSigning"),
            (e.email_protection, "emailProtection"),
        ] {
            if set {
                self.eku.push(name.into());
            }
        }
        for o in &e.other {
            self.eku.push(o.to_id_string());
        }
    }
}

/// Every certificate in a PEM buffer, in order; other blocks and
/// unparsable certificates are skipped (used for display, not validation).
pub fn certs_from_pem(pem_bytes: &[u8]) -> Vec<CertInfo> {
    pem::parse_many(pem_bytes)
        .unwrap_or_default()
        .iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .filter_map(|p| CertInfo::from_der(p.contents()).ok())
        .collect()
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// SHA-256 of DER as colon-free upper-case hex (what `openssl x509 -fingerprint -sha256` shows, minus colons).
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

fn ip_from_bytes(raw: &[u8]) -> Option<std::net::IpAddr> {
    match raw.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(raw).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(raw).ok()?)),
        _ => None,
    }
}

fn key_type_name(cert: &X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA-{}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => format!("EC-{}", ec.key_size()),
        Ok(PublicKey::Unknown(_)) | Err(_) => {
            let oid = cert.public_key().algorithm.algorithm.to_id_string();
            if oid == "1.3.101.112" {
                "Ed25519".into()
            } else {
                oid
            }
        }
        Ok(_) => "other".into(),
    }
}
