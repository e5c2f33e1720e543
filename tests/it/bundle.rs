//! Bundle import, end to end: every container format and naming style,
//! decoys, CA selection, encrypted keys, PKCS#12, docker export and
//! docker-machine layouts, and the hostile inputs that must be refused.
//! Material is generated with rcgen, the openssl CLI and the tar/zip crates.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use dctx::bundle::{self, BundleError, Imported, Options, Source};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku, IsCa, Issuer,
    KeyPair,
};
use zeroize::Zeroizing;

use crate::support::snap::{Filters, dctx_snapshot, text_snapshot};

// ---------------------------------------------------------------- material

struct Id {
    cn: String,
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
}

struct Ca {
    id: Id,
    issuer: Issuer<'static, KeyPair>,
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let p = ca_params(cn);
    let cert = p.self_signed(&key).unwrap();
    let id = Id {
        cn: cn.into(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    };
    Ca {
        id,
        issuer: Issuer::new(p, key),
    }
}

fn intermediate(cn: &str, parent: &Ca) -> Ca {
    let key = KeyPair::generate().unwrap();
    let p = ca_params(cn);
    let cert = p.signed_by(&key, &parent.issuer).unwrap();
    let id = Id {
        cn: cn.into(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    };
    Ca {
        id,
        issuer: Issuer::new(p, key),
    }
}

fn leaf_with(
    cn: &str,
    ekus: &[Eku],
    parent: &Ca,
    tweak: impl FnOnce(&mut CertificateParams),
) -> Id {
    let key = KeyPair::generate().unwrap();
    let mut p = params(cn);
    p.extended_key_usages = ekus.to_vec();
    tweak(&mut p);
    let cert = p.signed_by(&key, &parent.issuer).unwrap();
    Id {
        cn: cn.into(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    }
}

fn client(parent: &Ca) -> Id {
    leaf_with("client", &[Eku::ClientAuth], parent, |_| {})
}

fn server(parent: &Ca) -> Id {
    leaf_with("server", &[Eku::ServerAuth], parent, |_| {})
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn opts() -> Options {
    Options {
        now: now(),
        ..Options::default()
    }
}

// ---------------------------------------------------------------- containers

fn tar_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        raw_tar_name(&mut h, name.as_bytes());
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Write the name bytes directly: the tar crate's setters refuse the
/// hostile names we need to test.
fn raw_tar_name(h: &mut tar::Header, name: &[u8]) {
    let old = h.as_old_mut();
    old.name = [0; 100];
    old.name[..name.len()].copy_from_slice(name);
    h.set_cksum();
}

fn tar_special(name: &str, ty: tar::EntryType, link: Option<&str>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.set_entry_type(ty);
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    raw_tar_name(&mut h, name.as_bytes());
    b.append(&h, &[][..]).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zip_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        z.start_file(*name, o).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    p
}

fn no_pass() -> impl FnMut(&str) -> Result<Zeroizing<String>, BundleError> {
    |what: &str| panic!("passphrase asked for {what} but nothing is encrypted")
}

fn read_path(p: &Path, o: &Options) -> Result<Imported, BundleError> {
    bundle::read(&Source::Bundle(p.to_path_buf()), o, &mut no_pass())
}

fn read_bytes(name: &str, data: &[u8]) -> Result<Imported, BundleError> {
    let d = tempfile::tempdir().unwrap();
    read_path(&write(d.path(), name, data), &opts())
}

fn err_bytes(name: &str, data: &[u8]) -> String {
    match read_bytes(name, data) {
        Ok(m) => panic!("{name} should be refused, got {m:?}"),
        Err(e) => e.to_string(),
    }
}

/// An import's notes and warnings, whole, as a person reads them.
fn said_snapshot(m: &Imported, name: &str) {
    let text = format!(
        "notes:\n{}\nwarnings:\n{}\n",
        m.notes.join("\n"),
        m.warnings.join("\n")
    );
    text_snapshot!(Filters::new(), name, text);
}

/// Why `data` (as file `name`) was refused, whole.
fn refusal_snapshot(name: &str, data: &[u8], snapshot: &str) {
    text_snapshot!(Filters::new(), snapshot, err_bytes(name, data));
}

fn std_set() -> (Ca, Id) {
    let ca = ca("Test CA");
    let c = client(&ca);
    (ca, c)
}

fn assert_ok(m: &Imported, client: &Id, ca: &Id) {
    assert_eq!(
        m.cert.as_ref().unwrap().common_name.as_deref(),
        Some(client.cn.as_str())
    );
    assert_eq!(
        m.ca.as_ref().unwrap().common_name.as_deref(),
        Some(ca.cn.as_str())
    );
    assert_eq!(m.cert.as_ref().unwrap().der, client.cert_der);
    assert_eq!(m.ca.as_ref().unwrap().der, ca.cert_der);
    let key = m.key_pem.as_ref().unwrap();
    assert!(key.starts_with("-----BEGIN "), "{}", &key[..20]);
    assert!(!key.contains("ENCRYPTED") && !key.contains("Proc-Type"));
    assert!(
        m.cert_pem
            .as_ref()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert!(
        m.ca_pem
            .as_ref()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    // The key must never leak through Debug.
    let dbg = format!("{m:?}");
    assert!(
        !dbg.contains("PRIVATE KEY") && dbg.contains("redacted"),
        "{dbg}"
    );
}

// ---------------------------------------------------------------- formats

#[test]
fn tar_with_docker_names() {
    let (ca, c) = std_set();
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("prod.tar", &t).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert!(m.host.is_none());
    // The re-encoded key is the same PKCS#8 key.
    assert_eq!(
        m.key_pem.as_deref().map(String::as_str),
        Some(c.key_pem.as_str())
    );
}

#[test]
fn tgz_nested_dirs_and_alternate_names() {
    let (ca, c) = std_set();
    let t = tar_bytes(&[
        ("certs/", b""),
        ("certs/prod/ca-public.pem", ca.id.cert_pem.as_bytes()),
        ("certs/prod/client-certificate.pem", c.cert_pem.as_bytes()),
        ("certs/prod/deep/client-key.pem", c.key_pem.as_bytes()),
        ("certs/README.md", b"# how to use\n"),
    ]);
    let m = read_bytes("b.tgz", &gzip(&t)).unwrap();
    assert_ok(&m, &c, &ca.id);
    // The README is noted as skipped.
    said_snapshot(&m, "tgz-nested-readme");
}

#[test]
fn zip_with_der_certs_and_crt_names() {
    let (ca, c) = std_set();
    let key_der = KeyPair::from_pem(&c.key_pem).unwrap().serialize_der();
    let z = zip_bytes(&[
        ("bundle/ca.crt", &ca.id.cert_der),
        ("bundle/client.crt", &c.cert_der),
        ("bundle/client.key", &key_der),
    ]);
    let m = read_bytes("b.zip", &z).unwrap();
    assert_ok(&m, &c, &ca.id);
}

#[test]
fn format_is_sniffed_not_taken_from_the_extension() {
    let (ca, c) = std_set();
    let z = zip_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("clent.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    assert_ok(&read_bytes("looks-like.tar", &z).unwrap(), &c, &ca.id);
    let t = tar_bytes(&[(
        "x",
        format!("{}{}{}", ca.id.cert_pem, c.cert_pem, c.key_pem).as_bytes(),
    )]);
    assert_ok(&read_bytes("noext", &gzip(&t)).unwrap(), &c, &ca.id);
}

#[test]
fn directory_recursive_and_all_in_one_file() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a/b/c/ca.crt", ca.id.cert_pem.as_bytes());
    // cert + key in one file, with openssl -text style noise around.
    let combo = format!("Certificate:\n    Data: ...\n{}\n{}", c.cert_pem, c.key_pem);
    write(d.path(), "x/client.pem", combo.as_bytes());
    write(d.path(), "notes.txt", b"hello");
    let m = read_path(d.path(), &opts()).unwrap();
    assert_ok(&m, &c, &ca.id);
}

#[test]
fn single_pem_file_is_a_bundle() {
    let (ca, c) = std_set();
    let all = format!("{}{}{}", c.key_pem, c.cert_pem, ca.id.cert_pem);
    assert_ok(&read_bytes("all.pem", all.as_bytes()).unwrap(), &c, &ca.id);
}

#[test]
fn separate_files_source() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    let src = Source::Files {
        ca: Some(write(d.path(), "ca.crt", &ca.id.cert_der)),
        cert: Some(write(d.path(), "client-cert.pem", c.cert_pem.as_bytes())),
        key: Some(write(d.path(), "client-key.pem", c.key_pem.as_bytes())),
    };
    let m = bundle::read(&src, &opts(), &mut no_pass()).unwrap();
    assert_ok(&m, &c, &ca.id);
}

/// `docker context export` writes no end-of-archive blocks and does not pad
/// its last entry.
#[test]
fn docker_context_export_without_trailer() {
    let (ca, c) = std_set();
    let meta = br#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#;
    let key = c.key_pem.as_bytes();
    let mut t = tar_bytes(&[
        ("meta.json", meta),
        ("tls/docker/ca.pem", ca.id.cert_pem.as_bytes()),
        ("tls/docker/cert.pem", c.cert_pem.as_bytes()),
        ("tls/docker/key.pem", key),
    ]);
    let pad = (512 - key.len() % 512) % 512;
    assert!(pad > 0, "test needs a padded last entry");
    t.truncate(t.len() - 1024 - pad);
    assert!(!t.len().is_multiple_of(512));
    let m = read_bytes("prod.dockercontext", &t).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(m.host.as_deref(), Some("tcp://10.0.0.5:2376"));
    assert_eq!(m.skip_verify, Some(false));
}

#[test]
fn docker_machine_directory() {
    let (ca, c) = std_set();
    let s = server(&ca);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("default");
    write(&dir, "ca.pem", ca.id.cert_pem.as_bytes());
    write(&dir, "cert.pem", c.cert_pem.as_bytes());
    write(&dir, "key.pem", c.key_pem.as_bytes());
    write(&dir, "server.pem", s.cert_pem.as_bytes());
    write(&dir, "server-key.pem", s.key_pem.as_bytes());
    openssl(&["genrsa", "-traditional", "-out", "id_rsa", "2048"], &dir);
    write(
        &dir,
        "id_rsa.pub",
        b"ssh-rsa AAAAB3NzaC1yc2E docker@default\n",
    );
    write(&dir, "default/disk.vmdk", &[0u8; 4096]);
    write(
        &dir,
        "config.json",
        br#"{"ConfigVersion":3,"Driver":{"IPAddress":"192.168.99.100","MachineName":"default","SSHUser":"docker"},"DriverName":"virtualbox","HostOptions":{"AuthOptions":{"CaCertPath":"/x/ca.pem"}},"Name":"default"}"#,
    );
    let m = read_path(&dir, &opts()).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(m.host.as_deref(), Some("tcp://192.168.99.100:2376"));
    // The server certificate and the ssh key are noted as ignored.
    said_snapshot(&m, "docker-machine-dir");
}

// ---------------------------------------------------------------- selection

#[test]
fn decoy_server_cert_and_key_are_ignored() {
    let (ca, c) = std_set();
    let s = server(&ca);
    let t = tar_bytes(&[
        ("server-cert.pem", s.cert_pem.as_bytes()),
        ("server-key.pem", s.key_pem.as_bytes()),
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
        ("ca-key.pem", ca.id.key_pem.as_bytes()),
    ]);
    let m = read_bytes("x.tar", &t).unwrap();
    assert_ok(&m, &c, &ca.id);
    // The server cert is noted as ignored; a CA's private key mints
    // certificates: a warning naming the CA, not a note.
    said_snapshot(&m, "decoys");
}

#[test]
fn several_cas_the_issuer_is_chosen() {
    let other = ca("Other CA");
    let (ca, c) = std_set();
    let t = tar_bytes(&[
        ("a-ca.pem", other.id.cert_pem.as_bytes()),
        ("b-ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("x.tar", &t).unwrap();
    assert_ok(&m, &c, &ca.id);
    // The issuer is chosen; the other CA may be the one that verifies the
    // daemon: kept, after the issuer.
    said_snapshot(&m, "several-cas");
    let ca_pem = m.ca_pem.unwrap();
    let pems = pem::parse_many(&ca_pem).unwrap();
    assert_eq!(pems.len(), 2);
    assert_eq!(pems[0].contents(), ca.id.cert_der);
    assert_eq!(pems[1].contents(), other.id.cert_der);
}

#[test]
fn client_signed_by_intermediate() {
    let root = ca("Root");
    let int = intermediate("Intermediate", &root);
    let c = client(&int);
    let t = tar_bytes(&[
        ("root.pem", root.id.cert_pem.as_bytes()),
        ("int.pem", int.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("x.tar", &t).unwrap();
    assert_ok(&m, &c, &int.id);
    // The note on the chain carried in the cert file.
    said_snapshot(&m, "intermediate-chain");
    let ca_pem = m.ca_pem.unwrap();
    assert_eq!(ca_pem.matches("BEGIN CERTIFICATE").count(), 2);
    // The cert file carries the intermediate so a root-only daemon accepts it.
    assert_eq!(m.cert_pem.unwrap().matches("BEGIN CERTIFICATE").count(), 2);
}

#[test]
fn lone_ca_that_did_not_sign_is_a_warning() {
    let (_, c) = std_set();
    let other = ca("Other CA");
    let t = tar_bytes(&[
        ("ca.pem", other.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("x.tar", &t).unwrap();
    assert_eq!(
        m.ca.as_ref().unwrap().common_name.as_deref(),
        Some("Other CA")
    );
    said_snapshot(&m, "lone-foreign-ca");
}

#[test]
fn several_foreign_cas_is_an_error() {
    let (_, c) = std_set();
    let (a, b) = (ca("A"), ca("B"));
    let t = tar_bytes(&[
        ("a.pem", a.id.cert_pem.as_bytes()),
        ("b.pem", b.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    refusal_snapshot("x.tar", &t, "several-foreign-cas");
}

#[test]
fn missing_ca() {
    let (_, c) = std_set();
    let t = tar_bytes(&[
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    refusal_snapshot("x.tar", &t, "missing-ca");
    let d = tempfile::tempdir().unwrap();
    let o = Options {
        allow_no_ca: true,
        ..opts()
    };
    let m = read_path(&write(d.path(), "x.tar", &t), &o).unwrap();
    assert!(m.ca.is_none() && m.ca_pem.is_none());
    assert!(m.cert.is_some());
}

#[test]
fn key_does_not_match_cert() {
    let (ca, c) = std_set();
    let other = client(&ca);
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("client.crt", c.cert_pem.as_bytes()),
        ("client.key", other.key_pem.as_bytes()),
    ]);
    // Names both files, and prints no key.
    refusal_snapshot("prod.tar", &t, "key-does-not-match");
}

#[test]
fn cert_without_any_key() {
    let (ca, c) = std_set();
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
    ]);
    refusal_snapshot("x.tar", &t, "cert-without-key");
}

#[test]
fn key_without_cert() {
    let (ca, c) = std_set();
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    refusal_snapshot("x.tar", &t, "key-without-cert");
}

#[test]
fn two_client_identities_are_ambiguous() {
    let (ca, c) = std_set();
    let c2 = leaf_with("client2", &[Eku::ClientAuth], &ca, |_| {});
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
        ("cert2.pem", c2.cert_pem.as_bytes()),
        ("key2.pem", c2.key_pem.as_bytes()),
    ]);
    refusal_snapshot("x.tar", &t, "two-identities");
}

/// `x.tar` is refused naming cert.pem and `problem`; with `force` it
/// imports, and the warning mentions `warning`.
fn refused_unless_forced(t: &[u8], problem: &str, warning: &str) {
    let e = err_bytes("x.tar", t);
    assert!(
        e.contains("cert.pem in x.tar") && e.contains(problem),
        "{e}"
    );
    let d = tempfile::tempdir().unwrap();
    let o = Options {
        force: true,
        ..opts()
    };
    let m = read_path(&write(d.path(), "x.tar", t), &o).unwrap();
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains(warning) && !w.contains("pass --force")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn expired_client_cert() {
    let ca = ca("Test CA");
    let c = leaf_with("old", &[Eku::ClientAuth], &ca, |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    refused_unless_forced(&t, "expired", "expired");
}

/// A serverAuth-only identity is the daemon's: refused, forced or not (no
/// client could use it), and the message says what is needed instead.
#[test]
fn server_only_cert_is_refused_even_forced() {
    let ca = ca("Test CA");
    let s = server(&ca);
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", s.cert_pem.as_bytes()),
        ("key.pem", s.key_pem.as_bytes()),
    ]);
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "x.tar", &t);
    for force in [false, true] {
        let o = Options { force, ..opts() };
        let e = read_path(&p, &o).err().unwrap();
        assert!(matches!(e, BundleError::ServerCert { .. }), "{e}");
        let e = e.to_string();
        assert!(
            e.starts_with("cert.pem in x.tar: this is a server certificate and key")
                && e.contains("you need a client certificate")
                && !e.contains("--force"),
            "{e}"
        );
    }
}

/// A certificate for neither client nor server auth (codeSigning only) is
/// still refused unless forced; the forced warning does not ask for --force.
#[test]
fn other_usage_cert_is_refused_unless_forced() {
    let ca = ca("Test CA");
    let c = leaf_with("signer", &[Eku::CodeSigning], &ca, |_| {});
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    refused_unless_forced(&t, "client authentication", "imported anyway (--force)");
}

#[test]
fn chain_loop_does_not_hang() {
    // A and B cross-sign each other; the client is issued by A.
    let ka = KeyPair::generate().unwrap();
    let kb = KeyPair::generate().unwrap();
    let ia = Issuer::new(
        ca_params("A"),
        KeyPair::from_pem(&ka.serialize_pem()).unwrap(),
    );
    let ib = Issuer::new(
        ca_params("B"),
        KeyPair::from_pem(&kb.serialize_pem()).unwrap(),
    );
    let a_by_b = ca_params("A").signed_by(&ka, &ib).unwrap();
    let b_by_a = ca_params("B").signed_by(&kb, &ia).unwrap();
    let a = Ca {
        id: Id {
            cn: "A".into(),
            cert_pem: a_by_b.pem(),
            cert_der: a_by_b.der().to_vec(),
            key_pem: String::new(),
        },
        issuer: ia,
    };
    let c = client(&a);
    let t = tar_bytes(&[
        ("a.pem", a.id.cert_pem.as_bytes()),
        ("b.pem", b_by_a.pem().as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("loop.tar", &t).unwrap();
    assert_eq!(m.ca.unwrap().common_name.as_deref(), Some("A"));
    assert_eq!(m.ca_pem.unwrap().matches("BEGIN CERTIFICATE").count(), 2);
}

// ---------------------------------------------------------------- encryption

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn with_pass<'a>(
    p: &'static str,
    asked: &'a mut Vec<String>,
) -> impl FnMut(&str) -> Result<Zeroizing<String>, BundleError> + 'a {
    move |what: &str| {
        asked.push(what.to_string());
        Ok(Zeroizing::new(p.to_string()))
    }
}

/// Build a tar with ca.pem, cert.pem and `key.pem` = the client key
/// transformed by `openssl <args>` (run in a temp dir on `in.pem`).
fn tar_with_openssl_key(ca: &Ca, c: &Id, args: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "in.pem", c.key_pem.as_bytes());
    openssl(args, d.path());
    let raw = std::fs::read(d.path().join("out.pem")).unwrap();
    // DER output is binary: the returned text is only for marker checks.
    let key = String::from_utf8_lossy(&raw).into_owned();
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", &raw),
    ]);
    let p = write(d.path(), "prod.tar", &t);
    (d, p, key)
}

/// `check_encrypted`'s marker for a key written as bare DER.
const DER: &str = "<der>";

fn check_encrypted(args: &[&str], marker: &str, out_label: &str) {
    let (ca, c) = std_set();
    let (_d, p, key) = tar_with_openssl_key(&ca, &c, args);
    if marker == DER {
        // Bare DER: a SEQUENCE, no PEM armour anywhere.
        assert!(
            key.starts_with('0') && !key.contains("-----BEGIN"),
            "{key:?}"
        );
    } else {
        assert!(!marker.is_empty() && key.contains(marker), "{key}");
    }
    let src = Source::Bundle(p);
    let mut asked = Vec::new();
    let m = bundle::read(&src, &opts(), &mut with_pass("s3cret", &mut asked)).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(asked, ["key.pem in prod.tar"]);
    let k = m.key_pem.unwrap();
    assert!(
        k.starts_with(&format!("-----BEGIN {out_label}-----\n")),
        "{}",
        &k[..40]
    );
    // Wrong passphrase: a clear, typed error that names the file.
    let mut asked = Vec::new();
    let e = bundle::read(&src, &opts(), &mut with_pass("wrong", &mut asked))
        .err()
        .unwrap();
    assert!(matches!(e, BundleError::WrongPassphrase { .. }), "{e}");
    assert_eq!(e.to_string(), "key.pem in prod.tar: wrong passphrase");
    // The prompt's own error (e.g. no TTY) is propagated unchanged.
    let e = bundle::read(&src, &opts(), &mut |_: &str| {
        Err(BundleError::Other("no tty".into()))
    })
    .err()
    .unwrap();
    assert_eq!(e.to_string(), "no tty");
}

#[test]
fn encrypted_pkcs8_pbes2() {
    check_encrypted(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:s3cret",
        ],
        "ENCRYPTED PRIVATE KEY",
        "PRIVATE KEY",
    );
}

/// `openssl pkcs8 -topk8 -outform der`: encrypted PKCS#8 as bare DER.
#[test]
fn encrypted_pkcs8_der() {
    check_encrypted(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-outform",
            "der",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:s3cret",
        ],
        DER,
        "PRIVATE KEY",
    );
}

#[test]
fn legacy_pem_aes256() {
    check_encrypted(
        &[
            "ec",
            "-aes256",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:s3cret",
        ],
        "DEK-Info: AES-256-CBC",
        "EC PRIVATE KEY",
    );
}

/// `key` encrypted by `openssl pkcs8 -topk8` with `pass` (PKCS#8 PBES2).
fn encrypted(key: &str, pass: &str) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "in.pem", key.as_bytes());
    let passout = format!("pass:{pass}");
    openssl(
        &[
            "pkcs8", "-topk8", "-in", "in.pem", "-out", "out.pem", "-passout", &passout,
        ],
        d.path(),
    );
    std::fs::read(d.path().join("out.pem")).unwrap()
}

/// An encrypted key is decrypted only while the client key may be among
/// them: with the client key in clear, the CA's encrypted key is never
/// asked for (a warning says it was skipped); with the client key
/// encrypted too, only the client key's passphrase is asked, once.
#[test]
fn encrypted_keys_are_unlocked_only_while_the_client_key_is_missing() {
    let (ca, c) = std_set();
    let ca_key = encrypted(&ca.id.key_pem, "ca-secret");
    let t = tar_bytes(&[
        ("ca-key.pem", &ca_key),
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let d = tempfile::tempdir().unwrap();
    let src = Source::Bundle(write(d.path(), "x.tar", &t));
    let mut asked = Vec::new();
    let m = bundle::read(&src, &opts(), &mut with_pass("wrong", &mut asked)).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert!(asked.is_empty(), "{asked:?}");
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("ca-key.pem in x.tar") && w.contains("skipped")),
        "{:?}",
        m.warnings
    );
    // Both encrypted, the CA's file read first: one prompt, for key.pem.
    let client_key = encrypted(&c.key_pem, "client-secret");
    let t = tar_bytes(&[
        ("ca-key.pem", &ca_key),
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", &client_key),
    ]);
    let src = Source::Bundle(write(d.path(), "y.tar", &t));
    let mut asked = Vec::new();
    let m = bundle::read(&src, &opts(), &mut with_pass("client-secret", &mut asked)).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(asked, ["key.pem in y.tar"]);
}

#[test]
fn legacy_pem_aes128() {
    check_encrypted(
        &[
            "ec",
            "-aes128",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:s3cret",
        ],
        "DEK-Info: AES-128-CBC",
        "EC PRIVATE KEY",
    );
}

#[test]
fn legacy_pem_des3() {
    check_encrypted(
        &[
            "ec",
            "-des3",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:s3cret",
        ],
        "DEK-Info: DES-EDE3-CBC",
        "EC PRIVATE KEY",
    );
}

#[test]
fn legacy_rsa_pem_aes192() {
    // An RSA client identity, key written by `openssl rsa -traditional`.
    let d = tempfile::tempdir().unwrap();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k8.pem",
        ],
        d.path(),
    );
    let k8 = std::fs::read_to_string(d.path().join("k8.pem")).unwrap();
    let ca = ca("Test CA");
    let key = KeyPair::from_pem(&k8).unwrap();
    let mut p = params("rsa-client");
    p.extended_key_usages = vec![Eku::ClientAuth];
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    let c = Id {
        cn: "rsa-client".into(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: k8,
    };
    let (_d, p, key) = tar_with_openssl_key(
        &ca,
        &c,
        &[
            "rsa",
            "-traditional",
            "-aes192",
            "-in",
            "in.pem",
            "-out",
            "out.pem",
            "-passout",
            "pass:pw",
        ],
    );
    assert!(key.contains("BEGIN RSA PRIVATE KEY") && key.contains("AES-192-CBC"));
    let mut asked = Vec::new();
    let m = bundle::read(
        &Source::Bundle(p),
        &opts(),
        &mut with_pass("pw", &mut asked),
    )
    .unwrap();
    assert_ok(&m, &c, &ca.id);
    assert!(
        m.key_pem
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
}

fn p12(legacy: bool) -> (Ca, Id, tempfile::TempDir, PathBuf) {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "cert.pem", c.cert_pem.as_bytes());
    write(d.path(), "key.pem", c.key_pem.as_bytes());
    write(d.path(), "ca.pem", ca.id.cert_pem.as_bytes());
    let mut args = vec![
        "pkcs12",
        "-export",
        "-in",
        "cert.pem",
        "-inkey",
        "key.pem",
        "-certfile",
        "ca.pem",
        "-passout",
        "pass:p12pass",
        "-out",
        "client.pfx",
    ];
    if legacy {
        args.push("-legacy");
    }
    openssl(&args, d.path());
    let p = d.path().join("client.pfx");
    // Keep only the .p12 in a separate dir so the PEM inputs are not read.
    let only = d.path().join("only");
    std::fs::create_dir(&only).unwrap();
    std::fs::rename(&p, only.join("client.bin")).unwrap();
    (ca, c, d, only.join("client.bin"))
}

fn check_p12(legacy: bool) {
    let (ca, c, _d, p) = p12(legacy);
    let src = Source::Bundle(p);
    let mut asked = Vec::new();
    let m = bundle::read(&src, &opts(), &mut with_pass("p12pass", &mut asked)).unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(asked, ["client.bin"]);
    let mut asked = Vec::new();
    let e = bundle::read(&src, &opts(), &mut with_pass("nope", &mut asked))
        .err()
        .unwrap();
    assert!(matches!(e, BundleError::WrongPassphrase { .. }), "{e}");
}

#[test]
fn p12_openssl3_default_aes_pbkdf2() {
    check_p12(false);
}

#[test]
fn p12_legacy_rc2_3des() {
    check_p12(true);
}

// ---------------------------------------------------------------- hostile

#[test]
fn tar_path_traversal_absolute_and_special_entries() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (tar_bytes(&[("../evil.pem", b"x")]), ".."),
        (tar_bytes(&[("a/../../evil.pem", b"x")]), ".."),
        (tar_bytes(&[("/etc/evil.pem", b"x")]), "absolute"),
        (
            tar_special("link.pem", tar::EntryType::Symlink, Some("/etc/passwd")),
            "symbolic link",
        ),
        (
            tar_special("hard.pem", tar::EntryType::Link, Some("ca.pem")),
            "hard link",
        ),
        (tar_special("dev", tar::EntryType::Char, None), "device"),
        (tar_special("blk", tar::EntryType::Block, None), "device"),
        (tar_special("fifo", tar::EntryType::Fifo, None), "FIFO"),
    ];
    // Each refused, naming the entry, in evil.tar and gzipped alike.
    let mut said = String::new();
    for (t, what) in cases {
        said += &format!(
            "{what}:\n  {}\n  {}\n",
            err_bytes("evil.tar", &t),
            err_bytes("evil.tgz", &gzip(&t))
        );
    }
    text_snapshot!(Filters::new(), "hostile-tar-entries", said);
}

#[test]
fn zip_absolute_raw_name_traversal_symlink_and_fifo() {
    let mut said = err_bytes("evil.zip", &zip_bytes(&[("/etc/evil.pem", b"x")]));
    said += "\n";
    said += &err_bytes("evil.zip", &zip_bytes(&[("../evil.pem", b"x")]));

    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    z.add_symlink(
        "link.pem",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    said += "\n";
    said += &err_bytes("evil.zip", &z.finish().unwrap().into_inner());

    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().external_attributes(0o010_644 << 16);
    z.start_file("fifo", o).unwrap();
    said += "\n";
    said += &err_bytes("evil.zip", &z.finish().unwrap().into_inner());
    // Absolute, '..', symbolic link, FIFO: each refused by name.
    text_snapshot!(Filters::new(), "hostile-zip-entries", said);
}

#[test]
fn gzip_bomb_is_refused() {
    let big = vec![0u8; 20 << 20];
    let t = tar_bytes(&[("zeros.pem", &big)]);
    let e = err_bytes("b.tgz", &gzip(&t));
    // The reason is the 10 MiB expansion limit (reading stops there).
    assert!(e.starts_with("b.tgz: expands to more than 10 MiB"), "{e}");
}

#[test]
fn zip_bomb_is_refused() {
    let big = vec![b'A'; 20 << 20];
    let e = err_bytes("bomb.zip", &zip_bytes(&[("a.pem", &big)]));
    assert!(
        e.starts_with("bomb.zip: expands to more than 10 MiB"),
        "{e}"
    );
    // Many entries each under the limit, together over it.
    let chunk = vec![b'A'; 3 << 20];
    let e = err_bytes(
        "bomb.zip",
        &zip_bytes(&[("a", &chunk), ("b", &chunk), ("c", &chunk), ("d", &chunk)]),
    );
    assert!(
        e.starts_with("bomb.zip: expands to more than 10 MiB"),
        "{e}"
    );
}

#[test]
fn too_many_entries() {
    let names: Vec<String> = (0..1001).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let said = format!(
        "{}\n{}",
        err_bytes("many.tar", &tar_bytes(&files)),
        err_bytes("many.zip", &zip_bytes(&files))
    );
    text_snapshot!(Filters::new(), "too-many-entries", said);
}

#[test]
fn garbage_is_not_a_bundle() {
    let e = err_bytes("junk.bin", b"\x00\x01\x02 this is not a bundle");
    assert!(e.starts_with("not a recognised bundle: junk.bin"), "{e}");
    let e = err_bytes("junk.tgz", b"\x1f\x8b\x08\x00garbage");
    assert!(e.starts_with("junk.tgz: corrupt archive"), "{e}");
    let e = err_bytes("junk.zip", b"PK\x03\x04garbage");
    assert!(e.starts_with("junk.zip: corrupt archive"), "{e}");
    refusal_snapshot("empty", b"", "empty-file");
}

#[test]
fn bad_pem_and_bad_der_name_the_file() {
    let t = tar_bytes(&[(
        "certs/ca.pem",
        b"-----BEGIN CERTIFICATE-----\nM@@@\n-----END CERTIFICATE-----\n",
    )]);
    refusal_snapshot("x.tar", &t, "bad-pem");
    let t = tar_bytes(&[(
        "client.crt",
        &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02],
    )]);
    refusal_snapshot("x.tar", &t, "bad-der");
}

#[test]
fn five_megabyte_pem_line() {
    let mut s = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    s.extend(std::iter::repeat_n(b'Q', 5 << 20));
    s.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    let e = err_bytes("b.tar", &tar_bytes(&[("b.pem", &s)]));
    // Parsed, not cut off: 5 MiB is under the limit, and it is no certificate.
    assert!(
        e.starts_with("b.pem in b.tar: malformed PEM: CERTIFICATE block: not an X.509 certificate"),
        "{e}"
    );
}

#[test]
fn non_utf8_names_do_not_panic() {
    let (ca, c) = std_set();
    let mut t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
        ("readme", b"hi"),
    ]);
    // Rename the 4th entry to invalid UTF-8 in place.
    let mut ar = tar::Archive::new(&t[..]);
    let off = ar
        .entries()
        .unwrap()
        .nth(3)
        .unwrap()
        .unwrap()
        .raw_header_position() as usize;
    let mut h = tar::Header::from_byte_slice(&t[off..off + 512]).clone();
    raw_tar_name(&mut h, b"\xff\xfe.txt");
    t[off..off + 512].copy_from_slice(h.as_bytes());
    let m = read_bytes("x.tar", &t).unwrap();
    assert_ok(&m, &c, &ca.id);

    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "ca.pem", ca.id.cert_pem.as_bytes());
        std::fs::write(
            d.path().join(std::ffi::OsStr::from_bytes(b"\xff.pem")),
            c.cert_pem.as_bytes(),
        )
        .unwrap();
        write(d.path(), "key.pem", c.key_pem.as_bytes());
        assert_ok(&read_path(d.path(), &opts()).unwrap(), &c, &ca.id);
    }
}

