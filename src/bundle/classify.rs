//! Identify every object in a bundle by content: PEM blocks (several per
//! file), bare DER certificates/keys, PKCS#12 archives, and the JSON files
//! that carry the endpoint (docker export meta.json, docker-machine
//! config.json). File names are only used in messages.

use base64::Engine;
use zeroize::Zeroizing;

use super::archive::Entry;
use super::{BundleError, PassphraseFn};
use crate::pki::CertInfo;
use crate::pki::keys::{KeyError, KeyFormat, PrivateKey};

/// Everything recognised in a bundle, each object with the file it came from.
#[derive(Default)]
pub struct Found {
    pub certs: Vec<(CertInfo, String)>,
    pub keys: Vec<(PrivateKey, String)>,
    /// Keys present but unusable (unsupported algorithm/size): kept for hints.
    pub unusable_keys: Vec<String>,
    pub host: Option<(String, String)>,
    pub skip_verify: Option<bool>,
    pub notes: Vec<String>,
    /// Non-fatal problems met while reading (a skipped encrypted key).
    pub warnings: Vec<String>,
    /// Encrypted keys, decrypted only if the client key may be among them
    /// (`settle_encrypted`): a CA's passphrase is never asked for nothing.
    pub encrypted: Vec<Encrypted>,
}

/// A private key still under its passphrase.
pub struct Encrypted {
    pub file: String,
    der: Zeroizing<Vec<u8>>,
    /// Legacy `Proc-Type: 4,ENCRYPTED` PEM: its format and DEK-Info; None:
    /// an encrypted PKCS#8.
    legacy: Option<(KeyFormat, String)>,
}

impl Encrypted {
    fn decrypt(&self, pw: &str) -> Result<PrivateKey, KeyError> {
        match &self.legacy {
            Some((format, dek)) => PrivateKey::from_legacy_encrypted(&self.der, *format, dek, pw),
            None => PrivateKey::from_encrypted_pkcs8(&self.der, pw),
        }
    }
}

impl Found {
    /// Did anything in the bundle look like TLS material or an endpoint?
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
            && self.keys.is_empty()
            && self.unusable_keys.is_empty()
            && self.encrypted.is_empty()
            && self.host.is_none()
    }

    /// A certificate usable for client auth with its key at hand.
    fn has_client_pair(&self) -> bool {
        self.certs.iter().any(|(c, _)| {
            !c.is_ca
                && c.allows_client_auth()
                && self.keys.iter().any(|(k, _)| k.spki_der == c.spki_der)
        })
    }

    /// A leaf certificate whose key is not (yet) at hand.
    fn has_keyless_leaf(&self) -> bool {
        self.certs
            .iter()
            .any(|(c, _)| !c.is_ca && !self.keys.iter().any(|(k, _)| k.spki_der == c.spki_der))
    }
}

/// Decrypt the encrypted keys only while the client key may be among them:
/// no client certificate has its key yet, and one still lacks it (or the
/// source holds no certificate at all). The rest are skipped with a
/// warning, their passphrase never asked: a client's holder often does not
/// have the CA's. A key that does not unlock fails the import only when no
/// client identity was found without it.
pub fn settle_encrypted(asker: &mut Asker, found: &mut Found) -> Result<(), BundleError> {
    let mut pending = std::mem::take(&mut found.encrypted);
    // Names that say CA or server are tried last (file names only order the tries).
    pending.sort_by_key(|e| {
        let base = e
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&e.file)
            .to_ascii_lowercase();
        base.starts_with("ca") || base.contains("server")
    });
    let mut failed: Option<(String, BundleError)> = None;
    let mut skipped = Vec::new();
    for enc in pending {
        let needed =
            !found.has_client_pair() && (found.certs.is_empty() || found.has_keyless_leaf());
        if !needed {
            skipped.push(enc.file);
            continue;
        }
        match asker.unlock(&enc.file, None, |pw| enc.decrypt(pw)) {
            Ok(k) => found.keys.push((k, enc.file)),
            Err(e) => {
                if failed.is_none() {
                    failed = Some((enc.file, e));
                } else {
                    skipped.push(enc.file);
                }
            }
        }
    }
    if let Some((file, e)) = failed {
        if !found.has_client_pair() {
            return Err(e);
        }
        skipped.push(file);
    }
    for file in skipped {
        found.warnings.push(format!(
            "skipped the encrypted private key in {file}: it is not the client key (no passphrase used); if it is a CA key, keep it off client machines: whoever holds it can issue certificates"
        ));
    }
    Ok(())
}

