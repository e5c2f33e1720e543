//! Issuing: a small CA for Docker daemons and their clients, with the
//! classic hand-rolled-openssl mistakes made impossible by construction
//! (SANs always present and typed correctly, EKUs always set, CA marked as a
//! CA with keyUsage, leaves always signed by *this* CA).
//!
//! Layout of a PKI dir (default `<store>/pki`):
//!
//! ```text
//! pki/                      0700
//!   .lock
//!   ca.pem                  0644
//!   ca-key.pem              0600  (PKCS#8, optionally passphrase-encrypted)
//!   issued/<name>/          0700
//!     cert.pem              0644
//!     meta.json             0644
//! ```
//!
//! Nothing here prints or reads the process environment; passphrases are
//! handed in by the caller.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::pki::CertInfo;
use crate::store::atomic;

/// Default validity, days.
pub const DEFAULT_CA_DAYS: u32 = 3650;
pub const DEFAULT_LEAF_DAYS: u32 = 825;
/// Upper bound on --days (100 years), to catch typos.
pub const MAX_DAYS: u32 = 36_500;

/// PBKDF2-HMAC-SHA256 rounds for an encrypted CA key.
const PBKDF2_ROUNDS: u32 = 210_000;

const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// Key algorithms dctx issues (the CLI has its own clap mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 (default: small, fast, supported everywhere Docker runs).
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA 2048-bit.
    Rsa2048,
    /// RSA 4096-bit (slow to generate).
    Rsa4096,
}

impl KeyType {
    pub fn label(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa4096)
    }

    pub fn generate(self) -> anyhow::Result<KeyPair> {
        let key = match self {
            KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyType::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
            KeyType::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)
            }
        };
        key.with_context(|| format!("generating a {} key", self.label()))
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What an issued certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Server,
    Client,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Client => "client",
        }
    }
}

/// `issued/<name>/meta.json`: enough to list and to re-issue with the same names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedMeta {
    pub name: String,
    pub kind: Kind,
    /// Server: the hosts as given (normalised); client: `[CN]`.
    pub names: Vec<String>,
    pub key_type: KeyType,
    /// Upper-case hex, no colons (as `openssl x509 -serial` prints it).
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Requested validity, reused by `renew` unless --days is given.
    pub days: u32,
    pub sha256: String,
    /// Unix seconds.
    pub issued: i64,
    /// Where the files were written (for hints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
}

/// One freshly issued certificate and its key (PEM). The key never touches the PKI dir.
pub struct Issued {
    pub meta: IssuedMeta,
    pub cert_pem: String,
    pub key_pem: Zeroizing<String>,
    pub ca_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("meta", &self.meta)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A validated subjectAltName entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Dns(String),
    Ip(IpAddr),
}

impl Host {
    pub fn as_str(&self) -> String {
        match self {
            Host::Dns(d) => d.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    /// `DNS:x` / `IP:1.2.3.4`, as CertInfo lists SANs.
    pub fn san_label(&self) -> String {
        match self {
            Host::Dns(d) => format!("DNS:{d}"),
            Host::Ip(ip) => format!("IP:{ip}"),
        }
    }
}

/// Parse one `--host`: an IP becomes an IP SAN, a name a DNS SAN. Refuses
/// the classic mistakes with a hint.
pub fn parse_host(raw: &str) -> anyhow::Result<Host> {
    let s = raw.trim();
    if s.is_empty() {
        bail!("empty --host");
    }
    refuse_extfile_entry(raw, s)?;
    refuse_url(raw, s)?;
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        if ip.is_unspecified() {
            bail!(
                "--host {raw}: {ip} is a listen address (\"all interfaces\"), not an address a client can dial; \
                 clients verify the name or IP they connect to, so list the server's real IPs and DNS names \
                 (e.g. --host docker.example.com --host 192.168.0.10)"
            );
        }
        return Ok(Host::Ip(ip));
    }
    dns_name(raw, s).map(Host::Dns)
}

/// openssl-extfile habits: `IP:1.2.3.4`, `IP=1.2.3.4`, `DNS:x`, `DNS.1 = x`.
fn refuse_extfile_entry(raw: &str, s: &str) -> anyhow::Result<()> {
    let lower = s.to_ascii_lowercase();
    for prefix in ["ip", "dns", "ip address", "subjectaltname"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
            let rest = rest.trim_start();
            if rest.starts_with(':') || rest.starts_with('=') {
                let value = s[s.len() - rest.len() + 1..].trim();
                bail!(
                    "--host {raw:?} looks like an openssl extfile entry; write just the name or address \
                     (--host {value}): dctx makes an IP SAN for an address and a DNS SAN for a name by itself"
                );
            }
        }
    }
    Ok(())
}