#[test]
fn nothing_is_asked_for_unencrypted_bundles_and_keys_never_leak() {
    let (ca, c) = std_set();
    let other = client(&ca);
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", other.key_pem.as_bytes()),
    ]);
    let e = read_bytes("x.tar", &t).err().unwrap();
    let body: String = other.key_pem.lines().nth(1).unwrap().into();
    assert!(!format!("{e:?}").contains(&body));
    assert!(!e.to_string().contains(&body));
}

/// A FIFO in a bundle directory would block a naive reader forever.
#[cfg(unix)]
#[test]
fn directory_with_fifo_and_symlinks_does_not_block() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ca.pem", ca.id.cert_pem.as_bytes());
    write(d.path(), "real/cert.pem", c.cert_pem.as_bytes());
    write(d.path(), "key.pem", c.key_pem.as_bytes());
    let fifo = d.path().join("pipe.pem");
    let cpath = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink(&fifo, d.path().join("link-to-pipe.pem")).unwrap();
    // A symlink loop back to the root must not be followed.
    std::os::unix::fs::symlink(d.path(), d.path().join("loop")).unwrap();
    let m = read_path(d.path(), &opts()).unwrap();
    assert_ok(&m, &c, &ca.id);
    let notes = m.notes.join("\n");
    let skipped = |name: &str, why: &str| {
        m.notes
            .iter()
            .any(|n| n.starts_with(&format!("skipped {name} in ")) && n.ends_with(why))
    };
    assert!(skipped("pipe.pem", "(not a regular file)"), "{notes}");
    assert!(
        skipped("link-to-pipe.pem", "(symlink to a non-file)"),
        "{notes}"
    );
    assert!(skipped("loop", "(symlink to a non-file)"), "{notes}");
}

