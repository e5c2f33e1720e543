//! Hard limits on what a bundle may expand to. A TLS bundle is a few KiB;
//! anything near these numbers is a mistake or an attack (gzip/zip bomb),
//! so we stop reading as soon as a limit is crossed, with bounded memory.

use std::io::Read;

use zeroize::Zeroizing;

use super::BundleError;

/// Total bytes read or decompressed, over all entries.
pub const MAX_TOTAL_BYTES: u64 = 10 * 1024 * 1024;
/// Entries (files, directories, archive members) in one bundle.
pub const MAX_ENTRIES: usize = 1000;
/// Directory nesting depth when walking a bundle directory.
pub const MAX_DEPTH: usize = 32;

/// Running totals for one bundle.
#[derive(Debug)]
pub struct Budget {
    bundle: String,
    used: u64,
    entries: usize,
}

impl Budget {
    pub fn new(bundle: &str) -> Self {
        Self {
            bundle: bundle.to_owned(),
            used: 0,
            entries: 0,
        }
    }

    /// Count one more entry; fails once there are too many.
    pub fn entry(&mut self) -> Result<(), BundleError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(BundleError::TooManyEntries {
                bundle: self.bundle.clone(),
                limit: MAX_ENTRIES,
            });
        }
        Ok(())
    }

    /// Fail early when a declared size alone would exceed the budget.
    pub fn check_declared(&self, size: u64) -> Result<(), BundleError> {
        if self.used.saturating_add(size) > MAX_TOTAL_BYTES {
            return Err(self.too_large());
        }
        Ok(())
    }

    /// Read `r` to its end, but never more than the remaining budget (+1
    /// byte to detect overflow): a bomb is cut off after at most 10 MiB.
    pub fn read_all(&mut self, r: impl Read) -> Result<Zeroizing<Vec<u8>>, BundleError> {
        let remaining = MAX_TOTAL_BYTES - self.used;
        let mut buf = Zeroizing::new(Vec::new());
        r.take(remaining + 1)
            .read_to_end(&mut buf)
            .map_err(|e| BundleError::Corrupt {
                bundle: self.bundle.clone(),
                detail: e.to_string(),
            })?;
        if buf.len() as u64 > remaining {
            return Err(self.too_large());
        }
        self.used += buf.len() as u64;
        Ok(buf)
    }

    /// Start counting bytes afresh once an archive's raw bytes are in
    /// memory: the limit is on what it expands to, not input + output.
    /// (Memory stays bounded: at most one raw copy per nesting level.)
    pub fn reset_bytes(&mut self) {
        self.used = 0;
    }

    fn too_large(&self) -> BundleError {
        BundleError::TooLarge {
            bundle: self.bundle.clone(),
            limit: MAX_TOTAL_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_all_stops_at_limit() {
        let mut b = Budget::new("x");
        let endless = std::io::repeat(0);
        assert!(matches!(
            b.read_all(endless),
            Err(BundleError::TooLarge { .. })
        ));
    }

    #[test]
    fn entries_are_counted() {
        let mut b = Budget::new("x");
        for _ in 0..MAX_ENTRIES {
            b.entry().unwrap();
        }
        assert!(matches!(b.entry(), Err(BundleError::TooManyEntries { .. })));
    }

    #[test]
    fn budget_is_shared() {
        let mut b = Budget::new("x");
        b.read_all(&vec![0u8; (MAX_TOTAL_BYTES - 10) as usize][..])
            .unwrap();
        assert!(b.read_all(&[0u8; 11][..]).is_err());
        assert!(b.check_declared(11).is_err());
    }
}
