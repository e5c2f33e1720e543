//! Arbitrary bytes as a `--bundle`: archive sniffing, tar/gzip/zip/p12
//! readers, limits, classification and selection must never panic or hang.
#![no_main]

use dctx::bundle::{BundleError, Options, Source, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = Source::Memory {
        name: "fuzz.bin".into(),
        data: data.to_vec(),
    };
    let opts = Options {
        allow_no_ca: data.first().is_some_and(|b| b & 1 == 1),
        force: data.first().is_some_and(|b| b & 2 == 2),
        allow_ca_only: data.first().is_some_and(|b| b & 4 == 4),
        now: 1_800_000_000,
    };
    let mut pass = |_: &str| -> Result<zeroize::Zeroizing<String>, BundleError> {
        Ok(zeroize::Zeroizing::new("fuzz".into()))
    };
    let _ = read(&src, &opts, &mut pass);
});
