//! Bundle import: read TLS material from any container format, recognise
//! every object by content, pick the client cert / key / CA, validate.
//!
//! Never prints, never touches the disk outside reading the source.

mod archive;
mod classify;
#[doc(hidden)]
pub mod fuzz;
pub mod limits;
mod select;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use select::verifying_ca;

use crate::pki::CertInfo;
use crate::pki::keys::pem_encode;

/// Where the material comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--bundle PATH`: tar, tar.gz, zip, directory, .p12, docker export, docker-machine dir.
    Bundle(PathBuf),
    /// A bundle already in memory (named for messages): fuzzing and tests.
    Memory { name: String, data: Vec<u8> },
    /// `--ca/--cert/--key` given separately.
    Files {
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    },
}

/// Import policy.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Accept a bundle without CA (publicly trusted server: system roots).
    pub allow_no_ca: bool,
    /// Import an expired / wrong-EKU client cert with a warning instead of refusing.
    pub force: bool,
    /// Accept a bundle of CA certificates only (no client cert, no key):
    /// the daemon is verified, dctx presents no client certificate.
    pub allow_ca_only: bool,
    /// No CA is needed: it comes from elsewhere (`add --replace` keeps the
    /// profile's).
    pub ca_kept: bool,
    /// Unix seconds, for expiry checks.
    pub now: i64,
}

/// Asks for a passphrase; the argument says what for (e.g. `key.pem in x.tar`).
pub type PassphraseFn<'a> = dyn FnMut(&str) -> Result<Zeroizing<String>, BundleError> + 'a;

/// What a bundle yields: PEM text ready to be written as ca.pem / cert.pem / key.pem.
pub struct Imported {
    /// CA certificate(s), PEM.
    pub ca_pem: Option<String>,
    /// Client certificate (leaf first, then any intermediates), PEM.
    pub cert_pem: Option<String>,
    /// Unencrypted private key, PEM (PKCS#1, SEC1 or PKCS#8).
    pub key_pem: Option<Zeroizing<String>>,
    pub ca: Option<CertInfo>,
    pub cert: Option<CertInfo>,
    /// Endpoint found inside the bundle (docker export meta.json, docker-machine config.json).
    pub host: Option<String>,
    /// SkipTLSVerify found inside a docker export.
    pub skip_verify: Option<bool>,
    /// Human notes: which CA was chosen and why, what was ignored.
    pub notes: Vec<String>,
    /// Non-fatal problems (client cert not signed by the bundled CA, forced imports).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Imported {
    // Hand-written so a private key can never end up in a log or panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("ca", &self.ca.as_ref().map(|c| &c.subject))
            .field("cert", &self.cert.as_ref().map(|c| &c.subject))
            .field("key", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .field("notes", &self.notes)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Typed import failures; every message names the file inside the bundle
/// (`client.crt in prod.tar`) and never quotes key material.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    // The io::Error is shown in the message, not chained as a source, so
    // `{:#}` does not print it twice.
    /// The source (or a file in a bundle directory) could not be read.
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    /// Nothing in the source is an archive, certificate, key or endpoint.
    #[error("not a recognised bundle: {bundle}: {detail}")]
    NotRecognised { bundle: String, detail: String },
    /// The tar/gzip/zip container itself is broken or truncated.
    #[error("{bundle}: corrupt archive: {detail}")]
    Corrupt { bundle: String, detail: String },
    /// An archive entry that could escape or is not data (`..`, absolute, link, device, renaming pax header).
    #[error("{entry} in {bundle}: {reason}; refusing the whole bundle")]
    UnsafeEntry {
        entry: String,
        bundle: String,
        reason: String,
    },
    /// Expands past the byte limit (a bomb, or not a TLS bundle).
    #[error("{bundle}: expands to more than {} MiB ({limit} bytes), the import limit; refusing (a TLS bundle is a few KiB)", limit / (1024 * 1024))]
    TooLarge { bundle: String, limit: u64 },
    /// More entries than the limit.
    #[error("{bundle}: more than {limit} entries; refusing (a TLS bundle has a handful)")]
    TooManyEntries { bundle: String, limit: usize },
    /// A PEM block that does not decode (armour, base64, contents).
    #[error("{file}: malformed PEM: {detail}")]
    BadPem { file: String, detail: String },
    /// A DER object that is not what it claims to be.
    #[error("{file}: {detail}")]
    BadDer { file: String, detail: String },
    /// A private key that cannot be read or used.
    #[error("{file}: {detail}")]
    BadKey { file: String, detail: String },
    /// The passphrase does not decrypt this key or .p12.
    #[error("{file}: wrong passphrase")]
    WrongPassphrase { file: String },
    /// A client certificate is present but no key matches it.
    #[error("{cert}: no private key in the bundle matches this certificate{hint}")]
    NoKeyForCert { cert: String, hint: String },
    /// No leaf certificate with its key at all.
    #[error("{bundle}: no client certificate with its private key found{hint}")]
    NoClientCert { bundle: String, hint: String },
    /// Two equally good client identities with different keys.
    #[error("ambiguous bundle: two different client identities: {first} and {second}")]
    AmbiguousKeys { first: String, second: String },
    /// No CA certificate and the options do not allow system roots.
    #[error(
        "{bundle}: no CA certificate in the bundle (pass --system-roots if the daemon has a publicly trusted certificate)"
    )]
    NoCa { bundle: String },
    /// Several bundled CAs and none issued the client certificate.
    #[error("{cert}: none of the bundled CA certificates issued this certificate: {cas}")]
    UnknownCa { cert: String, cas: String },
    /// The client certificate expired (refused unless forced).
    #[error("{cert}: client certificate expired on {not_after}{FORCE_HINT}")]
    Expired { cert: String, not_after: String },
    /// The client certificate's EKU lacks clientAuth (refused unless forced).
    #[error(
        "{cert}: certificate is not valid for client authentication: its extended key usage ({eku}) lacks clientAuth{FORCE_HINT}"
    )]
    NotClientAuth { cert: String, eku: String },
    /// The only identity is a daemon's (serverAuth only): no client can use
    /// it, so --force is no way out.
    #[error(
        "{cert}: this is a server certificate and key (extended key usage: {eku}): you need a client certificate (extendedKeyUsage = clientAuth) from the daemon's CA, with its key"
    )]
    ServerCert { cert: String, eku: String },
    /// Anything else, already phrased for the user (e.g. the prompt's own error).
    #[error("{0}")]
    Other(String),
}

