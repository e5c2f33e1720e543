//! The PEM/DER object classifier: certificates, private keys (plain and
//! encrypted) and single-file bundles, without the archive layer.
#![no_main]

use dctx::bundle::{BundleError, Options, Source, read};
use dctx::pki::CertInfo;
use dctx::pki::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = CertInfo::from_der(data) {
        let _ = c.is_self_signed();
        let _ = c.days_left(0);
    }
    let _ = PrivateKey::from_der_any(data);
    let _ = PrivateKey::from_encrypted_pkcs8(data, "fuzz");
    // As a lone PEM/DER file (the classifier path of `--cert FILE`).
    let mut text = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    text.extend_from_slice(data);
    let mut pass = |_: &str| -> Result<zeroize::Zeroizing<String>, BundleError> {
        Ok(zeroize::Zeroizing::new("fuzz".into()))
    };
    let opts = Options {
        allow_no_ca: true,
        force: true,
        allow_ca_only: true,
        now: 1_800_000_000,
    };
    for bytes in [data.to_vec(), text] {
        let _ = read(&Source::Memory { name: "obj.pem".into(), data: bytes }, &opts, &mut pass);
    }
});