fn refuse_url(raw: &str, s: &str) -> anyhow::Result<()> {
    if let Some((scheme, rest)) = s.split_once("://") {
        let host = rest
            .split(['/', ':'])
            .next()
            .filter(|h| !h.is_empty())
            .unwrap_or("HOST");
        bail!(
            "--host {raw:?} is a URL ({scheme}://…); give only the host name or IP address (--host {host}); \
             the port and scheme belong in DOCKER_HOST / --listen"
        );
    }
    Ok(())
}

/// `s` (not an IP address) as a lowercase DNS name without the trailing
/// dot, or why it is not one.
fn dns_name(raw: &str, s: &str) -> anyhow::Result<String> {
    if let Some((h, port)) = s.rsplit_once(':')
        && port.chars().all(|c| c.is_ascii_digit())
        && !h.contains(':')
    {
        bail!("--host {raw:?} contains a port; certificates name hosts, not ports (--host {h})");
    }
    if s.contains(',') || s.contains(char::is_whitespace) {
        bail!("--host {raw:?}: give one name per --host (repeat the flag)");
    }
    let name = s.trim_end_matches('.').to_ascii_lowercase();
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    let ok = name.len() <= 253
        && labels
            .iter()
            .enumerate()
            .all(|(i, l)| (i == 0 && *l == "*" && labels.len() > 2) || valid_label(l));
    if !ok {
        bail!(
            "--host {raw:?} is neither an IP address nor a valid DNS name \
             (letters, digits, '-' and '.', optionally a leading '*.' wildcard)"
        );
    }
    if name.parse::<IpAddr>().is_err()
        && labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        bail!("--host {raw:?} is not a valid IP address");
    }
    Ok(name)
}

/// Certificate names: used as CN and as the record's directory name.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    if !crate::store::is_simple_name(name, "_.@+-") || name.len() > 64 || name == "ca" {
        bail!(
            "invalid certificate name {:?}: use 1-64 letters, digits and _.@+- starting with a letter or digit (\"ca\" is reserved)",
            name.escape_debug().to_string()
        );
    }
    Ok(())
}

/// A leaf's subject, SANs, usages, serial and validity (capped at the CA's).
fn leaf_params(ca: &Ca, req: &LeafRequest, now: i64) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::default();
    match req.kind {
        Kind::Server => server_identity(req, &mut p)?,
        Kind::Client => {
            p.distinguished_name = dn(&req.name);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }
    p.key_usages = if req.key_type.is_rsa() {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    };
    // No basicConstraints at all: an explicit `cA FALSE` encodes the DER
    // default, which strict DER parsers (Python's cryptography) refuse.
    p.is_ca = IsCa::NoCa;
    p.use_authority_key_identifier_extension = true;
    p.not_before = datetime(now - BACKDATE_SECS)?;
    let mut not_after = now + i64::from(req.days) * 86_400;
    if not_after > ca.info.not_after {
        // Never outlive the CA: clients would reject the chain anyway.
        not_after = ca.info.not_after;
    }
    p.not_after = datetime(not_after)?;
    p.serial_number = Some(random_serial()?);
    Ok(p)
}

