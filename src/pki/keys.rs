//! Private keys: parse every encoding Docker users meet (PKCS#1, PKCS#8,
//! SEC1, encrypted PKCS#8 and OpenSSL's legacy `Proc-Type: 4,ENCRYPTED`
//! PEM), derive the public key so it can be matched against certificates,
//! and re-encode the decrypted key as PEM.
//!
//! Key bytes live in `Zeroizing` buffers and are never formatted: `Debug`
//! is redacted and errors never quote key material.

use base64::Engine;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use zeroize::Zeroizing;

/// The DER encoding a key is in (decides the PEM label on output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `RSA PRIVATE KEY`
    Pkcs1,
    /// `EC PRIVATE KEY`
    Sec1,
    /// `PRIVATE KEY`
    Pkcs8,
}

impl KeyFormat {
    pub fn pem_label(self) -> &'static str {
        match self {
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
            Self::Pkcs8 => "PRIVATE KEY",
        }
    }
}

/// Why a key could not be used. Messages never contain key bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The passphrase does not decrypt the key (or the ciphertext is corrupt).
    #[error("wrong passphrase (or corrupt encrypted key)")]
    WrongPassphrase,
    /// Encrypted with a cipher or KDF dctx does not implement.
    #[error("unsupported key encryption: {0}")]
    UnsupportedCipher(String),
    /// Not a private key dctx can parse or use.
    #[error("not a usable private key ({0})")]
    Invalid(String),
}

/// An unencrypted private key plus its public half (SubjectPublicKeyInfo DER).
#[derive(Clone)]
pub struct PrivateKey {
    der: Zeroizing<Vec<u8>>,
    pub format: KeyFormat,
    /// SPKI DER of the public key: compare with `CertInfo::spki_der`.
    pub spki_der: Vec<u8>,
    /// e.g. `RSA`, `ECDSA`, `Ed25519`.
    pub algorithm: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("format", &self.format)
            .field("algorithm", &self.algorithm)
            .field("der", &"<redacted>")
            .finish()
    }
}

impl PrivateKey {
    /// Parse unencrypted DER in a known format; derives the public key.
    pub fn from_der(der: &[u8], format: KeyFormat) -> Result<Self, KeyError> {
        let owned = Zeroizing::new(der.to_vec());
        let key = match format {
            KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(&owned[..])),
            KeyFormat::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(&owned[..])),
            KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(&owned[..])),
        };
        // aws-lc does the real parsing (and rejects e.g. RSA < 2048 bits);
        // its error text is generic and carries no key bytes.
        let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let spki = signer
            .public_key()
            .ok_or_else(|| KeyError::Invalid("cannot derive the public key".into()))?;
        let algorithm = format!("{:?}", signer.algorithm());
        let spki_der = spki.as_ref().to_vec();
        Ok(Self {
            der: owned,
            format,
            spki_der,
            algorithm,
        })
    }

    /// Parse DER of unknown format (a `.der`/`.key` file without PEM armour).
    pub fn from_der_any(der: &[u8]) -> Result<Self, KeyError> {
        let mut last = KeyError::Invalid("empty".into());
        for f in [KeyFormat::Pkcs8, KeyFormat::Pkcs1, KeyFormat::Sec1] {
            match Self::from_der(der, f) {
                Ok(k) => return Ok(k),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Decrypt an `ENCRYPTED PRIVATE KEY` (PKCS#8 EncryptedPrivateKeyInfo, PBES2/PBES1).
    pub fn from_encrypted_pkcs8(der: &[u8], passphrase: &str) -> Result<Self, KeyError> {
        use pkcs8::der::Decode;
        let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::Invalid(format!("malformed encrypted PKCS#8: {e}")))?;
        // Any failure here is (almost always) a wrong passphrase: padding or
        // the decoded PrivateKeyInfo does not parse.
        let doc = info.decrypt(passphrase.as_bytes()).map_err(|e| match e {
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm {
                oid,
            }) => KeyError::UnsupportedCipher(oid.to_string()),
            _ => KeyError::WrongPassphrase,
        })?;
        Self::from_der(doc.as_bytes(), KeyFormat::Pkcs8).map_err(|_| KeyError::WrongPassphrase)
    }

    /// Decrypt OpenSSL's legacy PEM encryption (`Proc-Type: 4,ENCRYPTED` +
    /// `DEK-Info: CIPHER,HEXIV`), key from EVP_BytesToKey(MD5, 1 round).
    pub fn from_legacy_encrypted(
        body: &[u8],
        format: KeyFormat,
        dek_info: &str,
        passphrase: &str,
    ) -> Result<Self, KeyError> {
        let (cipher, iv_hex) = dek_info
            .split_once(',')
            .ok_or_else(|| KeyError::Invalid("malformed DEK-Info header".into()))?;
        let cipher = cipher.trim().to_ascii_uppercase();
        let iv = hex::decode(iv_hex.trim())
            .map_err(|_| KeyError::Invalid("malformed DEK-Info IV".into()))?;
        let plain = legacy_decrypt(&cipher, &iv, body, passphrase.as_bytes())?;
        Self::from_der(&plain, format).map_err(|_| KeyError::WrongPassphrase)
    }

    /// Unencrypted PEM (no Proc-Type headers), label by format.
    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem_encode(self.format.pem_label(), &self.der))
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// PEM with 64-column LF lines (what openssl writes).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// OpenSSL EVP_BytesToKey with MD5, one iteration, salt = first 8 IV bytes.
fn evp_bytes_to_key(pass: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    use md5::{Digest, Md5};
    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Option<Vec<u8>> = None;
    while out.len() < key_len {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(p);
        }
        h.update(pass);
        h.update(salt);
        let d = h.finalize().to_vec();
        out.extend_from_slice(&d);
        prev = Some(d);
    }
    out.truncate(key_len);
    out
}

