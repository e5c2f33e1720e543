//! Container readers: directory, tar, tar.gz, zip, or a single file.
//! Everything is read into memory under a [`Budget`]; nothing is extracted
//! to disk. The format is sniffed from magic bytes, never from the extension.

use std::io::Cursor;
use std::path::Path;

use zeroize::Zeroizing;

use super::BundleError;
use super::limits::{Budget, MAX_DEPTH, MAX_ENTRIES};

/// One file found in the bundle.
pub struct Entry {
    /// Human name used in every message: `tls/docker/key.pem in prod.tar`.
    pub name: String,
    pub data: Zeroizing<Vec<u8>>,
}

/// What a source expanded to.
pub struct Loaded {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
    /// The source was one plain file (not an archive or a directory).
    pub single_file: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Gzip,
    Zip,
    Tar,
    Plain,
}

fn sniff(data: &[u8]) -> Kind {
    if data.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if data.get(257..262) == Some(b"ustar") {
        Kind::Tar
    } else {
        Kind::Plain
    }
}

/// Display name of a path: its last component (lossy for non-UTF-8 names).
pub fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

fn io_err(path: &Path, source: std::io::Error) -> BundleError {
    BundleError::Io {
        path: path.to_string_lossy().into_owned(),
        err: source,
    }
}

/// Load a `--bundle PATH`: a directory or a file of any supported kind.
pub fn load(path: &Path) -> Result<Loaded, BundleError> {
    let bundle = short_name(path);
    let mut budget = Budget::new(&bundle);
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    let mut loaded = Loaded {
        entries: Vec::new(),
        notes: Vec::new(),
        single_file: false,
    };
    if meta.is_dir() {
        walk_dir(path, "", &bundle, 0, &mut budget, &mut loaded)?;
        return Ok(loaded);
    }
    let data = read_file(path, &meta, &mut budget)?;
    expand(data, &bundle, &mut budget, &mut loaded, true)?;
    Ok(loaded)
}

/// Load a bundle already in memory (fuzzing, tests): same path as a file.
pub fn load_bytes(name: &str, data: &[u8]) -> Result<Loaded, BundleError> {
    let mut budget = Budget::new(name);
    budget.check_declared(data.len() as u64)?;
    let data = budget.read_all(data)?;
    let mut loaded = Loaded {
        entries: Vec::new(),
        notes: Vec::new(),
        single_file: false,
    };
    expand(data, name, &mut budget, &mut loaded, true)?;
    Ok(loaded)
}

/// Load `--ca/--cert/--key` given separately: each is one plain file
/// (but still identified by content).
pub fn load_files(paths: &[&Path]) -> Result<Loaded, BundleError> {
    let mut budget = Budget::new("the given files");
    let mut loaded = Loaded {
        entries: Vec::new(),
        notes: Vec::new(),
        single_file: false,
    };
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| io_err(p, e))?;
        budget.entry()?;
        let data = read_file(p, &meta, &mut budget)?;
        loaded.entries.push(Entry {
            name: p.to_string_lossy().into_owned(),
            data,
        });
    }
    Ok(loaded)
}

/// Read one regular file, bounded. Never opens FIFOs or devices (a FIFO
/// would block forever).
fn read_file(
    path: &Path,
    meta: &std::fs::Metadata,
    budget: &mut Budget,
) -> Result<Zeroizing<Vec<u8>>, BundleError> {
    if !meta.is_file() {
        return Err(BundleError::NotRecognised {
            bundle: path.to_string_lossy().into_owned(),
            detail: "not a regular file or directory".into(),
        });
    }
    budget.check_declared(meta.len())?;
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    budget.read_all(f)
}

/// Dispatch a top-level file on its magic bytes.
fn expand(
    data: Zeroizing<Vec<u8>>,
    bundle: &str,
    budget: &mut Budget,
    out: &mut Loaded,
    allow_gzip: bool,
) -> Result<(), BundleError> {
    let kind = sniff(&data);
    if kind != Kind::Plain {
        budget.reset_bytes();
    }
    match kind {
        Kind::Gzip if allow_gzip => {
            let inner = budget.read_all(flate2::read::MultiGzDecoder::new(&data[..]))?;
            expand(inner, bundle, budget, out, false)
        }
        Kind::Gzip => Err(BundleError::NotRecognised {
            bundle: bundle.into(),
            detail: "gzip inside gzip".into(),
        }),
        Kind::Zip => read_zip(&data, bundle, budget, out),
        Kind::Tar => read_tar(&data, bundle, budget, out),
        Kind::Plain => {
            // A lone PEM/DER/PKCS#12 file: the classifier decides.
            out.single_file = true;
            out.entries.push(Entry {
                name: bundle.into(),
                data,
            });
            Ok(())
        }
    }
}

