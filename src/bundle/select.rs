//! Choose the client certificate, its key and the CA among everything a
//! bundle holds, and validate the choice (key match, EKU, expiry, issuer).

use std::collections::HashSet;

use super::{BundleError, Options};
use crate::pki::CertInfo;
use crate::pki::keys::PrivateKey;

/// The outcome: what to import plus the reasons, in words.
pub struct Selection {
    pub cert: CertInfo,
    /// Intermediates between the client cert and the root (sent with the cert).
    pub intermediates: Vec<CertInfo>,
    pub key: PrivateKey,
    /// Chosen CA first, then the rest of its chain up to the root.
    pub ca_chain: Vec<CertInfo>,
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

fn describe(c: &CertInfo, origin: &str) -> String {
    match &c.common_name {
        Some(cn) => format!("CN={cn} ({origin})"),
        None => format!("{} ({origin})", c.subject),
    }
}

/// Higher is better: usable for client auth, then client-only, then an
/// explicit clientAuth EKU (rather than no EKU at all).
fn client_rank(c: &CertInfo) -> u8 {
    let explicit = c.eku.iter().any(|e| e == "clientAuth");
    (c.allows_client_auth() as u8) * 4 + (!c.allows_server_auth() as u8) * 2 + explicit as u8
}

/// A certificate or key with where it was found (file, or file and entry).
type Found<T> = (T, String);

/// A client identity: (cert index, key index).
type Pair = (usize, usize);

/// What `select` tells the user besides the choice, in the order found.
#[derive(Default)]
struct Told {
    notes: Vec<String>,
    warnings: Vec<String>,
}

pub fn select(
    certs: Vec<Found<CertInfo>>,
    keys: Vec<Found<PrivateKey>>,
    unusable_keys: &[String],
    bundle: &str,
    opts: &Options,
) -> Result<Selection, BundleError> {
    let mut told = Told::default();
    let (certs, keys) = dedup(certs, keys);
    let pairs = leaf_key_pairs(&certs, &keys);
    note_unpaired_keys(&certs, &keys, &pairs, &mut told);
    let (top, ci, ki) = choose_pair(&certs, &keys, &pairs, unusable_keys, bundle)?;
    note_other_leaves(&certs, &pairs, &top, ci, &mut told);
    let (cert, cert_origin) = &certs[ci];
    check_leaf(cert, cert_origin, opts, &mut told)?;

    let paired: HashSet<usize> = pairs.iter().map(|&(i, _)| i).collect();
    let pool = issuer_pool(&certs, &paired, ci);
    let chain = issuer_chain(&certs, &pool, ci);
    let intermediates: Vec<CertInfo> = chain
        .iter()
        .filter(|&&i| !certs[i].0.is_self_signed())
        .map(|&i| certs[i].0.clone())
        .collect();
    let mut ca_chain = choose_cas(&certs, &chain, &pool, cert_origin, bundle, opts, &mut told)?;
    // The CA that verifies the daemon need not be the client cert's issuer
    // (a client CA and a server CA side by side in ca.pem): keep them all,
    // the issuer's chain first.
    for &p in &pool {
        if !ca_chain.contains(&p) {
            told.notes.push(format!(
                "CA: also kept {}: it did not issue the client certificate but may verify the daemon",
                describe(&certs[p].0, &certs[p].1)
            ));
            ca_chain.push(p);
        }
    }
    for (i, (c, o)) in certs.iter().enumerate() {
        if i != ci && !pool.contains(&i) && !paired.contains(&i) {
            told.notes.push(format!(
                "ignored certificate {} (no private key for it)",
                describe(c, o)
            ));
        }
    }

    Ok(Selection {
        cert: cert.clone(),
        intermediates,
        key: keys[ki].0.clone(),
        ca_chain: ca_chain.iter().map(|&i| certs[i].0.clone()).collect(),
        notes: told.notes,
        warnings: told.warnings,
    })
}

/// The same cert or key may appear twice (a .p12 next to PEM files): keep
/// the first of each.
fn dedup(
    certs: Vec<Found<CertInfo>>,
    keys: Vec<Found<PrivateKey>>,
) -> (Vec<Found<CertInfo>>, Vec<Found<PrivateKey>>) {
    let mut seen = HashSet::new();
    let certs = certs
        .into_iter()
        .filter(|(c, _)| seen.insert(c.sha256.clone()))
        .collect();
    let mut seen = HashSet::new();
    let keys = keys
        .into_iter()
        .filter(|(k, _)| seen.insert(k.spki_der.clone()))
        .collect();
    (certs, keys)
}

/// Leaf/key pairs (cert index, key index). A CA cert with its key is not a
/// client identity.
fn leaf_key_pairs(certs: &[Found<CertInfo>], keys: &[Found<PrivateKey>]) -> Vec<Pair> {
    let key_for = |c: &CertInfo| keys.iter().position(|(k, _)| k.spki_der == c.spki_der);
    certs
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| !c.is_ca)
        .filter_map(|(i, (c, _))| key_for(c).map(|k| (i, k)))
        .collect()
}

