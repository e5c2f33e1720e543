//! The PEM/DER object classifier: certificates, private keys (plain and
//! encrypted) and single-file bundles, without the archive layer.
//! The body is `dctx::bundle::fuzz::classify`, which `cargo test` replays
//! over fuzz/seeds (tests/it/fuzz_seeds.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dctx::bundle::fuzz::classify(data);
});