/// How a forceable refusal ends; dropped from the warning once forced.
pub const FORCE_HINT: &str = " (pass --force to import it anyway)";

impl BundleError {
    /// The refusal as a warning after `--force` overrode it.
    pub fn forced(&self) -> String {
        format!(
            "{}; imported anyway (--force)",
            self.to_string().replace(FORCE_HINT, "")
        )
    }
}

/// Read a bundle (or separate files), recognise everything by content,
/// choose the client identity and CA, and validate them.
///
/// `pass` is called only when an encrypted object is met, with the name of
/// that object (`key.pem in prod.tar`); its error is returned as is.
pub fn read(
    src: &Source,
    opts: &Options,
    pass: &mut PassphraseFn,
) -> Result<Imported, BundleError> {
    let (loaded, bundle) = load(src)?;
    let found = recognise(loaded, &bundle, pass)?;
    if opts.allow_ca_only
        && let Some((cas, ca_notes)) =
            select::ca_only(&found.certs, &found.keys, &found.unusable_keys)
    {
        return Ok(ca_only_material(found, cas, ca_notes));
    }
    let sel = select::select(found.certs, found.keys, &found.unusable_keys, &bundle, opts)?;
    let mut notes = found.notes;
    let mut warnings = found.warnings;
    warnings.extend(sel.warnings);
    if let Some((host, from)) = &found.host {
        notes.push(format!("endpoint {host} from {from}"));
    }
    notes.extend(sel.notes);

    let pem_all = |certs: &mut dyn Iterator<Item = &CertInfo>| -> String {
        certs.map(|c| pem_encode("CERTIFICATE", &c.der)).collect()
    };
    let ca_pem = (!sel.ca_chain.is_empty()).then(|| pem_all(&mut sel.ca_chain.iter()));
    let cert_pem = pem_all(&mut std::iter::once(&sel.cert).chain(&sel.intermediates));
    Ok(Imported {
        ca_pem,
        cert_pem: Some(cert_pem),
        key_pem: Some(sel.key.to_pem()),
        ca: sel.ca_chain.into_iter().next(),
        cert: Some(sel.cert),
        host: found.host.map(|(h, _)| h),
        skip_verify: found.skip_verify,
        notes,
        warnings,
    })
}

/// The source's entries and the bundle's name for messages.
fn load(src: &Source) -> Result<(archive::Loaded, String), BundleError> {
    Ok(match src {
        Source::Bundle(path) => (archive::load(path)?, archive::short_name(path)),
        Source::Memory { name, data } => (archive::load_bytes(name, data)?, name.clone()),
        Source::Files { ca, cert, key } => {
            let paths: Vec<&Path> = [ca, cert, key]
                .into_iter()
                .flatten()
                .map(|p| p.as_path())
                .collect();
            if paths.is_empty() {
                return Err(BundleError::Other("no --ca, --cert or --key given".into()));
            }
            (archive::load_files(&paths)?, "the given files".to_string())
        }
    })
}

/// Every entry recognised by content (asking for passphrases as needed);
/// a single file that holds nothing usable is not a bundle.
fn recognise(
    loaded: archive::Loaded,
    bundle: &str,
    pass: &mut PassphraseFn,
) -> Result<classify::Found, BundleError> {
    let mut asker = classify::Asker::new(pass);
    let mut found = classify::Found {
        notes: loaded.notes,
        ..Default::default()
    };
    for entry in &loaded.entries {
        classify::classify(entry, &mut asker, &mut found)?;
    }
    classify::settle_encrypted(&mut asker, &mut found)?;
    if found.is_empty() && loaded.single_file {
        return Err(BundleError::NotRecognised {
            bundle: bundle.to_string(),
            detail: "not a tar, tar.gz, zip or PKCS#12 archive, nor a PEM/DER certificate file"
                .into(),
        });
    }
    Ok(found)
}

/// A bundle of CA certificates only: TLS without a client certificate.
fn ca_only_material(found: classify::Found, cas: Vec<CertInfo>, ca_notes: Vec<String>) -> Imported {
    let mut notes = found.notes;
    notes.extend(ca_notes);
    Imported {
        ca_pem: Some(
            cas.iter()
                .map(|c| pem_encode("CERTIFICATE", &c.der))
                .collect(),
        ),
        cert_pem: None,
        key_pem: None,
        ca: cas.into_iter().next(),
        cert: None,
        host: found.host.map(|(h, _)| h),
        skip_verify: found.skip_verify,
        notes,
        warnings: found.warnings,
    }
}