/// One passphrase unlocks every object encrypted with it: asked once.
#[test]
fn passphrase_is_asked_once_for_several_encrypted_objects() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "in.pem", c.key_pem.as_bytes());
    openssl(
        &[
            "pkcs8", "-topk8", "-v2", "aes256", "-in", "in.pem", "-out", "a.pem", "-passout",
            "pass:pw",
        ],
        d.path(),
    );
    openssl(
        &[
            "ec", "-aes256", "-in", "in.pem", "-out", "b.pem", "-passout", "pass:pw",
        ],
        d.path(),
    );
    let a = std::fs::read(d.path().join("a.pem")).unwrap();
    let b = std::fs::read(d.path().join("b.pem")).unwrap();
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", &a),
        ("key-copy.pem", &b),
    ]);
    let p = write(d.path(), "x.tar", &t);
    let mut asked = Vec::new();
    let m = bundle::read(
        &Source::Bundle(p),
        &opts(),
        &mut with_pass("pw", &mut asked),
    )
    .unwrap();
    assert_ok(&m, &c, &ca.id);
    assert_eq!(asked, ["key.pem in x.tar"]);
}

// ---------------------------------------------------------------- pax / git archive

/// The typeflag of every header block in a tar (walking sizes, no library).
fn tar_typeflags(t: &[u8]) -> Vec<u8> {
    let mut flags = Vec::new();
    let mut off = 0;
    while off + 512 <= t.len() && t[off] != 0 {
        let h = &t[off..off + 512];
        let size = std::str::from_utf8(&h[124..136])
            .unwrap()
            .trim_matches(|c: char| c == '\0' || c == ' ');
        let size = u64::from_str_radix(size, 8).unwrap() as usize;
        flags.push(h[156]);
        off += 512 + size.div_ceil(512) * 512;
    }
    flags
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run ({e}); install it (see .ci/test)"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 10 #13: `git archive` starts with a pax global header ('g'),
/// which was refused as "unsupported tar entry type".
#[test]
fn git_archive_tar_and_tgz_import() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    write(&repo, "docker/ca.pem", ca.id.cert_pem.as_bytes());
    write(&repo, "docker/cert.pem", c.cert_pem.as_bytes());
    write(&repo, "docker/key.pem", c.key_pem.as_bytes());
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .current_dir(&repo)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", d.path()),
            &format!("git {}", args.join(" ")),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "certs"]);
    for (file, format) in [("b.tar", "tar"), ("b.tgz", "tgz")] {
        let out = d.path().join(file);
        git(&[
            "archive",
            &format!("--format={format}"),
            "-o",
            out.to_str().unwrap(),
            "HEAD",
        ]);
        let data = std::fs::read(&out).unwrap();
        if format == "tar" {
            assert_eq!(
                tar_typeflags(&data)[0],
                b'g',
                "git wrote no pax global header"
            );
        }
        let m = read_path(&out, &opts()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_ok(&m, &c, &ca.id);
    }
}