/// Why each key that is in no pair is left out (a CA's key is a warning).
fn note_unpaired_keys(
    certs: &[Found<CertInfo>],
    keys: &[Found<PrivateKey>],
    pairs: &[Pair],
    told: &mut Told,
) {
    for (k, origin) in keys {
        if pairs
            .iter()
            .any(|&(_, ki)| keys[ki].0.spki_der == k.spki_der)
        {
            continue;
        }
        match certs.iter().find(|(c, _)| c.spki_der == k.spki_der) {
            Some((c, co)) if c.is_ca || c.is_self_signed() => told.warnings.push(format!(
                "ignored the private key in {origin}: it is the key of CA certificate {}; keep it off client machines: whoever holds it can issue certificates",
                describe(c, co)
            )),
            Some((c, co)) => told.notes.push(format!(
                "ignored private key in {origin}: it belongs to certificate {}",
                describe(c, co)
            )),
            None => told.notes.push(format!(
                "ignored private key in {origin}: it matches no certificate"
            )),
        }
    }
}

/// The client identity: the pairs of the best rank, and of those the chosen
/// (cert index, key index).
fn choose_pair(
    certs: &[Found<CertInfo>],
    keys: &[Found<PrivateKey>],
    pairs: &[Pair],
    unusable_keys: &[String],
    bundle: &str,
) -> Result<(Vec<Pair>, usize, usize), BundleError> {
    let Some(best_rank) = pairs.iter().map(|&(i, _)| client_rank(&certs[i].0)).max() else {
        return Err(no_pair(certs, keys, unusable_keys, bundle));
    };
    let top: Vec<_> = pairs
        .iter()
        .copied()
        .filter(|&(i, _)| client_rank(&certs[i].0) == best_rank)
        .collect();
    // Two different keys with equally good certs: we cannot guess.
    if let Some(&(i2, k2)) = top.iter().find(|&&(_, k)| k != top[0].1) {
        let (i1, k1) = top[0];
        return Err(BundleError::AmbiguousKeys {
            first: format!(
                "{} + key {}",
                describe(&certs[i1].0, &certs[i1].1),
                keys[k1].1
            ),
            second: format!(
                "{} + key {}",
                describe(&certs[i2].0, &certs[i2].1),
                keys[k2].1
            ),
        });
    }
    // Same key, several certs (a renewal): the one valid longest wins.
    let &(ci, ki) = top
        .iter()
        .max_by_key(|&&(i, _)| certs[i].0.not_after)
        .expect("top is non-empty");
    Ok((top, ci, ki))
}