/// Asks for passphrases only when an encrypted object is met, and reuses a
/// passphrase that already worked (one prompt for key.pem + bundle.p12).
pub struct Asker<'p, 'a> {
    ask: &'p mut PassphraseFn<'a>,
    known: Vec<Zeroizing<String>>,
}

impl<'p, 'a> Asker<'p, 'a> {
    pub fn new(ask: &'p mut PassphraseFn<'a>) -> Self {
        Self {
            ask,
            known: Vec::new(),
        }
    }

    /// Run `attempt` with known passphrases (plus `first`), then with a
    /// freshly asked one. Errors other than "wrong passphrase" stop at once.
    fn unlock<T>(
        &mut self,
        what: &str,
        first: Option<&str>,
        mut attempt: impl FnMut(&str) -> Result<T, KeyError>,
    ) -> Result<T, BundleError> {
        let bad = |e: KeyError| BundleError::BadKey {
            file: what.into(),
            detail: e.to_string(),
        };
        let tries = first
            .into_iter()
            .chain(self.known.iter().map(|s| s.as_str()));
        for pw in tries {
            match attempt(pw) {
                Ok(v) => return Ok(v),
                Err(KeyError::WrongPassphrase) => {}
                Err(e) => return Err(bad(e)),
            }
        }
        let pw = (self.ask)(what)?;
        match attempt(&pw) {
            Ok(v) => {
                self.known.push(pw);
                Ok(v)
            }
            Err(KeyError::WrongPassphrase) => {
                Err(BundleError::WrongPassphrase { file: what.into() })
            }
            Err(e) => Err(bad(e)),
        }
    }
}

/// Classify one file; fatal problems (bad PEM, bad DER, wrong passphrase)
/// are errors, harmless non-TLS files become notes.
pub fn classify(entry: &Entry, asker: &mut Asker, found: &mut Found) -> Result<(), BundleError> {
    let data = &entry.data[..];
    let file = entry.name.as_str();
    if contains(data, b"-----BEGIN ") {
        return classify_pem(data, file, found);
    }
    if looks_like_pfx(data) {
        return classify_p12(data, file, asker, found);
    }
    if data.first() == Some(&0x30) && der_len(data) == Some(data.len()) {
        return classify_der(data, file, found);
    }
    let text = String::from_utf8_lossy(data);
    if text.trim_start().starts_with('{')
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        && endpoint_from_json(&json, file, found)
    {
        return Ok(());
    }
    if !data.is_empty() {
        found
            .notes
            .push(format!("skipped {file} (not TLS material)"));
    }
    Ok(())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of the first DER TLV (header + content), if well-formed.
pub fn der_len(data: &[u8]) -> Option<usize> {
    der_header(data)
        .and_then(|(hdr, len)| hdr.checked_add(len))
        .filter(|&n| n <= data.len())
}

/// (header length, content length) of the TLV at the start of `data`.
fn der_header(data: &[u8]) -> Option<(usize, usize)> {
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some((2, first as usize));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for &b in data.get(2..2 + n)? {
        len = (len << 8) | b as usize;
    }
    Some((2 + n, len))
}

/// PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo(data|signedData), ... }
pub fn looks_like_pfx(data: &[u8]) -> bool {
    const OID_PKCS7: [u8; 10] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07];
    if data.first() != Some(&0x30) || der_len(data) != Some(data.len()) {
        return false;
    }
    let Some((h, _)) = der_header(data) else {
        return false;
    };
    let rest = &data[h..];
    if !rest.starts_with(&[0x02, 0x01, 0x03, 0x30]) {
        return false;
    }
    let ci = &rest[3..];
    let Some((h2, _)) = der_header(ci) else {
        return false;
    };
    ci.get(h2..).is_some_and(|c| c.starts_with(&OID_PKCS7))
}