/// Python's `tarfile` in PAX format: a global header and per-entry 'x'
/// headers (a non-ASCII name, a name longer than 100 bytes).
#[test]
fn python_pax_archive_imports() {
    let (ca, c) = std_set();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let long = format!("{}/cert.pem", "d".repeat(120));
    write(&src, "clé/ca.pem", ca.id.cert_pem.as_bytes());
    write(&src, &long, c.cert_pem.as_bytes());
    write(&src, "key.pem", c.key_pem.as_bytes());
    let out = d.path().join("b.tar");
    let script = r#"
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT,
                  pax_headers={"comment": "made by python"}) as t:
    for name in sys.argv[3:]:
        t.add(sys.argv[2] + "/" + name, arcname=name)
"#;
    run_ok(
        Command::new("python3")
            .args(["-c", script])
            .arg(&out)
            .arg(&src)
            .args(["clé/ca.pem", &long, "key.pem"]),
        "python3 tarfile",
    );
    let data = std::fs::read(&out).unwrap();
    let flags = tar_typeflags(&data);
    assert_eq!(flags[0], b'g', "{flags:?}");
    assert!(flags.contains(&b'x'), "{flags:?}");
    let m = read_path(&out, &opts()).unwrap();
    assert_ok(&m, &c, &ca.id);
    // The pax path (clé/ca.pem) names the files.
    said_snapshot(&m, "pax-paths");
}