/// A server certificate's CN, SANs (one per `--host`) and serverAuth EKU.
fn server_identity(req: &LeafRequest, p: &mut CertificateParams) -> anyhow::Result<()> {
    if req.hosts.is_empty() {
        bail!(
            "a server certificate needs at least one --host (DNS name or IP clients use to reach the daemon)"
        );
    }
    // CN: the first DNS name (an IP as CN is a classic mistake), else the record name.
    let cn = req
        .hosts
        .iter()
        .find_map(|h| match h {
            Host::Dns(d) => Some(d.clone()),
            Host::Ip(_) => None,
        })
        .unwrap_or_else(|| req.name.clone());
    p.distinguished_name = dn(&cn);
    p.subject_alt_names = req
        .hosts
        .iter()
        .map(|h| {
            Ok(match h {
                Host::Dns(d) => SanType::DnsName(
                    d.clone()
                        .try_into()
                        .map_err(|_| anyhow::anyhow!("invalid DNS name {d:?}"))?,
                ),
                Host::Ip(ip) => SanType::IpAddress(*ip),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(())
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// CA: CA:TRUE (critical, pathlen 0: it signs leaves only), keyCertSign +
/// cRLSign, subject key identifier (rcgen adds it for CAs).
fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn random_serial() -> anyhow::Result<SerialNumber> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("system RNG failure"))?;
    // Positive and exactly 16 bytes long.
    b[0] = (b[0] & 0x7f) | 0x10;
    Ok(SerialNumber::from_slice(&b))
}

fn datetime(ts: i64) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(ts).context("time out of range")
}

fn check_days(days: u32) -> anyhow::Result<()> {
    if days == 0 || days > MAX_DAYS {
        bail!("--days must be between 1 and {MAX_DAYS}");
    }
    Ok(())
}

/// Backdate not_before a little so a daemon whose clock is slightly behind accepts new certs.
const BACKDATE_SECS: i64 = 3600;

/// The PKI directory and its files.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
}

/// The loaded CA, ready to sign.
pub struct Ca {
    pub cert_pem: String,
    pub info: CertInfo,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// The signer (for CRLs, see `pki::crl`).
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

impl Pki {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn ca_key_path(&self) -> PathBuf {
        self.dir.join("ca-key.pem")
    }

    pub fn issued_dir(&self) -> PathBuf {
        self.dir.join("issued")
    }

    pub fn record_dir(&self, name: &str) -> PathBuf {
        self.issued_dir().join(name)
    }

    pub fn has_ca(&self) -> bool {
        self.ca_cert_path().exists() || self.ca_key_path().exists()
    }

    /// Exclusive lock over the PKI dir (creating the dir, 0700).
    pub fn lock(&self) -> anyhow::Result<atomic::Lock> {
        atomic::create_dir(&self.dir, atomic::PRIVATE_DIR)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        atomic::Lock::acquire(&self.dir.join(".lock"))
            .with_context(|| format!("locking {}", self.dir.display()))
    }

    /// Is the CA key stored passphrase-encrypted?
    pub fn ca_key_encrypted(&self) -> anyhow::Result<bool> {
        let data = read(&self.ca_key_path())?;
        let text = String::from_utf8_lossy(&data);
        Ok(text.contains(ENCRYPTED_LABEL) || text.contains("Proc-Type: 4,ENCRYPTED"))
    }

    /// Create the CA. Refuses to replace an existing one unless `force`, in
    /// which case the old files are kept as `*.bak-<now>[-N]` (never overwritten). Caller holds the lock.
    pub fn init(
        &self,
        opts: &InitOptions,
        passphrase: Option<&str>,
        now: i64,
    ) -> anyhow::Result<CertInfo> {
        check_days(opts.days)?;
        if self.has_ca() {
            if !opts.force {
                bail!(
                    "a CA already exists in {} (refusing to overwrite it: certificates it signed would stop verifying); \
                     pass --force to replace it (the old files are kept as .bak)",
                    self.dir.display()
                );
            }
            // Copies, not renames: the originals stay until the new CA is
            // written over them, and a backup never replaces an older one.
            for p in [self.ca_cert_path(), self.ca_key_path()] {
                if p.exists() {
                    super::backup::backup(&p, now)
                        .with_context(|| format!("backing up {}", p.display()))?;
                }
            }
        }
        let key = opts.key_type.generate()?;
        let mut p = ca_params(&opts.common_name);
        p.not_before = datetime(now - BACKDATE_SECS)?;
        p.not_after = datetime(now + i64::from(opts.days) * 86_400)?;
        p.serial_number = Some(random_serial()?);
        let cert = p.self_signed(&key).context("signing the CA certificate")?;
        let key_pem = encode_key(&key, passphrase)?;
        atomic::create_dir(&self.dir, atomic::PRIVATE_DIR)?;
        // Key first: a ca.pem without its key is useless, the reverse is detectable.
        atomic::write(
            &self.ca_key_path(),
            key_pem.as_bytes(),
            atomic::PRIVATE_FILE,
        )
        .with_context(|| format!("writing {}", self.ca_key_path().display()))?;
        atomic::write(
            &self.ca_cert_path(),
            cert.pem().as_bytes(),
            atomic::PUBLIC_FILE,
        )
        .with_context(|| format!("writing {}", self.ca_cert_path().display()))?;
        Ok(CertInfo::from_der(cert.der())?)
    }

    /// Read ca.pem (no key).
    pub fn ca_cert(&self) -> anyhow::Result<(String, CertInfo)> {
        let path = self.ca_cert_path();
        let data = fs::read_to_string(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow::anyhow!(
                "no CA in {} (create one with `dctx pki init`, or sign with the CA you already have: \
                 `dctx pki --dir DIR …` where DIR holds its certificate as ca.pem and its key as ca-key.pem, \
                 e.g. the directory of Docker's openssl guide; an encrypted key is asked for)",
                self.dir.display()
            ),
            _ => anyhow::Error::new(e).context(format!("reading {}", path.display())),
        })?;
        let der = pem::parse(&data)
            .with_context(|| format!("{} is not PEM", path.display()))?
            .into_contents();
        let info = CertInfo::from_der(&der).with_context(|| path.display().to_string())?;
        Ok((data, info))
    }

    /// Load the CA with its key; `passphrase` is asked for only when the key is encrypted.
    pub fn load_ca(
        &self,
        passphrase: &mut dyn FnMut() -> anyhow::Result<Zeroizing<String>>,
    ) -> anyhow::Result<Ca> {
        let (cert_pem, info) = self.ca_cert()?;
        if !info.is_ca {
            bail!("{} is not a CA certificate", self.ca_cert_path().display());
        }
        let key_path = self.ca_key_path();
        let key_data = Zeroizing::new(read(&key_path)?);
        let parsed = pem::parse(&key_data[..])
            .with_context(|| format!("{} is not a PEM private key", key_path.display()))?;
        let der: Zeroizing<Vec<u8>> = if parsed.tag() == ENCRYPTED_LABEL {
            let pw = passphrase()?;
            let enc = pkcs8::EncryptedPrivateKeyInfoRef::try_from(parsed.contents())
                .with_context(|| format!("{} is corrupt", key_path.display()))?;
            let doc = enc.decrypt(pw.as_bytes()).map_err(|_| {
                anyhow::anyhow!("wrong passphrase for the CA key ({})", key_path.display())
            })?;
            Zeroizing::new(doc.as_bytes().to_vec())
        } else if let Some(dek) = parsed
            .headers()
            .get("Proc-Type")
            .filter(|v| v.contains("ENCRYPTED"))
            .and(parsed.headers().get("DEK-Info"))
        {
            // OpenSSL's legacy form (`openssl genrsa -aes256` on 1.1, or
            // `-traditional`): the same decryption `dctx add` uses.
            let format = match parsed.tag() {
                "RSA PRIVATE KEY" => crate::pki::keys::KeyFormat::Pkcs1,
                "EC PRIVATE KEY" => crate::pki::keys::KeyFormat::Sec1,
                _ => crate::pki::keys::KeyFormat::Pkcs8,
            };
            let pw = passphrase()?;
            let key = crate::pki::keys::PrivateKey::from_legacy_encrypted(
                parsed.contents(),
                format,
                dek,
                &pw,
            )
            .map_err(|e| {
                anyhow::anyhow!("cannot decrypt the CA key {}: {e}", key_path.display())
            })?;
            Zeroizing::new(key.der().to_vec())
        } else {
            Zeroizing::new(parsed.contents().to_vec())
        };
        let key = KeyPair::try_from(&der[..]).map_err(|_| {
            anyhow::anyhow!(
                "cannot read the CA key {} (wrong passphrase or corrupt file)",
                key_path.display()
            )
        })?;
        if key.subject_public_key_info() != info.spki_der {
            bail!(
                "{} does not belong to {} (different public key)",
                key_path.display(),
                self.ca_cert_path().display()
            );
        }
        let issuer =
            Issuer::from_ca_cert_pem(&cert_pem, key).context("reading the CA certificate")?;
        Ok(Ca {
            cert_pem,
            info,
            issuer,
        })
    }

    /// Re-sign the CA certificate with the same subject and key (so everything
    /// it issued keeps verifying), a new serial and a new validity. The old
    /// ca.pem is kept as `ca.pem.bak-<now>[-N]`. Caller holds the lock.
    pub fn renew_ca(&self, ca: &Ca, days: u32, now: i64) -> anyhow::Result<CertInfo> {
        check_days(days)?;
        let Some(cn) = ca.info.common_name.clone() else {
            bail!("the CA certificate has no common name; it was not created by dctx");
        };
        let mut p = ca_params(&cn);
        p.not_before = datetime(now - BACKDATE_SECS)?;
        p.not_after = datetime(now + i64::from(days) * 86_400)?;
        p.serial_number = Some(random_serial()?);
        let cert = p
            .self_signed(ca.issuer.key())
            .context("signing the CA certificate")?;
        let info = CertInfo::from_der(cert.der())?;
        if info.subject != ca.info.subject || info.ski != ca.info.ski {
            bail!(
                "cannot renew this CA in place (its subject is not one dctx creates); \
                 `dctx pki init --force` makes a new one"
            );
        }
        let path = self.ca_cert_path();
        super::backup::backup(&path, now)
            .with_context(|| format!("backing up {}", path.display()))?;
        atomic::write(&path, cert.pem().as_bytes(), atomic::PUBLIC_FILE)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(info)
    }

    /// Issue a server or client certificate signed by `ca` and record it.
    /// Caller holds the lock.
    pub fn issue(&self, ca: &Ca, req: &LeafRequest, now: i64) -> anyhow::Result<Issued> {
        validate_name(&req.name)?;
        check_days(req.days)?;
        let p = leaf_params(ca, req, now)?;
        let key = req.key_type.generate()?;
        let cert = p
            .signed_by(&key, &ca.issuer)
            .context("signing the certificate")?;
        let info = CertInfo::from_der(cert.der())?;
        let names = match req.kind {
            Kind::Server => req.hosts.iter().map(Host::as_str).collect(),
            Kind::Client => vec![req.name.clone()],
        };
        let meta = IssuedMeta {
            name: req.name.clone(),
            kind: req.kind,
            names,
            key_type: req.key_type,
            serial: info.serial.replace(':', "").to_ascii_uppercase(),
            not_before: info.not_before,
            not_after: info.not_after,
            days: req.days,
            sha256: info.sha256.clone(),
            issued: now,
            out: None,
        };
        let issued = Issued {
            meta,
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            ca_pem: ca.cert_pem.clone(),
        };
        Ok(issued)
    }

    /// Write `issued/<name>/{cert.pem,meta.json}`.
    pub fn record(&self, issued: &Issued) -> anyhow::Result<()> {
        let dir = self.record_dir(&issued.meta.name);
        atomic::create_dir(&dir, atomic::PRIVATE_DIR)?;
        atomic::write(
            &dir.join("cert.pem"),
            issued.cert_pem.as_bytes(),
            atomic::PUBLIC_FILE,
        )?;
        let json = serde_json::to_vec_pretty(&issued.meta)?;
        atomic::write(&dir.join("meta.json"), &json, atomic::PUBLIC_FILE)?;
        Ok(())
    }

    pub fn load_record(&self, name: &str) -> anyhow::Result<IssuedMeta> {
        validate_name(name)?;
        let path = self.record_dir(name).join("meta.json");
        let data = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow::anyhow!(
                "no certificate named {name:?} was issued from {} (see `dctx pki ls`)",
                self.dir.display()
            ),
            _ => anyhow::Error::new(e).context(format!("reading {}", path.display())),
        })?;
        serde_json::from_slice(&data).with_context(|| format!("{} is corrupt", path.display()))
    }

    /// Every record, sorted by name.
    pub fn records(&self) -> anyhow::Result<Vec<IssuedMeta>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(self.issued_dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for e in rd.flatten() {
            if e.path().join("meta.json").is_file()
                && let Some(name) = e.file_name().to_str()
            {
                out.push(self.load_record(name)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => anyhow::anyhow!(
            "{} is missing (create a CA with `dctx pki init`)",
            path.display()
        ),
        _ => anyhow::Error::new(e).context(format!("reading {}", path.display())),
    })
}

/// PKCS#8 PEM, encrypted (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC) when a passphrase is given.
fn encode_key(key: &KeyPair, passphrase: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    let Some(pw) = passphrase else {
        return Ok(Zeroizing::new(key.serialize_pem()));
    };
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| anyhow::anyhow!("system RNG failure"))?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| anyhow::anyhow!("system RNG failure"))?;
    let params =
        pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, iv)
            .map_err(|e| anyhow::anyhow!("PBES2 parameters: {e}"))?;
    let info = pkcs8::PrivateKeyInfoRef::try_from(key.serialized_der())
        .map_err(|e| anyhow::anyhow!("PKCS#8: {e}"))?;
    let doc = info
        .encrypt_with_params(params, pw.as_bytes())
        .map_err(|e| anyhow::anyhow!("encrypting the CA key: {e}"))?;
    Ok(Zeroizing::new(pem::encode(&pem::Pem::new(
        ENCRYPTED_LABEL,
        doc.as_bytes().to_vec(),
    ))))
}

