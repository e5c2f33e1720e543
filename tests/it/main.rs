//! One integration-test binary: faster to link, and one shared dockerd.

mod probe;
mod support;

#[test]
fn dockerd_starts_with_tls() {
    let t = std::time::Instant::now();
    let d = support::dockerd();
    eprintln!("dockerd {} up in {:?}", d.version, t.elapsed());
    assert!(
        d.version.starts_with("20.") || d.version.contains('.'),
        "{}",
        d.version
    );
}