/// A pax `path=` record is the entry's name: traversal through it is
/// refused like a raw `../` name, and a global header may not rename.
#[test]
fn pax_path_records_are_checked() {
    let (ca, c) = std_set();
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("path", &b"../../evil.pem"[..])])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(c.key_pem.len() as u64);
    h.set_mode(0o644);
    raw_tar_name(&mut h, b"key.pem");
    b.append(&h, c.key_pem.as_bytes()).unwrap();
    let e = err_bytes("b.tar", &b.into_inner().unwrap());
    assert!(
        e.starts_with("../../evil.pem in b.tar: path with '..' component"),
        "{e}"
    );

    let mut b = tar::Builder::new(Vec::new());
    let records = b"31 path=../../etc/cron.d/x.pem\n";
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XGlobalHeader);
    h.set_size(records.len() as u64);
    raw_tar_name(&mut h, b"pax_global_header");
    b.append(&h, &records[..]).unwrap();
    for (n, d) in [
        ("ca.pem", &ca.id.cert_pem),
        ("cert.pem", &c.cert_pem),
        ("key.pem", &c.key_pem),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        raw_tar_name(&mut h, n.as_bytes());
        b.append(&h, d.as_bytes()).unwrap();
    }
    refusal_snapshot("b.tar", &b.into_inner().unwrap(), "pax-global-path");
}

