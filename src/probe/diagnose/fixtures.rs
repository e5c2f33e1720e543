//! Certificate fixtures for the table-driven diagnosis tests (rcgen, no
//! network): a CA, leaves with chosen names, dates and usages, and the
//! profile material and verifier verdict the probe would have.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

use super::Ctx;
use crate::conn::tls::{self, Material};
use crate::pki::CertInfo;

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(10);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
        let key = KeyPair::generate().unwrap();
        let pem = p.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(p, key),
        }
    }

    /// A leaf: `sans` (IPs or DNS names; empty = CN only), valid from
    /// `from_days` to `to_days` relative to now.
    pub fn leaf(&self, cn: &str, sans: &[&str], eku: &[Eku], from_days: i64, to_days: i64) -> Leaf {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.subject_alt_names = sans
            .iter()
            .map(|s| match s.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(s.to_string().try_into().unwrap()),
            })
            .collect();
        p.extended_key_usages = eku.to_vec();
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        p.not_before = OffsetDateTime::now_utc() + Duration::days(from_days);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(to_days);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            der: cert.der().to_vec(),
            info: CertInfo::from_der(cert.der()).unwrap(),
        }
    }
}

pub struct Leaf {
    pub der: Vec<u8>,
    pub info: CertInfo,
}

/// The profile's material trusting `ca`.
pub fn material(ca: &Ca) -> Material {
    let t = crate::conn::Target {
        name: "t".into(),
        host: "tcp://127.0.0.1:2376".into(),
        tls: true,
        skip_verify: false,
        ca_pem: Some(ca.pem.as_bytes().to_vec()),
        cert_pem: None,
        key_pem: None,
    };
    tls::load_material(&t).unwrap()
}

/// What the probe's verifier concludes about `leaf` for `host`.
pub fn verdict(m: &Material, leaf: &Leaf, host: &str) -> Option<rustls::Error> {
    let v = WebPkiServerVerifier::builder_with_provider(m.roots.clone(), tls::provider())
        .build()
        .unwrap();
    let v: Arc<dyn ServerCertVerifier> = v;
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now() as u64));
    v.verify_server_cert(
        &CertificateDer::from(leaf.der.clone()),
        &[],
        &ServerName::try_from(host.to_string()).unwrap(),
        &[],
        now,
    )
    .err()
}

pub fn ctx(host: &str) -> Ctx<'_> {
    Ctx {
        name: "t",
        host,
        port: 2376,
        now: now(),
        skip_verify: false,
        timeout_secs: 5.0,
        warn_days: 30,
    }
}
