//! Test PKI built with rcgen: CAs, server and client certs with exactly the
//! properties a test needs (SANs, EKU, validity, CN-only…).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// A PEM certificate with its PEM key.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

pub struct TestCa {
    pub name: String,
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// Knobs for one leaf certificate.
#[derive(Clone)]
pub struct Leaf {
    pub cn: String,
    /// DNS names or IPs; empty + `no_san` = CN-only.
    pub sans: Vec<String>,
    pub no_san: bool,
    pub eku: Vec<ExtendedKeyUsagePurpose>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Leaf {
    pub fn server(sans: &[&str]) -> Self {
        Leaf {
            cn: sans.first().copied().unwrap_or("server").to_string(),
            sans: sans.iter().map(|s| s.to_string()).collect(),
            no_san: false,
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            not_before: OffsetDateTime::now_utc() - Duration::days(1),
            not_after: OffsetDateTime::now_utc() + Duration::days(365),
        }
    }

    pub fn client(cn: &str) -> Self {
        Leaf {
            cn: cn.to_string(),
            sans: vec![],
            no_san: true,
            eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
            not_before: OffsetDateTime::now_utc() - Duration::days(1),
            not_after: OffsetDateTime::now_utc() + Duration::days(365),
        }
    }

    /// Valid for `days` from now (negative: already expired).
    pub fn days(mut self, days: i64) -> Self {
        if days < 0 {
            self.not_before = OffsetDateTime::now_utc() - Duration::days(30);
        }
        self.not_after = OffsetDateTime::now_utc() + Duration::days(days);
        self
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(2);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
        let key = KeyPair::generate().unwrap();
        let cert_pem = p.self_signed(&key).unwrap().pem();
        TestCa {
            name: name.to_string(),
            cert_pem,
            issuer: Issuer::new(p, key),
        }
    }

    pub fn issue(&self, leaf: &Leaf) -> Issued {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(&leaf.cn);
        p.subject_alt_names = if leaf.no_san {
            vec![]
        } else {
            leaf.sans
                .iter()
                .map(|s| match s.parse() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(s.clone().try_into().unwrap()),
                })
                .collect()
        };
        p.extended_key_usages = leaf.eku.clone();
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        p.not_before = leaf.not_before;
        p.not_after = leaf.not_after;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn server(&self, sans: &[&str]) -> Issued {
        self.issue(&Leaf::server(sans))
    }

    pub fn client(&self, cn: &str) -> Issued {
        self.issue(&Leaf::client(cn))
    }
}