// ---------------------------------------------------------------- two CAs, real daemon

/// Issue 10 #12: ca.pem holds the client CA and a separate server CA. The
/// server CA was dropped at import ("did not issue the client certificate")
/// and `docker --context` then failed with "unknown authority".
#[test]
fn two_ca_bundle_verifies_the_daemon_with_docker() {
    use crate::support::{self, TestCa};
    let client_ca = TestCa::new("client CA");
    let server_ca = TestCa::new("server CA");
    let srv = server_ca.server(&["127.0.0.1", "localhost"]);
    let alice = client_ca.client("alice");
    let dir = support::procs::scratch_dir("two-ca-dockerd");
    for (f, data) in [
        ("client-ca.pem", &client_ca.cert_pem),
        ("server.pem", &srv.cert_pem),
        ("server-key.pem", &srv.key_pem),
    ] {
        std::fs::write(dir.join(f), data).unwrap();
    }
    let port = support::free_port();
    let socket = dir.join("docker.sock");
    let mut child = support::dockerd::spawn_dockerd(
        &dir,
        &[
            "--tlsverify".into(),
            format!("--tlscacert={}", dir.join("client-ca.pem").display()),
            format!("--tlscert={}", dir.join("server.pem").display()),
            format!("--tlskey={}", dir.join("server-key.pem").display()),
            format!("-H=tcp://127.0.0.1:{port}"),
            format!("-H=unix://{}", socket.display()),
        ],
    );
    support::procs::wait_tcp(
        &format!("127.0.0.1:{port}"),
        &mut child,
        "dockerd (two CAs)",
        &dir.join("dockerd.log"),
    );
    let want = support::dockerd::socket_version(&socket);

    let sb = support::Sandbox::new();
    let bundle = sb.path("b");
    support::write_tree(
        &bundle,
        &[
            (
                "ca.pem",
                &format!("{}{}", client_ca.cert_pem, server_ca.cert_pem),
            ),
            ("cert.pem", &alice.cert_pem),
            ("key.pem", &alice.key_pem),
        ],
    );
    let host = format!("tcp://127.0.0.1:{port}");
    // The client CA is chosen because it issued the client certificate;
    // the server CA is kept too.
    dctx_snapshot!(
        Filters::sandbox(&sb),
        sb.dctx_cmd(&[
            "add",
            "twoca",
            "--bundle",
            bundle.to_str().unwrap(),
            "--host",
            &host,
        ]),
        "add-two-cas"
    );
    assert_eq!(sb.context_server_version("twoca"), want);
    crate::support::dockerd::stop_dockerd(&mut child, &dir);
}