/// Reject names that could escape a directory if someone ever extracted
/// them: absolute paths, drive letters, `..` components, NULs. Checked on
/// the RAW name (the zip crate's `enclosed_name` silently rewrites `/x`).
fn check_name(raw: &[u8]) -> Result<(), &'static str> {
    if raw.is_empty() {
        return Err("empty entry name");
    }
    if raw.contains(&0) {
        return Err("NUL byte in entry name");
    }
    if raw[0] == b'/' || raw[0] == b'\\' {
        return Err("absolute path");
    }
    if raw.len() >= 2 && raw[1] == b':' && raw[0].is_ascii_alphabetic() {
        return Err("absolute path (drive letter)");
    }
    if raw.split(|b| *b == b'/' || *b == b'\\').any(|c| c == b"..") {
        return Err("path with '..' component");
    }
    Ok(())
}

fn unsafe_entry(raw: &[u8], bundle: &str, reason: &str) -> BundleError {
    BundleError::UnsafeEntry {
        entry: String::from_utf8_lossy(raw).into_owned(),
        bundle: bundle.into(),
        reason: reason.into(),
    }
}

fn corrupt(bundle: &str, what: &str, e: impl std::fmt::Display) -> BundleError {
    BundleError::Corrupt {
        bundle: bundle.into(),
        detail: format!("{what}: {e}"),
    }
}

fn read_tar(
    data: &[u8],
    bundle: &str,
    budget: &mut Budget,
    out: &mut Loaded,
) -> Result<(), BundleError> {
    // `docker context export` omits the end-of-archive blocks and the
    // padding of its last entry. Padding the in-memory copy to a block
    // boundary plus two zero blocks makes it a well-formed tar.
    let mut buf = Zeroizing::new(Vec::with_capacity(data.len() + 1536));
    buf.extend_from_slice(data);
    buf.resize(data.len().div_ceil(512) * 512 + 1024, 0);
    let mut ar = tar::Archive::new(&buf[..]);
    let entries = ar.entries().map_err(|e| corrupt(bundle, "tar", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(bundle, "tar", e))?;
        budget.entry()?;
        let raw = entry.path_bytes().into_owned();
        check_name(&raw).map_err(|r| unsafe_entry(&raw, bundle, r))?;
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Continuous => {}
            T::Directory => continue,
            // `git archive` and Python's PAX_FORMAT start with a global
            // header (metadata only). Local 'x' headers are folded into the
            // next entry by the tar crate, so `raw` above is already the pax
            // `path=` when there is one.
            T::XGlobalHeader => {
                budget.check_declared(entry.size())?;
                check_global_pax(&mut entry).map_err(|r| unsafe_entry(&raw, bundle, &r))?;
                continue;
            }
            T::Symlink => return Err(unsafe_entry(&raw, bundle, "symbolic link")),
            T::Link => return Err(unsafe_entry(&raw, bundle, "hard link")),
            T::Char | T::Block => return Err(unsafe_entry(&raw, bundle, "device node")),
            T::Fifo => return Err(unsafe_entry(&raw, bundle, "FIFO")),
            other => {
                return Err(unsafe_entry(
                    &raw,
                    bundle,
                    &format!("unsupported tar entry type {:?}", other.as_byte() as char),
                ));
            }
        }
        budget.check_declared(entry.size())?;
        let data = budget.read_all(&mut entry)?;
        out.entries.push(Entry {
            name: format!("{} in {bundle}", String::from_utf8_lossy(&raw)),
            data,
        });
    }
    Ok(())
}

/// A global pax header may only carry metadata (git's `comment=<commit>`,
/// mtime…): one that renames or links what follows is refused.
fn check_global_pax(entry: &mut tar::Entry<'_, &[u8]>) -> Result<(), String> {
    let Some(records) = entry
        .pax_extensions()
        .map_err(|e| format!("unreadable pax global header: {e}"))?
    else {
        return Ok(());
    };
    for r in records {
        let r = r.map_err(|e| format!("malformed pax global header: {e}"))?;
        let key = r.key_bytes();
        if matches!(
            key,
            b"path" | b"linkpath" | b"GNU.sparse.name" | b"GNU.sparse.map"
        ) {
            return Err(format!(
                "pax global header sets {:?} for every entry",
                String::from_utf8_lossy(key)
            ));
        }
    }
    Ok(())
}