#[derive(Debug, Clone)]
pub struct InitOptions {
    pub common_name: String,
    pub key_type: KeyType,
    pub days: u32,
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct LeafRequest {
    pub name: String,
    pub kind: Kind,
    /// Server only.
    pub hosts: Vec<Host>,
    pub key_type: KeyType,
    pub days: u32,
}

/// Client bundle as a tar: ca.pem, cert.pem (0644) and key.pem (0600), the
/// layout DOCKER_CERT_PATH and `dctx add --bundle` expect. gzip when `gz`.
pub fn client_tar(issued: &Issued, now: i64, gz: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("ca.pem", issued.ca_pem.as_bytes(), 0o644),
        ("cert.pem", issued.cert_pem.as_bytes(), 0o644),
        ("key.pem", issued.key_pem.as_bytes(), 0o600),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(now.max(0) as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, data)?;
    }
    let raw = Zeroizing::new(b.into_inner()?);
    if !gz {
        return Ok(raw);
    }
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw)?;
    Ok(Zeroizing::new(enc.finish()?))
}

/// PKCS#12 (AES-256-CBC / PBKDF2-SHA256, HMAC-SHA256 MAC) with the key,
/// the client cert and the CA cert, for browsers and keychains.
pub fn client_p12(issued: &Issued, password: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let cert_der = pem::parse(&issued.cert_pem)?.into_contents();
    let ca_der = pem::parse(&issued.ca_pem)?.into_contents();
    let key_der = Zeroizing::new(pem::parse(issued.key_pem.as_bytes())?.into_contents());
    let key = PrivateKey::from_der(&key_der).map_err(|e| anyhow::anyhow!("PKCS#12 key: {e}"))?;
    let cert =
        Certificate::from_der(&cert_der).map_err(|e| anyhow::anyhow!("PKCS#12 cert: {e}"))?;
    let ca = Certificate::from_der(&ca_der).map_err(|e| anyhow::anyhow!("PKCS#12 CA: {e}"))?;
    let local_id =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert_der).as_ref()[..20].to_vec();
    let chain = PrivateKeyChain::new(local_id, key, [cert, ca]);
    let mut ks = KeyStore::new();
    ks.add_entry(&issued.meta.name, KeyStoreEntry::PrivateKeyChain(chain));
    let out = ks
        .writer(password)
        .write()
        .map_err(|e| anyhow::anyhow!("writing PKCS#12: {e}"))?;
    Ok(Zeroizing::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("192.168.0.10").unwrap(),
            Host::Ip("192.168.0.10".parse().unwrap())
        );
        assert_eq!(
            parse_host("[::1]").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            parse_host("Docker.Example.com.").unwrap(),
            Host::Dns("docker.example.com".into())
        );
        assert_eq!(
            parse_host("*.example.com").unwrap(),
            Host::Dns("*.example.com".into())
        );
        for bad in [
            "0.0.0.0",
            "::",
            "IP=1.2.3.4",
            "IP:1.2.3.4",
            "DNS:x",
            "dns.1 = x",
            "tcp://h:2376",
            "h:2376",
            "a b",
            "-x",
            "1.2.3.400",
            "",
        ] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
        let e = parse_host("IP=1.2.3.4").unwrap_err().to_string();
        assert!(e.contains("--host 1.2.3.4"), "{e}");
    }

    #[test]
    fn names() {
        validate_name("alice").unwrap();
        validate_name("alice@laptop").unwrap();
        for bad in ["", "ca", "../x", "a/b", ".x"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