struct Block<'d> {
    label: &'d str,
    headers: Vec<(&'d str, &'d str)>,
    der: Zeroizing<Vec<u8>>,
}

/// Minimal linear PEM scanner: tolerates text around blocks (e.g. the
/// output of `openssl x509 -text`), keeps RFC 1421 headers (Proc-Type,
/// DEK-Info) and reports bad base64 instead of skipping it.
fn pem_blocks(data: &[u8]) -> Result<Vec<Block<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = find(&data[pos..], b"-----BEGIN ") {
        let start = pos + i + 11;
        let tail = &data[start..data.len().min(start + 80)];
        let label_len = find(tail, b"-----").ok_or("malformed BEGIN line")?;
        let label = std::str::from_utf8(&data[start..start + label_len])
            .ok()
            .filter(|l| {
                l.bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
            })
            .ok_or("malformed BEGIN line")?;
        let body_start = start + label_len + 5;
        let end_marker = format!("-----END {label}-----");
        let body_len = find(&data[body_start..], end_marker.as_bytes())
            .ok_or_else(|| format!("{label} block has no END line"))?;
        let body = std::str::from_utf8(&data[body_start..body_start + body_len])
            .map_err(|_| format!("{label} block is not ASCII"))?;
        // Headers are `Key: value` lines before the first blank line.
        let mut headers = Vec::new();
        let mut b64 = Zeroizing::new(Vec::with_capacity(body.len()));
        let mut in_headers = true;
        for line in body.lines() {
            let line = line.trim();
            if in_headers {
                // The rest of the BEGIN line comes first: an empty line, not the header end.
                if line.is_empty() && headers.is_empty() {
                    continue;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim(), v.trim()));
                    continue;
                }
                in_headers = false;
            }
            b64.extend(line.bytes().filter(|b| !b.is_ascii_whitespace()));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(&b64[..])
            .map_err(|e| format!("bad base64 in {label} block ({e})"))?;
        out.push(Block {
            label,
            headers,
            der: Zeroizing::new(der),
        });
        pos = body_start + body_len + end_marker.len();
    }
    Ok(out)
}

fn classify_pem(data: &[u8], file: &str, found: &mut Found) -> Result<(), BundleError> {
    let blocks = pem_blocks(data).map_err(|detail| BundleError::BadPem {
        file: file.into(),
        detail,
    })?;
    for b in blocks {
        let bad_pem = |detail: String| BundleError::BadPem {
            file: file.into(),
            detail,
        };
        match b.label {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                // OpenSSL's TRUSTED CERTIFICATE appends trust settings after the cert.
                let der = match der_len(&b.der) {
                    Some(n) if b.label == "TRUSTED CERTIFICATE" => &b.der[..n],
                    _ => &b.der[..],
                };
                let info = CertInfo::from_der(der)
                    .map_err(|e| bad_pem(format!("{} block: {e}", b.label)))?;
                found.certs.push((info, file.into()));
            }
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                let format = match b.label {
                    "RSA PRIVATE KEY" => KeyFormat::Pkcs1,
                    "EC PRIVATE KEY" => KeyFormat::Sec1,
                    _ => KeyFormat::Pkcs8,
                };
                let header = |k: &str| {
                    b.headers
                        .iter()
                        .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                        .map(|(_, v)| *v)
                };
                let key = if header("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED")) {
                    let dek = header("DEK-Info")
                        .ok_or_else(|| bad_pem("encrypted key without DEK-Info".into()))?;
                    found.encrypted.push(Encrypted {
                        file: file.into(),
                        der: b.der.clone(),
                        legacy: Some((format, dek.to_string())),
                    });
                    continue;
                } else {
                    match PrivateKey::from_der(&b.der, format) {
                        Ok(k) => k,
                        Err(e) => {
                            found
                                .notes
                                .push(format!("ignored private key in {file}: {e}"));
                            found.unusable_keys.push(format!("{file}: {e}"));
                            continue;
                        }
                    }
                };
                found.keys.push((key, file.into()));
            }
            "ENCRYPTED PRIVATE KEY" => found.encrypted.push(Encrypted {
                file: file.into(),
                der: b.der.clone(),
                legacy: None,
            }),
            "OPENSSH PRIVATE KEY" => found
                .notes
                .push(format!("ignored SSH private key in {file}")),
            other => found.notes.push(format!("ignored {other} in {file}")),
        }
    }
    Ok(())
}

