//! Arbitrary bytes as a `--bundle`: archive sniffing, tar/gzip/zip/p12
//! readers, limits, classification and selection must never panic or hang.
//! The body is `dctx::bundle::fuzz::bundle_read`, which `cargo test`
//! replays over fuzz/seeds (tests/it/fuzz_seeds.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dctx::bundle::fuzz::bundle_read(data);
});