fn legacy_decrypt(
    cipher: &str,
    iv: &[u8],
    body: &[u8],
    pass: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
    fn run<C>(key: &[u8], iv: &[u8], body: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError>
    where
        cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
        C: cbc::cipher::BlockCipherDecrypt,
    {
        let dec = cbc::Decryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| KeyError::Invalid("bad IV length in DEK-Info".into()))?;
        // A padding failure is what a wrong passphrase looks like.
        dec.decrypt_padded_vec::<Pkcs7>(body)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::WrongPassphrase)
    }
    let (key_len, iv_len) = match cipher {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        "DES-CBC" => (8, 8),
        other => return Err(KeyError::UnsupportedCipher(other.into())),
    };
    if iv.len() != iv_len {
        return Err(KeyError::Invalid("bad IV length in DEK-Info".into()));
    }
    let key = evp_bytes_to_key(pass, &iv[..8], key_len);
    match cipher {
        "AES-128-CBC" => run::<aes::Aes128>(&key, iv, body),
        "AES-192-CBC" => run::<aes::Aes192>(&key, iv, body),
        "AES-256-CBC" => run::<aes::Aes256>(&key, iv, body),
        "DES-EDE3-CBC" => run::<des::TdesEde3>(&key, iv, body),
        _ => run::<des::Des>(&key, iv, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcgen_key() -> rcgen::KeyPair {
        rcgen::KeyPair::generate().unwrap()
    }

    #[test]
    fn pkcs8_roundtrip_and_spki_matches_rcgen() {
        let kp = rcgen_key();
        let k = PrivateKey::from_der(&kp.serialize_der(), KeyFormat::Pkcs8).unwrap();
        use rcgen::PublicKeyData;
        assert_eq!(k.spki_der, kp.subject_public_key_info());
        assert!(k.to_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(
            PrivateKey::from_der_any(&kp.serialize_der())
                .unwrap()
                .format,
            KeyFormat::Pkcs8
        );
    }

    #[test]
    fn debug_is_redacted() {
        let kp = rcgen_key();
        let k = PrivateKey::from_der(&kp.serialize_der(), KeyFormat::Pkcs8).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("redacted"));
        let b64 = base64::engine::general_purpose::STANDARD.encode(k.der());
        assert!(!dbg.contains(&b64[..20]));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(matches!(
            PrivateKey::from_der_any(b"\x30\x03\x02\x01\x00"),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn evp_bytes_to_key_known_vector() {
        // openssl enc -aes-256-cbc -P -md md5 -S 0102030405060708 -pass pass:secret
        let k = evp_bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(k.len(), 32);
        // First block is MD5(pass || salt).
        use md5::{Digest, Md5};
        let mut h = Md5::new();
        h.update(b"secret");
        h.update([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&k[..16], &h.finalize()[..]);
    }

    #[test]
    fn unsupported_legacy_cipher() {
        assert!(matches!(
            PrivateKey::from_legacy_encrypted(
                b"0123456789abcdef",
                KeyFormat::Pkcs1,
                "CAMELLIA-256-CBC,00112233445566778899AABBCCDDEEFF",
                "x"
            ),
            Err(KeyError::UnsupportedCipher(_))
        ));
    }
}