fn classify_der(data: &[u8], file: &str, found: &mut Found) -> Result<(), BundleError> {
    let cert_err = match CertInfo::from_der(data) {
        Ok(info) => {
            found.certs.push((info, file.into()));
            return Ok(());
        }
        Err(e) => e,
    };
    if let Ok(key) = PrivateKey::from_der_any(data) {
        found.keys.push((key, file.into()));
        return Ok(());
    }
    // `openssl pkcs8 -topk8 -outform der`: an EncryptedPrivateKeyInfo.
    if <pkcs8::EncryptedPrivateKeyInfoRef as pkcs8::der::Decode>::from_der(data).is_ok() {
        found.encrypted.push(Encrypted {
            file: file.into(),
            der: Zeroizing::new(data.to_vec()),
            legacy: None,
        });
        return Ok(());
    }
    Err(BundleError::BadDer {
        file: file.into(),
        detail: format!("DER data is not a certificate (nor a private key): {cert_err}"),
    })
}

fn classify_p12(
    data: &[u8],
    file: &str,
    asker: &mut Asker,
    found: &mut Found,
) -> Result<(), BundleError> {
    use p12_keystore::error::Error as E;
    // Many exports use an empty password: try it before prompting.
    let archive = asker.unlock(file, Some(""), |pw| {
        p12_keystore::Pkcs12Archive::from_pkcs12(data, pw).map_err(|e| match e {
            E::MacError(_) | E::UnpadError | E::Pkcs5Error(_) => KeyError::WrongPassphrase,
            other => KeyError::Invalid(format!("unreadable PKCS#12: {other}")),
        })
    })?;
    for (i, bag) in archive.certs.iter().enumerate() {
        let what = format!("certificate #{} in {file}", i + 1);
        let info = CertInfo::from_der(bag.cert.as_der()).map_err(|e| BundleError::BadDer {
            file: what.clone(),
            detail: e.to_string(),
        })?;
        found.certs.push((info, what));
    }
    for (i, bag) in archive.keys.iter().enumerate() {
        let what = format!("private key #{} in {file}", i + 1);
        match PrivateKey::from_der(bag.key.as_der(), KeyFormat::Pkcs8) {
            Ok(k) => found.keys.push((k, what)),
            Err(e) => {
                found.notes.push(format!("ignored {what}: {e}"));
                found.unusable_keys.push(format!("{what}: {e}"));
            }
        }
    }
    Ok(())
}