fn read_zip(
    data: &[u8],
    bundle: &str,
    budget: &mut Budget,
    out: &mut Loaded,
) -> Result<(), BundleError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| corrupt(bundle, "zip", e))?;
    if zip.len() > MAX_ENTRIES {
        return Err(BundleError::TooManyEntries {
            bundle: bundle.into(),
            limit: MAX_ENTRIES,
        });
    }
    for i in 0..zip.len() {
        budget.entry()?;
        let mut f = zip.by_index(i).map_err(|e| corrupt(bundle, "zip", e))?;
        let raw = f.name_raw().to_vec();
        check_name(&raw).map_err(|r| unsafe_entry(&raw, bundle, r))?;
        if f.is_symlink() {
            return Err(unsafe_entry(&raw, bundle, "symbolic link"));
        }
        // Unix file type bits: only regular files and directories are data.
        if let Some(mode) = f.unix_mode() {
            match mode & 0o170_000 {
                0 | 0o100_000 | 0o040_000 => {}
                _ => return Err(unsafe_entry(&raw, bundle, "device, FIFO or socket")),
            }
        }
        if f.is_dir() {
            continue;
        }
        budget.check_declared(f.size())?;
        let data = budget.read_all(&mut f)?;
        out.entries.push(Entry {
            name: format!("{} in {bundle}", String::from_utf8_lossy(&raw)),
            data,
        });
    }
    Ok(())
}

fn walk_dir(
    dir: &Path,
    rel: &str,
    bundle: &str,
    depth: usize,
    budget: &mut Budget,
    out: &mut Loaded,
) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Err(BundleError::UnsafeEntry {
            entry: rel.into(),
            bundle: bundle.into(),
            reason: format!("directories nested deeper than {MAX_DEPTH}"),
        });
    }
    let mut items: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(dir, e))?;
    // Sorted for deterministic notes and choices.
    items.sort_by_key(|e| e.file_name());
    for item in items {
        budget.entry()?;
        let name = item.file_name().to_string_lossy().into_owned();
        let rel_name = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = item.path();
        let ft = item.file_type().map_err(|e| io_err(&path, e))?;
        if ft.is_dir() {
            walk_dir(&path, &rel_name, bundle, depth + 1, budget, out)?;
            continue;
        }
        // Follow file symlinks (a user's own directory), but never into
        // directories (loops) and never open FIFOs/devices (would block).
        let meta = if ft.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                _ => {
                    out.notes.push(format!(
                        "skipped {rel_name} in {bundle} (symlink to a non-file)"
                    ));
                    continue;
                }
            }
        } else if ft.is_file() {
            item.metadata().map_err(|e| io_err(&path, e))?
        } else {
            out.notes.push(format!(
                "skipped {rel_name} in {bundle} (not a regular file)"
            ));
            continue;
        };
        let data = read_file(&path, &meta, budget)?;
        out.entries.push(Entry {
            name: format!("{rel_name} in {bundle}"),
            data,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_raw() {
        assert!(check_name(b"a/b.pem").is_ok());
        assert!(check_name(b"./meta.json").is_ok());
        assert!(check_name(b"/etc/passwd").is_err());
        assert!(check_name(b"\\x").is_err());
        assert!(check_name(b"C:/x").is_err());
        assert!(check_name(b"a/../../x").is_err());
        assert!(check_name(b"..").is_err());
        assert!(check_name(b"a\0b").is_err());
        assert!(check_name(b"a..b/c").is_ok());
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), Kind::Gzip);
        assert_eq!(sniff(b"PK\x03\x04rest"), Kind::Zip);
        let mut t = vec![0u8; 512];
        t[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&t), Kind::Tar);
        assert_eq!(sniff(b"-----BEGIN"), Kind::Plain);
    }

    #[test]
    fn gzip_bomb_fails_fast() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        let gz = enc.finish().unwrap();
        let mut b = Budget::new("bomb.tgz");
        let mut out = Loaded {
            entries: vec![],
            notes: vec![],
            single_file: false,
        };
        let err = expand(Zeroizing::new(gz), "bomb.tgz", &mut b, &mut out, true)
            .err()
            .unwrap();
        assert!(matches!(err, BundleError::TooLarge { .. }), "{err}");
    }
}
