//! A key generated where it will live, and the CSR that asks a CA to certify
//! it. `dctx csr NAME` keeps the key pending (a 0600 file in dctx's store or
//! the OS keyring) until `dctx add NAME --cert signed.pem` makes it a
//! profile in one transaction; `enroll` and `renew` send the CSR to
//! OpenBao / Vault instead. The key never leaves the machine.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::pki::issue::KeyType;
use crate::store::KeyStore;
use crate::store::atomic::{PRIVATE_DIR, PRIVATE_FILE};
use crate::store::txn::{Content, Txn};
use crate::targets::Targets;

/// A new key and its CSR (PEM both).
pub struct KeyAndCsr {
    pub key_pem: Zeroizing<String>,
    pub csr_pem: String,
}

/// An ECDSA P-256 key and a CSR for `cn` (clients only need a CN).
pub fn generate(cn: &str) -> anyhow::Result<KeyAndCsr> {
    if cn.is_empty() || cn.chars().any(char::is_control) {
        anyhow::bail!("invalid common name {:?}", cn.escape_debug().to_string());
    }
    let key = KeyType::EcdsaP256.generate()?;
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, cn.to_string());
    let csr = p
        .serialize_request(&key)
        .context("building the certificate signing request")?;
    Ok(KeyAndCsr {
        key_pem: Zeroizing::new(key.serialize_pem()),
        csr_pem: csr.pem().context("encoding the CSR")?,
    })
}

/// `pending/NAME/pending.json`: a key waiting for its certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub name: String,
    pub cn: String,
    pub key_store: KeyStore,
    pub created: i64,
}

/// The keyring account of a pending key (`#` is never in a profile name).
pub fn pending_account(name: &str) -> String {
    format!("{name}#csr")
}

impl Targets {
    fn pending_dir(&self, name: &str) -> PathBuf {
        self.store.root.join("pending").join(name)
    }

    /// The pending CSR of `name`, if any.
    pub fn csr_pending(&self, name: &str) -> Option<Pending> {
        let data = std::fs::read(self.pending_dir(name).join("pending.json")).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Every pending CSR, by name (`ls`).
    pub fn csr_pending_all(&self) -> Vec<Pending> {
        let mut names: Vec<String> = std::fs::read_dir(self.store.root.join("pending"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| crate::store::validate_name(n).is_ok())
            .collect();
        names.sort();
        names.iter().filter_map(|n| self.csr_pending(n)).collect()
    }

    /// The pending CSR (PEM) as printed when it was made.
    pub fn csr_pem(&self, name: &str) -> anyhow::Result<String> {
        std::fs::read_to_string(self.pending_dir(name).join("csr.pem"))
            .with_context(|| format!("reading the pending CSR of {name}"))
    }

    /// The pending key, into memory.
    pub fn csr_key(&self, p: &Pending) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        match p.key_store {
            KeyStore::File => std::fs::read(self.pending_dir(&p.name).join("key.pem"))
                .map(Zeroizing::new)
                .with_context(|| format!("reading the pending key of {}", p.name)),
            KeyStore::Keyring => Ok(self.keyring.get(&pending_account(&p.name))?),
        }
    }

    /// `dctx csr NAME`: a new key kept pending and its CSR; run again, the
    /// same CSR (no second key). Returns (CSR PEM, made now).
    pub fn csr_create(
        &self,
        name: &str,
        cn: &str,
        key_store: KeyStore,
    ) -> anyhow::Result<(String, bool)> {
        crate::store::validate_name(name)?;
        if key_store == KeyStore::Keyring {
            self.keyring.ensure_available()?;
        }
        self.locked(|t| {
            if let Some(p) = t.csr_pending(name) {
                if p.cn != cn {
                    anyhow::bail!(
                        "a CSR for {name} with CN {:?} is already pending: `dctx csr {name} --drop` drops it (and its key) first",
                        p.cn
                    );
                }
                return Ok((t.csr_pem(name)?, false));
            }
            if t.store.exists(name) || t.docker.read_context(name).ok().flatten().is_some() {
                anyhow::bail!(
                    "{name:?} already names a profile or Docker context: choose another name, or `dctx rm {name}` first"
                );
            }
            let kc = generate(cn)?;
            let pending = Pending {
                name: name.to_string(),
                cn: cn.to_string(),
                key_store,
                created: t.now,
            };
            let mut files = vec![
                (
                    "pending.json".to_string(),
                    Zeroizing::new(serde_json::to_vec_pretty(&pending)?),
                    PRIVATE_FILE,
                ),
                (
                    "csr.pem".to_string(),
                    Zeroizing::new(kc.csr_pem.clone().into_bytes()),
                    PRIVATE_FILE,
                ),
            ];
            let mut tx = Txn::new(&t.store.root);
            match key_store {
                KeyStore::File => files.push((
                    "key.pem".to_string(),
                    Zeroizing::new(kc.key_pem.as_bytes().to_vec()),
                    PRIVATE_FILE,
                )),
                KeyStore::Keyring => tx.key_put(
                    &pending_account(name),
                    Zeroizing::new(kc.key_pem.as_bytes().to_vec()),
                ),
            }
            crate::store::atomic::create_dir(&t.store.root.join("pending"), PRIVATE_DIR)?;
            tx.put(
                &t.store.root,
                t.pending_dir(name),
                Content::Dir {
                    mode: PRIVATE_DIR,
                    files,
                },
            );
            tx.commit(&t.keyring)?;
            Ok((kc.csr_pem, true))
        })
    }

    /// What `add` stages to drop the pending CSR of `name` (its key becomes
    /// the profile's in the same transaction).
    pub fn csr_consume(&self, name: &str) -> Option<crate::targets::Also> {
        let p = self.csr_pending(name)?;
        let (root, dir) = (self.store.root.clone(), self.pending_dir(name));
        Some(Box::new(move |tx: &mut Txn| {
            tx.remove(&root, dir);
            if p.key_store == KeyStore::Keyring {
                tx.key_remove(&pending_account(&p.name));
            }
        }))
    }

    /// `dctx csr NAME --drop`: its key goes with it.
    pub fn csr_drop(&self, name: &str) -> anyhow::Result<bool> {
        self.locked(|t| {
            let Some(drop) = t.csr_consume(name) else {
                return Ok(false);
            };
            let mut tx = Txn::new(&t.store.root);
            drop(&mut tx);
            tx.commit(&t.keyring)?;
            Ok(true)
        })
    }
}