/// Why each other leaf with a key was not chosen.
fn note_other_leaves(
    certs: &[Found<CertInfo>],
    pairs: &[Pair],
    top: &[Pair],
    ci: usize,
    told: &mut Told,
) {
    for &(i, _) in pairs {
        if i == ci {
            continue;
        }
        let (c, o) = &certs[i];
        if c.allows_server_auth() && !c.allows_client_auth() {
            told.notes
                .push(format!("ignored server certificate {}", describe(c, o)));
        } else if top.iter().any(|&(t, _)| t == i) {
            told.notes.push(format!(
                "ignored older certificate {} for the same key",
                describe(c, o)
            ));
        } else {
            told.notes.push(format!(
                "ignored certificate {} (a better client certificate exists)",
                describe(c, o)
            ));
        }
    }
}

/// The chosen client cert's EKU and validity: an error, or a warning under
/// `--force` (a server-only cert is refused even then).
fn check_leaf(
    cert: &CertInfo,
    cert_origin: &str,
    opts: &Options,
    told: &mut Told,
) -> Result<(), BundleError> {
    if !cert.allows_client_auth() {
        if cert.allows_server_auth() {
            return Err(BundleError::ServerCert {
                cert: cert_origin.to_string(),
                eku: cert.eku.join(", "),
            });
        }
        let e = BundleError::NotClientAuth {
            cert: cert_origin.to_string(),
            eku: cert.eku.join(", "),
        };
        if !opts.force {
            return Err(e);
        }
        told.warnings.push(e.forced());
    }
    if cert.not_after < opts.now {
        let e = BundleError::Expired {
            cert: cert_origin.to_string(),
            not_after: cert.not_after_rfc3339(),
        };
        if !opts.force {
            return Err(e);
        }
        told.warnings.push(e.forced());
    } else if cert.not_before > opts.now {
        told.warnings.push(format!(
            "{cert_origin}: client certificate is not valid before {}",
            cert.not_before_rfc3339()
        ));
    }
    Ok(())
}

/// Issuer candidates: CA certs, plus self-signed certs that are nobody's
/// identity (v1 CA certs have no basicConstraints).
fn issuer_pool(certs: &[Found<CertInfo>], paired: &HashSet<usize>, ci: usize) -> Vec<usize> {
    (0..certs.len())
        .filter(|&i| {
            i != ci && (certs[i].0.is_ca || (!paired.contains(&i) && certs[i].0.is_self_signed()))
        })
        .collect()
}

/// The client cert's issuers up to a self-signed one, nearest first.
/// `visited` stops loops (A signs B signs A).
fn issuer_chain(certs: &[Found<CertInfo>], pool: &[usize], ci: usize) -> Vec<usize> {
    let mut chain: Vec<usize> = Vec::new();
    let mut visited: HashSet<usize> = HashSet::from([ci]);
    let mut cur = ci;
    while let Some(&next) = pool
        .iter()
        .find(|&&p| !visited.contains(&p) && certs[cur].0.is_signed_by(&certs[p].0))
    {
        chain.push(next);
        visited.insert(next);
        if certs[next].0.is_self_signed() {
            break;
        }
        cur = next;
    }
    chain
}

/// The CAs to keep for the client cert: its issuer chain, or when no
/// bundled CA issued it, the one CA there is (or none, when allowed).
fn choose_cas(
    certs: &[Found<CertInfo>],
    chain: &[usize],
    pool: &[usize],
    cert_origin: &str,
    bundle: &str,
    opts: &Options,
    told: &mut Told,
) -> Result<Vec<usize>, BundleError> {
    let Some(&issuer) = chain.first() else {
        return no_issuer_cas(certs, pool, cert_origin, bundle, opts, told);
    };
    let (ca, co) = &certs[issuer];
    if pool.len() > 1 {
        told.notes.push(format!(
            "CA: chose {} of {} CA certificates because it issued the client certificate (signature verified)",
            describe(ca, co),
            pool.len()
        ));
    } else {
        told.notes.push(format!(
            "CA: {} issued the client certificate",
            describe(ca, co)
        ));
    }
    if chain.len() > 1 {
        let names: Vec<_> = chain
            .iter()
            .map(|&i| describe(&certs[i].0, &certs[i].1))
            .collect();
        told.notes.push(format!("CA chain: {}", names.join(" -> ")));
    }
    Ok(chain.to_vec())
}