// ---------------------------------------------------------------- CA only

#[test]
fn ca_only_bundle_needs_the_option() {
    let (ca, c) = std_set();
    let t = tar_bytes(&[("ca.pem", ca.id.cert_pem.as_bytes())]);
    let e = err_bytes("b.tar", &t);
    assert!(
        e.starts_with("b.tar: no client certificate with its private key"),
        "{e}"
    );
    let d = tempfile::tempdir().unwrap();
    let o = Options {
        allow_ca_only: true,
        ..opts()
    };
    let m = read_path(&write(d.path(), "b.tar", &t), &o).unwrap();
    assert!(m.cert.is_none() && m.cert_pem.is_none() && m.key_pem.is_none());
    assert_eq!(m.ca.unwrap().common_name.as_deref(), Some("Test CA"));
    assert_eq!(
        pem::parse(m.ca_pem.unwrap()).unwrap().contents(),
        ca.id.cert_der
    );
    // A client certificate without its key is still an incomplete bundle.
    let t = tar_bytes(&[
        ("ca.pem", ca.id.cert_pem.as_bytes()),
        ("cert.pem", c.cert_pem.as_bytes()),
    ]);
    let e = read_path(&write(d.path(), "c.tar", &t), &o).unwrap_err();
    assert!(matches!(e, BundleError::NoKeyForCert { .. }), "{e}");
}

/// The helper `add` can use when the host answers at import: which bundled
/// CA verifies the chain the daemon served.
#[test]
fn verifying_ca_names_the_server_ca() {
    use dctx::pki::inspect::certs_from_pem;
    let (client_ca, c) = std_set();
    let server_ca = ca("Server CA");
    let srv = server(&server_ca);
    let t = tar_bytes(&[
        (
            "ca.pem",
            format!("{}{}", client_ca.id.cert_pem, server_ca.id.cert_pem).as_bytes(),
        ),
        ("cert.pem", c.cert_pem.as_bytes()),
        ("key.pem", c.key_pem.as_bytes()),
    ]);
    let m = read_bytes("b.tar", &t).unwrap();
    let cas = certs_from_pem(m.ca_pem.unwrap().as_bytes());
    let served = certs_from_pem(srv.cert_pem.as_bytes());
    let v = bundle::verifying_ca(&cas, &served).unwrap();
    assert_eq!(v.common_name.as_deref(), Some("Server CA"));
    // The client CA alone does not verify this daemon.
    assert!(bundle::verifying_ca(&cas[..1], &served).is_none());
}
