//! One integration-test binary: faster to link, and one shared dockerd.

mod advice;
mod bundle;
mod check_cli;
mod core;
mod crash;
mod deb;
mod explain;
mod fn_length;
mod fuzz_seeds;
mod guards;
mod hostile;
mod import;
mod journal;
mod keys;
mod layout;
mod lint;
mod man;
mod metrics;
mod outputs;
mod pki;
mod plugin;
mod probe;
mod proxy;
mod revoke;
mod screens;
mod session;
mod shells;
mod ssh;
mod startup;
mod stores;
mod support;
mod truth;
mod vault;

/// The shared daemon is the Debian dockerd, answering on its TLS port.
#[test]
fn shared_dockerd_is_the_installed_one() {
    let d = support::dockerd();
    let out = std::process::Command::new("dockerd")
        .arg("--version")
        .output()
        .unwrap();
    let banner = String::from_utf8_lossy(&out.stdout);
    assert!(banner.contains(&d.version), "{banner} vs {}", d.version);
    std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
}