/// No bundled CA issued the client cert: keep the only one there is
/// (warned), none when allowed, else an error.
fn no_issuer_cas(
    certs: &[Found<CertInfo>],
    pool: &[usize],
    cert_origin: &str,
    bundle: &str,
    opts: &Options,
    told: &mut Told,
) -> Result<Vec<usize>, BundleError> {
    match pool {
        [] if opts.ca_kept => Ok(vec![]),
        [] if opts.allow_no_ca => {
            told.notes.push("no CA certificate in the bundle: the daemon will be verified with the system roots".into());
            Ok(vec![])
        }
        [] => Err(BundleError::NoCa {
            bundle: bundle.into(),
        }),
        [only] => {
            told.warnings.push(format!(
                "client cert is not issued by the bundled CA {}: the daemon may trust a different client CA",
                describe(&certs[*only].0, &certs[*only].1)
            ));
            Ok(vec![*only])
        }
        many => {
            let names: Vec<_> = many
                .iter()
                .map(|&i| describe(&certs[i].0, &certs[i].1))
                .collect();
            Err(BundleError::UnknownCa {
                cert: cert_origin.to_string(),
                cas: names.join(", "),
            })
        }
    }
}

/// Which of the bundle's CAs verifies the chain a daemon served (leaf
/// first): the first CA that is one of the served certificates or signed
/// one of them (signature checked). `None`: none of them does, and docker
/// will fail with "certificate signed by unknown authority".
pub fn verifying_ca<'a>(cas: &'a [CertInfo], served: &[CertInfo]) -> Option<&'a CertInfo> {
    cas.iter().find(|ca| {
        served
            .iter()
            .any(|s| s.sha256 == ca.sha256 || s.is_signed_by(ca))
    })
}

/// `Some(CAs)` when the bundle is only CA certificates (no key, no leaf,
/// nothing unusable): the "TLS, no client certificate" mode.
pub fn ca_only(
    certs: &[(CertInfo, String)],
    keys: &[(PrivateKey, String)],
    unusable_keys: &[String],
) -> Option<(Vec<CertInfo>, Vec<String>)> {
    if certs.is_empty()
        || !keys.is_empty()
        || !unusable_keys.is_empty()
        || certs.iter().any(|(c, _)| !c.is_ca && !c.is_self_signed())
    {
        return None;
    }
    let mut seen = HashSet::new();
    let mut cas = Vec::new();
    let mut notes = Vec::new();
    for (c, origin) in certs {
        if seen.insert(c.sha256.clone()) {
            notes.push(format!(
                "CA: {} (no client certificate in the bundle)",
                describe(c, origin)
            ));
            cas.push(c.clone());
        }
    }
    Some((cas, notes))
}

/// The most useful error when no leaf certificate has its key.
fn no_pair(
    certs: &[(CertInfo, String)],
    keys: &[(PrivateKey, String)],
    unusable_keys: &[String],
    bundle: &str,
) -> BundleError {
    let mut hint = String::new();
    if !keys.is_empty() {
        let names: Vec<_> = keys.iter().map(|(_, o)| o.as_str()).collect();
        hint = format!(
            " (the key in {} matches no client certificate)",
            names.join(", ")
        );
    }
    if !unusable_keys.is_empty() {
        hint.push_str(&format!(" (unusable keys: {})", unusable_keys.join("; ")));
    }
    match certs.iter().find(|(c, _)| !c.is_ca) {
        Some((_, origin)) => BundleError::NoKeyForCert {
            cert: origin.clone(),
            hint,
        },
        None => BundleError::NoClientCert {
            bundle: bundle.into(),
            hint,
        },
    }
}
