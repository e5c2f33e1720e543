//! The bodies of the fuzz targets (fuzz/fuzz_targets/*.rs), here so that
//! `cargo test` compiles them and replays the committed seeds through
//! exactly what the fuzzer runs (tests/it/fuzz_seeds.rs).

use zeroize::Zeroizing;

use super::{BundleError, Imported, Options, Source, read};
use crate::pki::CertInfo;
use crate::pki::keys::PrivateKey;

/// The clock the fuzz targets use (fixed: runs are reproducible).
pub const NOW: i64 = 1_800_000_000;

fn pass(_: &str) -> Result<Zeroizing<String>, BundleError> {
    Ok(Zeroizing::new("fuzz".into()))
}

/// `bundle_read`: arbitrary bytes as a `--bundle`; the first byte picks
/// the options. Returns what `bundle::read` returned.
pub fn bundle_read(data: &[u8]) -> Result<Imported, BundleError> {
    let src = Source::Memory {
        name: "fuzz.bin".into(),
        data: data.to_vec(),
    };
    let opts = Options {
        allow_no_ca: data.first().is_some_and(|b| b & 1 == 1),
        force: data.first().is_some_and(|b| b & 2 == 2),
        allow_ca_only: data.first().is_some_and(|b| b & 4 == 4),
        ca_kept: data.first().is_some_and(|b| b & 8 == 8),
        now: NOW,
    };
    read(&src, &opts, &mut pass)
}

/// What `classify` made of one input (for the seed replay's sanity checks).
#[derive(Debug, Default)]
pub struct ClassifyOutcome {
    pub cert: bool,
    pub key: bool,
    /// `bundle::read` of the bytes as a lone file succeeded.
    pub read_ok: bool,
}

/// `classify`: the PEM/DER object parsers without the archive layer, then
/// the bytes (raw, and behind a PEM header) as a lone file.
pub fn classify(data: &[u8]) -> ClassifyOutcome {
    let mut out = ClassifyOutcome::default();
    if let Ok(c) = CertInfo::from_der(data) {
        let _ = c.is_self_signed();
        let _ = c.days_left(0);
        out.cert = true;
    }
    out.key |= PrivateKey::from_der_any(data).is_ok();
    out.key |= PrivateKey::from_encrypted_pkcs8(data, "fuzz").is_ok();
    let mut text = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    text.extend_from_slice(data);
    let opts = Options {
        allow_no_ca: true,
        force: true,
        allow_ca_only: true,
        ca_kept: false,
        now: NOW,
    };
    for bytes in [data.to_vec(), text] {
        let src = Source::Memory {
            name: "obj.pem".into(),
            data: bytes,
        };
        out.read_ok |= read(&src, &opts, &mut pass).is_ok();
    }
    out
}