/// docker export `meta.json` or docker-machine `config.json`; true if it was one.
fn endpoint_from_json(v: &serde_json::Value, file: &str, found: &mut Found) -> bool {
    if let Some(docker) = v.pointer("/Endpoints/docker") {
        if let Some(h) = docker
            .get("Host")
            .and_then(|h| h.as_str())
            .filter(|h| !h.is_empty())
        {
            found.host = Some((h.into(), file.into()));
        }
        found.skip_verify = docker.get("SkipTLSVerify").and_then(|s| s.as_bool());
        return true;
    }
    if let Some(driver) = v.get("Driver") {
        let url = driver
            .get("URL")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty());
        let ip = driver
            .get("IPAddress")
            .and_then(|u| u.as_str())
            .filter(|u| !u.is_empty());
        let port = driver
            .get("EnginePort")
            .and_then(|p| p.as_u64())
            .unwrap_or(2376);
        let host = match (url, ip) {
            (Some(u), _) => Some(u.to_string()),
            (None, Some(ip)) if ip.contains(':') => Some(format!("tcp://[{ip}]:{port}")),
            (None, Some(ip)) => Some(format!("tcp://{ip}:{port}")),
            _ => None,
        };
        if let Some(h) = host {
            found.host = Some((h, file.into()));
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            data: Zeroizing::new(data.to_vec()),
        }
    }

    fn run(e: &Entry) -> Result<Found, BundleError> {
        let mut ask = |_: &str| -> Result<Zeroizing<String>, BundleError> {
            Err(BundleError::Other("no passphrase in tests".into()))
        };
        let mut asker = Asker::new(&mut ask);
        let mut found = Found::default();
        classify(e, &mut asker, &mut found)?;
        Ok(found)
    }

    fn cert_pem() -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key)
    }

    #[test]
    fn several_blocks_and_surrounding_text() {
        let (c, k) = cert_pem();
        let text = format!(
            "Certificate:\n  blah\n{c}\nsome text\n{}\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
            k.serialize_pem()
        );
        let f = run(&entry("all.pem", text.as_bytes())).unwrap();
        assert_eq!(f.certs.len(), 1);
        assert_eq!(f.keys.len(), 1);
        assert_eq!(f.keys[0].0.spki_der, f.certs[0].0.spki_der);
        assert!(f.notes.iter().any(|n| n.contains("EC PARAMETERS")));
    }

    #[test]
    fn bad_base64_is_an_error() {
        let e = run(&entry(
            "c.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n",
        ))
        .err()
        .unwrap();
        assert!(matches!(e, BundleError::BadPem { .. }));
        assert!(
            e.to_string().contains("c.pem") && e.to_string().contains("base64"),
            "{e}"
        );
    }

    #[test]
    fn missing_end_is_an_error() {
        let e = run(&entry("c.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("no END"), "{e}");
    }

    #[test]
    fn der_cert_and_der_key() {
        let (c, k) = cert_pem();
        let der = pem_blocks(c.as_bytes()).unwrap().remove(0).der;
        assert_eq!(run(&entry("c.der", &der)).unwrap().certs.len(), 1);
        assert_eq!(
            run(&entry("k.der", &k.serialize_der())).unwrap().keys.len(),
            1
        );
    }

    #[test]
    fn der_non_cert_is_an_error() {
        let e = run(&entry("x.crt", &[0x30, 0x03, 0x02, 0x01, 0x05]))
            .err()
            .unwrap();
        assert!(matches!(e, BundleError::BadDer { .. }));
        assert!(e.to_string().contains("x.crt"));
    }

    #[test]
    fn text_files_are_notes() {
        let f = run(&entry("README", b"0.1 hello")).unwrap();
        assert!(f.is_empty());
        assert_eq!(f.notes.len(), 1);
        let f = run(&entry("id_rsa.pub", b"ssh-rsa AAAAB3Nza x@y")).unwrap();
        assert!(f.is_empty());
    }

    #[test]
    fn openssh_key_is_ignored() {
        let f = run(&entry(
            "id_ed25519",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        ))
        .unwrap();
        assert!(f.keys.is_empty());
        assert!(f.notes[0].contains("SSH"));
    }

    #[test]
    fn endpoints_from_json() {
        let f = run(&entry(
            "meta.json",
            br#"{"Name":"p","Endpoints":{"docker":{"Host":"tcp://h:2376","SkipTLSVerify":true}}}"#,
        ))
        .unwrap();
        assert_eq!(f.host.unwrap().0, "tcp://h:2376");
        assert_eq!(f.skip_verify, Some(true));
        let f = run(&entry(
            "config.json",
            br#"{"Driver":{"IPAddress":"1.2.3.4"},"DriverName":"virtualbox"}"#,
        ))
        .unwrap();
        assert_eq!(f.host.unwrap().0, "tcp://1.2.3.4:2376");
        let f = run(&entry(
            "config.json",
            br#"{"Driver":{"URL":"tcp://5.6.7.8:2376","IPAddress":"1.2.3.4"}}"#,
        ))
        .unwrap();
        assert_eq!(f.host.unwrap().0, "tcp://5.6.7.8:2376");
    }

    #[test]
    fn huge_single_line_pem_is_bounded() {
        let mut s = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        s.extend(std::iter::repeat_n(b'A', 5_000_000));
        s.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
        let e = run(&entry("big.pem", &s)).err().unwrap();
        assert!(e.to_string().contains("big.pem"));
    }

    #[test]
    fn der_length_helpers() {
        assert_eq!(der_len(&[0x30, 0x00]), Some(2));
        assert_eq!(der_len(&[0x30, 0x82, 0x00, 0x01, 0x00]), Some(5));
        assert_eq!(der_len(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_len(&[0x30]), None);
        assert!(!looks_like_pfx(b"0.1.0"));
    }
}
