//! Hostile and broken bundles at the CLI: every case exits non-zero, names
//! the problem, and leaves dctx's store, ~/.docker and config.json
//! byte-identical (hash of every file and mode under HOME).

use std::io::Write;

use crate::support::{Leaf, Sandbox, TestCa, write_tree};

fn tar_with_raw_entry(
    name: &[u8],
    kind: tar::EntryType,
    link: Option<&[u8]>,
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        // A benign first entry so the bad one is not simply "first".
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_path("readme.txt").unwrap();
        h.set_cksum();
        b.append(&h, &b"hi\n"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        // Write the name bytes raw: the tar crate refuses `..` and `/` itself.
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            gnu.linkname[..l.len()].copy_from_slice(l);
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
        b.finish().unwrap();
    }
    out
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A tar whose single big member expands to `size` zero bytes.
fn tar_bomb(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        let mut h = tar::Header::new_gnu();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_path("zeros.pem").unwrap();
        h.set_cksum();
        b.append(&h, std::io::repeat(0).take_exact(size)).unwrap();
        b.finish().unwrap();
    }
    out
}

trait TakeExact {
    fn take_exact(self, n: usize) -> std::io::Take<std::io::Repeat>;
}
impl TakeExact for std::io::Repeat {
    fn take_exact(self, n: usize) -> std::io::Take<std::io::Repeat> {
        std::io::Read::take(self, n as u64)
    }
}

struct Case {
    name: &'static str,
    file: &'static str,
    data: Vec<u8>,
    /// A phrase only this refusal prints (case-insensitive); neither the
    /// fixture's file name nor the profile name contains it.
    expect: &'static [&'static str],
}

#[test]
fn hostile_bundles_are_rejected_and_write_nothing() {
    let ca = TestCa::new("hostile CA");
    let client = ca.client("alice");
    let other = ca.client("bob");
    let expired = ca.issue(&Leaf::client("old").days(-3));
    let mut wrong_eku = Leaf::client("signer");
    wrong_eku.eku = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    let wrong_eku = ca.issue(&wrong_eku);
    let good_tar = |ca_pem: &str, cert: &str, key: &str| {
        let mut out = Vec::new();
        {
            let mut b = tar::Builder::new(&mut out);
            for (n, d) in [("ca.pem", ca_pem), ("cert.pem", cert), ("key.pem", key)] {
                if d.is_empty() {
                    continue;
                }
                let mut h = tar::Header::new_gnu();
                h.set_size(d.len() as u64);
                h.set_mode(0o600);
                h.set_path(n).unwrap();
                h.set_cksum();
                b.append(&h, d.as_bytes()).unwrap();
            }
            b.finish().unwrap();
        }
        out
    };
    let pem_line = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "A".repeat(5 << 20)
    );
    let truncated = {
        let t = gz(&good_tar(&ca.cert_pem, &client.cert_pem, &client.key_pem));
        t[..t.len() / 2].to_vec()
    };
    let cases = vec![
        Case {
            name: "tar-slip",
            file: "b1.tar",
            data: tar_with_raw_entry(
                b"../../evil.pem",
                tar::EntryType::Regular,
                None,
                client.key_pem.as_bytes(),
            ),
            expect: &["path with '..' component"],
        },
        Case {
            name: "absolute",
            file: "b2.tar",
            data: tar_with_raw_entry(
                b"/tmp/evil.pem",
                tar::EntryType::Regular,
                None,
                client.key_pem.as_bytes(),
            ),
            expect: &["absolute path"],
        },
        Case {
            name: "symlink",
            file: "b3.tar",
            data: tar_with_raw_entry(
                b"ca.pem",
                tar::EntryType::Symlink,
                Some(b"/etc/passwd"),
                b"",
            ),
            expect: &["symbolic link"],
        },
        Case {
            name: "hardlink",
            file: "b4.tar",
            data: tar_with_raw_entry(b"ca.pem", tar::EntryType::Link, Some(b"readme.txt"), b""),
            expect: &["hard link"],
        },
        Case {
            name: "device",
            file: "b5.tar",
            data: tar_with_raw_entry(b"null", tar::EntryType::Char, None, b""),
            expect: &["device node"],
        },
        Case {
            name: "zip-absolute",
            file: "b6.zip",
            data: zip_with(&[("/abs/key.pem", client.key_pem.as_bytes())]),
            expect: &["absolute path"],
        },
        Case {
            name: "zip-slip",
            file: "b7.zip",
            data: zip_with(&[("../key.pem", client.key_pem.as_bytes())]),
            expect: &["path with '..' component"],
        },
        Case {
            name: "gzip-bomb",
            file: "b8.tgz",
            data: gz(&tar_bomb(64 << 20)),
            expect: &["expands to more than 10 MiB"],
        },
        Case {
            name: "zip-bomb",
            file: "b9.zip",
            data: zip_with(&[("zeros.pem", &vec![0u8; 64 << 20])]),
            expect: &["expands to more than 10 MiB"],
        },
        Case {
            name: "truncated",
            file: "b10.tgz",
            data: truncated,
            expect: &["corrupt archive"],
        },
        Case {
            name: "garbage",
            file: "b11.bin",
            data: (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            expect: &["not a recognised bundle"],
        },
        Case {
            name: "bad-base64",
            file: "b12.tar",
            data: good_tar(
                "-----BEGIN CERTIFICATE-----\n!!!notbase64***\n-----END CERTIFICATE-----\n",
                &client.cert_pem,
                &client.key_pem,
            ),
            expect: &["bad base64 in CERTIFICATE block"],
        },
        Case {
            name: "huge-pem-line",
            file: "b13.tar",
            data: good_tar(&pem_line, &client.cert_pem, &client.key_pem),
            expect: &["CERTIFICATE block: not an X.509 certificate"],
        },
        Case {
            name: "key-mismatch",
            file: "b14.tar",
            data: good_tar(&ca.cert_pem, &client.cert_pem, &other.key_pem),
            expect: &["matches no client certificate"],
        },
        Case {
            name: "no-ca",
            file: "b15.tar",
            data: good_tar("", &client.cert_pem, &client.key_pem),
            expect: &["no CA certificate in the bundle"],
        },
        Case {
            name: "expired",
            file: "b16.tar",
            data: good_tar(&ca.cert_pem, &expired.cert_pem, &expired.key_pem),
            expect: &["client certificate expired on"],
        },
        Case {
            name: "no-clientauth",
            file: "b17.tar",
            data: good_tar(&ca.cert_pem, &wrong_eku.cert_pem, &wrong_eku.key_pem),
            expect: &["lacks clientAuth"],
        },
        Case {
            name: "key-missing",
            file: "b18.tar",
            data: good_tar(&ca.cert_pem, &client.cert_pem, ""),
            expect: &["no private key in the bundle matches this certificate"],
        },
        Case {
            // Two complete client identities: which one? Refuse, don't guess.
            name: "two-identities",
            file: "b19.tar",
            data: good_tar(
                &ca.cert_pem,
                &format!("{}{}", client.cert_pem, other.cert_pem),
                &format!("{}{}", client.key_pem, other.key_pem),
            ),
            expect: &["ambiguous bundle: two different client identities"],
        },
        Case {
            name: "der-not-a-cert",
            file: "b20.tar",
            // A well-formed DER SEQUENCE { INTEGER 1 } in a certificate's clothes.
            data: good_tar(
                "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
                &client.cert_pem,
                &client.key_pem,
            ),
            expect: &["CERTIFICATE block: not an X.509 certificate"],
        },
        Case {
            name: "non-utf8-name-and-no-key",
            file: "b21.tar",
            data: tar_with_raw_entry(
                b"caf\xe9.pem",
                tar::EntryType::Regular,
                None,
                client.cert_pem.as_bytes(),
            ),
            expect: &["no private key in the bundle matches this certificate"],
        },
    ];

    let sb = Sandbox::new();
    // A populated store and Docker config, so "unchanged" means something.
    sb.ok(&["add", "existing", "--host", "tcp://127.0.0.1:2375", "--use"]);
    write_tree(
        &sb.docker_config(),
        &[(
            "config.json",
            "{\n\t\"auths\": {},\n\t\"currentContext\": \"existing\"\n}",
        )],
    );
    let before = sb.snapshot();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let path = sb.path(c.file);
        std::fs::write(&path, &c.data).unwrap();
        let out = sb
            .dctx()
            .args([
                "add",
                &format!("h{i}"),
                "--bundle",
                path.to_str().unwrap(),
                "--host",
                "tcp://127.0.0.1:2376",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{}: exit {:?}, stderr {err}",
                c.name,
                out.status.code()
            ));
        } else if !c.expect.iter().any(|w| err.contains(&w.to_lowercase())) {
            failures.push(format!(
                "{}: message does not name the problem ({:?}): {err}",
                c.name, c.expect
            ));
        }
        assert!(
            err.len() < 4000,
            "{}: error message is huge ({} bytes)",
            c.name,
            err.len()
        );
        assert!(
            !err.contains("private key-----") && !err.contains("begin private"),
            "{}: key material in error",
            c.name
        );
        assert_eq!(before, sb.snapshot(), "{}: something was written", c.name);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn bad_names_and_endpoints_write_nothing() {
    let sb = Sandbox::new();
    sb.ok(&["add", "existing", "--host", "tcp://127.0.0.1:2375"]);
    let before = sb.snapshot();
    let long = "a".repeat(300);
    for (args, word) in [
        (
            vec!["add", "a/b", "--host", "tcp://127.0.0.1:1"],
            "invalid profile name",
        ),
        (
            vec!["add", "..", "--host", "tcp://127.0.0.1:1"],
            "invalid profile name",
        ),
        (
            vec!["add", &long, "--host", "tcp://127.0.0.1:1"],
            "invalid profile name",
        ),
        (
            vec!["add", "default", "--host", "tcp://127.0.0.1:1"],
            "reserved",
        ),
        (vec!["add", "okname", "--host", "127.0.0.1:2376"], "scheme"),
        (vec!["add", "okname", "--host", "ftp://x"], "scheme"),
        (vec!["add", "okname"], "--host"),
    ] {
        let out = sb.dctx().args(&args).output().unwrap();
        // A refusal (1) or a usage error (2); never success nor a crash.
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {out:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(word), "{args:?}: {err}");
        assert_eq!(before, sb.snapshot(), "{args:?} wrote something");
    }
    // A NUL cannot reach dctx at all: execve takes C strings, so the spawn
    // itself fails. Asserted, so this case cannot silently vanish.
    let e = sb
        .dctx()
        .args(["add", "a\0b", "--host", "tcp://127.0.0.1:1"])
        .output()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert_eq!(before, sb.snapshot());
}
