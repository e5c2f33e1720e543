//! Client-compatibility lint: which TLS client families that talk to Docker
//! will refuse this certificate material, and how to fix it. The rules are
//! the ones the clients enforce (confirmed against the real clients by
//! tests/it/lint.rs), not RFC 5280 at large.

use serde::Serialize;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// A family of TLS clients that share certificate-verification rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    /// Go crypto/x509: the docker CLI, docker compose, most Go tooling.
    Go,
    /// rustls/webpki: bollard, dctx.
    Rustls,
    /// OpenSSL with X509_STRICT: Python ≥ 3.13's default (docker-py).
    OpensslStrict,
    /// OpenSSL's default verification at the distribution's security level: curl.
    Openssl,
}

impl Client {
    pub const ALL: [Client; 4] = [
        Client::Go,
        Client::Rustls,
        Client::OpensslStrict,
        Client::Openssl,
    ];

    /// The family and who uses it, in words.
    pub fn title(self) -> &'static str {
        match self {
            Client::Go => "Go crypto/x509 (docker CLI, compose)",
            Client::Rustls => "rustls/webpki (bollard, dctx)",
            Client::OpensslStrict => "OpenSSL X509_STRICT (Python ≥ 3.13, docker-py)",
            Client::Openssl => "OpenSSL (curl)",
        }
    }
}

/// Stable lint codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LintCode {
    /// A CA whose keyUsage extension lacks keyCertSign.
    #[serde(rename = "ca-no-keycertsign")]
    CaNoKeyCertSign,
    /// A CA without a keyUsage extension at all.
    #[serde(rename = "ca-no-keyusage")]
    CaNoKeyUsage,
    /// A CA whose basicConstraints extension is not marked critical.
    CaBasicConstraintsNotCritical,
    /// A certificate used as a CA without basicConstraints at all.
    CaNoBasicConstraints,
    /// A server certificate without subjectAltName: only a CN.
    CnOnly,
    /// Clients dial an IP address the certificate has no IP SAN for.
    IpNotInSans,
    /// Clients dial a host name the certificate has only IP SANs for.
    NameNotInSans,
    /// Signed with SHA-1 or MD5.
    WeakSignature,
    /// An RSA key shorter than 2048 bits.
    RsaTooSmall,
    /// An X.509 version 1 certificate (no extensions possible).
    V1Certificate,
    /// A non-self-signed certificate without authorityKeyIdentifier.
    MissingAki,
    /// A CA certificate without subjectKeyIdentifier.
    MissingSki,
    /// The chain needs an intermediate CA the server does not send.
    MissingIntermediate,
    /// The certificate outlives the CA that signed it.
    OutlivesCa,
}

impl LintCode {
    pub fn as_str(self) -> &'static str {
        match self {
            LintCode::CaNoKeyCertSign => "ca-no-keycertsign",
            LintCode::CaNoKeyUsage => "ca-no-keyusage",
            LintCode::CaBasicConstraintsNotCritical => "ca-basic-constraints-not-critical",
            LintCode::CaNoBasicConstraints => "ca-no-basic-constraints",
            LintCode::CnOnly => "cn-only",
            LintCode::IpNotInSans => "ip-not-in-sans",
            LintCode::NameNotInSans => "name-not-in-sans",
            LintCode::WeakSignature => "weak-signature",
            LintCode::RsaTooSmall => "rsa-too-small",
            LintCode::V1Certificate => "v1-certificate",
            LintCode::MissingAki => "missing-aki",
            LintCode::MissingSki => "missing-ski",
            LintCode::MissingIntermediate => "missing-intermediate",
            LintCode::OutlivesCa => "outlives-ca",
        }
    }
}

/// One incompatibility: which certificate, which clients refuse it, the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    pub code: LintCode,
    /// The certificate concerned (its subject CN, else the whole subject).
    pub cert: String,
    /// The client families that refuse it (today; see `message` for dates).
    pub clients: Vec<Client>,
    pub message: String,
    pub fix: String,
}

impl LintFinding {
    /// "Go crypto/x509 (…), rustls/webpki (…)".
    pub fn clients_phrase(&self) -> String {
        self.clients
            .iter()
            .map(|c| c.title())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What to lint.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The chain as the server sends it (or as issued): leaf first, DER.
    pub chain: &'a [Vec<u8>],
    /// The CA certificates clients trust, DER.
    pub roots: &'a [Vec<u8>],
    /// The host name or IP address clients dial, when known.
    pub host: Option<&'a str>,
    /// Whether the leaf is a server certificate (the name rules apply).
    pub server_leaf: bool,
}

struct Cert<'a> {
    x: X509Certificate<'a>,
    name: String,
}

impl<'a> Cert<'a> {
    fn parse(der: &'a [u8]) -> Option<Self> {
        let (_, x) = X509Certificate::from_der(der).ok()?;
        let name = x
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| x.subject().to_string());
        Some(Cert { x, name })
    }
    fn is_v1(&self) -> bool {
        self.x.version().0 == 0
    }
    fn self_signed(&self) -> bool {
        self.x.subject().as_raw() == self.x.issuer().as_raw()
    }
    fn signed_by(&self, issuer: &Cert<'_>) -> bool {
        // The verifier lacks MD5: trust the names there (weak-signature reports it).
        self.x.issuer().as_raw() == issuer.x.subject().as_raw()
            && (self.weak_signature() == Some("MD5")
                || self.x.verify_signature(Some(issuer.x.public_key())).is_ok())
    }
    fn weak_signature(&self) -> Option<&'static str> {
        match self.x.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.2.840.113549.1.1.4" => Some("MD5"),
            "1.2.840.113549.1.1.5"
            | "1.2.840.10045.4.1"
            | "1.2.840.10040.4.3"
            | "1.3.14.3.2.29" => Some("SHA-1"),
            _ => None,
        }
    }
    fn aki(&self) -> Option<Vec<u8>> {
        self.x
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
    }
    fn ski(&self) -> Option<Vec<u8>> {
        self.x
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
    }
    fn has_ext(&self, pick: impl Fn(&ParsedExtension<'_>) -> bool) -> bool {
        self.x
            .extensions()
            .iter()
            .any(|e| pick(e.parsed_extension()))
    }
}

fn finding(
    code: LintCode,
    cert: &Cert<'_>,
    clients: &[Client],
    message: String,
    fix: &str,
) -> LintFinding {
    LintFinding {
        code,
        cert: cert.name.clone(),
        clients: clients.to_vec(),
        message,
        fix: fix.to_owned(),
    }
}

const ALL: &[Client] = &Client::ALL;
const STRICT: &[Client] = &[Client::OpensslStrict];
const REISSUE_CA: &str = "reissue the CA (`dctx pki init --force`, then `dctx pki renew NAME` for each certificate), \
     or with openssl add `-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'` \
     and re-sign it with its own key: `openssl x509 -in ca.pem -signkey ca-key.pem -days 3650 -extfile <(printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\nsubjectKeyIdentifier=hash') -out ca-new.pem` (same key: issued certificates stay valid)";

/// The incompatibilities of `m`; empty when every client family accepts it.
pub fn lint(m: &Input<'_>) -> Vec<LintFinding> {
    let chain: Vec<Cert<'_>> = m.chain.iter().filter_map(|d| Cert::parse(d)).collect();
    let roots: Vec<Cert<'_>> = m.roots.iter().filter_map(|d| Cert::parse(d)).collect();
    let mut out = Vec::new();
    let Some(leaf) = chain.first() else {
        return out;
    };
    // Every CA involved: sent intermediates and trusted roots (once each).
    let mut cas: Vec<&Cert<'_>> = chain.iter().skip(1).collect();
    for r in &roots {
        if !cas.iter().any(|c| c.x.as_raw() == r.x.as_raw()) && r.x.as_raw() != leaf.x.as_raw() {
            cas.push(r);
        }
    }
    if leaf.x.is_ca() && m.chain.len() == 1 && !m.server_leaf {
        // Linting a CA on its own (`dctx pki init`).
        cas.insert(0, leaf);
    }
    for ca in &cas {
        let root = roots.iter().any(|r| r.x.as_raw() == ca.x.as_raw());
        ca_rules(ca, root, &mut out);
    }
    let leaves: Vec<&Cert<'_>> = if cas.first().is_some_and(|c| std::ptr::eq(*c, leaf)) {
        Vec::new()
    } else {
        vec![leaf]
    };
    for l in &leaves {
        if m.server_leaf {
            name_rules(l, m.host, &mut out);
        }
    }
    // Per certificate that carries a signature clients check (not a root's
    // self-signature) and whose key clients use.
    let signed: Vec<&Cert<'_>> = leaves
        .iter()
        .copied()
        .chain(chain.iter().skip(1).filter(|c| !c.self_signed()))
        .collect();
    for c in &signed {
        signature_rules(c, &mut out);
        if c.is_v1() {
            out.push(finding(
                LintCode::V1Certificate,
                c,
                &[Client::Rustls],
                format!(
                    "{} is an X.509 version 1 certificate: rustls/webpki refuses it (UnsupportedCertVersion), and it cannot carry subjectAltName or extendedKeyUsage",
                    c.name
                ),
                "reissue it as version 3 with extensions: `dctx pki --dir DIR server --host HOST --out DIR` / `dctx pki --dir DIR client NAME --out NAME.tar` \
                 (DIR: your CA's directory, holding ca.pem and ca-key.pem), or pass `-extfile` to `openssl x509 -req` (extensions make it v3)",
            ));
        } else if !c.has_ext(|e| matches!(e, ParsedExtension::AuthorityKeyIdentifier(_))) {
            out.push(finding(
                LintCode::MissingAki,
                c,
                STRICT,
                format!(
                    "{} has no authorityKeyIdentifier: OpenSSL with X509_STRICT (Python ≥ 3.13) refuses it (\"Missing Authority Key Identifier\")",
                    c.name
                ),
                "reissue it with `authorityKeyIdentifier=keyid,issuer` in the -extfile (`dctx pki` adds it)",
            ));
        }
    }
    chain_rules(&chain, &roots, &mut out);
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert((f.code, f.cert.clone())));
    out
}

fn ca_rules(ca: &Cert<'_>, root: bool, out: &mut Vec<LintFinding>) {
    if ca.is_v1() {
        return;
    }
    match ca.x.basic_constraints() {
        // rustls takes a trusted root as it is; an intermediate must say CA:TRUE.
        Ok(None) => out.push(finding(
            LintCode::CaNoBasicConstraints,
            ca,
            if root {
                &[Client::Go, Client::OpensslStrict]
            } else {
                ALL
            },
            format!(
                "the CA {} has no basicConstraints extension, so it is not marked as a CA (Go: \"parent certificate cannot sign this kind of certificate\"; OpenSSL strict: \"invalid CA certificate\")",
                ca.name
            ),
            REISSUE_CA,
        )),
        Ok(Some(bc)) if bc.value.ca && !bc.critical => out.push(finding(
            LintCode::CaBasicConstraintsNotCritical,
            ca,
            STRICT,
            format!(
                "the CA {} has basicConstraints without `critical`: OpenSSL with X509_STRICT (Python ≥ 3.13) refuses it (\"Basic Constraints of CA cert not marked critical\")",
                ca.name
            ),
            REISSUE_CA,
        )),
        _ => {}
    }
    match ca.x.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => out.push(finding(
            LintCode::CaNoKeyCertSign,
            ca,
            &[Client::Go, Client::OpensslStrict, Client::Openssl],
            format!(
                "the CA {} has a keyUsage without keyCertSign: it is not allowed to sign certificates",
                ca.name
            ),
            REISSUE_CA,
        )),
        Ok(None) => out.push(finding(
            LintCode::CaNoKeyUsage,
            ca,
            STRICT,
            format!(
                "the CA {} has no keyUsage extension: OpenSSL with X509_STRICT (Python ≥ 3.13) refuses it (\"CA cert does not include key usage extension\")",
                ca.name
            ),
            REISSUE_CA,
        )),
        _ => {}
    }
    if !ca.has_ext(|e| matches!(e, ParsedExtension::SubjectKeyIdentifier(_))) {
        out.push(finding(
            LintCode::MissingSki,
            ca,
            STRICT,
            format!(
                "the CA {} has no subjectKeyIdentifier: OpenSSL with X509_STRICT (Python ≥ 3.13) refuses it (\"Missing Subject Key Identifier\")",
                ca.name
            ),
            REISSUE_CA,
        ));
    }
    key_rules(ca, out);
}

/// The names a leaf's subjectAltName holds (DNS lowercased, IPs raw).
struct Sans {
    has_san: bool,
    dns: Vec<String>,
    ips: Vec<Vec<u8>>,
}

impl Sans {
    fn of(leaf: &Cert<'_>) -> Sans {
        let mut sans = Sans {
            has_san: false,
            dns: Vec::new(),
            ips: Vec::new(),
        };
        if let Ok(Some(san)) = leaf.x.subject_alternative_name() {
            sans.has_san = true;
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => sans.dns.push(d.to_ascii_lowercase()),
                    GeneralName::IPAddress(b) => sans.ips.push(b.to_vec()),
                    _ => {}
                }
            }
        }
        sans
    }
}

/// How to get a server certificate valid for the host `h`.
fn reissue_for(h: &str) -> String {
    format!(
        "reissue the server certificate with the name clients dial: `dctx pki --dir DIR server --host {h} --out DIR` \
         (DIR: your CA's directory, holding ca.pem and ca-key.pem), or with openssl `-extfile <(printf 'subjectAltName=DNS:NAME,IP:ADDRESS')`"
    )
}

fn name_rules(leaf: &Cert<'_>, host: Option<&str>, out: &mut Vec<LintFinding>) {
    let sans = Sans::of(leaf);
    if !sans.has_san {
        out.push(finding(
            LintCode::CnOnly,
            leaf,
            &[Client::Go, Client::Rustls],
            format!(
                "{} has no subjectAltName, only a CN: Go (\"certificate relies on legacy Common Name field\") and rustls ignore the CN; only OpenSSL clients still fall back to it for host names",
                leaf.name
            ),
            &reissue_for(host.unwrap_or("HOST")),
        ));
    }
    let Some(host) = host else {
        return;
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip_rule(leaf, &sans, ip, host, out),
        Err(_) => dns_rule(leaf, &sans, host, out),
    }
}

/// Clients dial an IP address: it must be an IP subjectAltName.
fn ip_rule(
    leaf: &Cert<'_>,
    sans: &Sans,
    ip: std::net::IpAddr,
    host: &str,
    out: &mut Vec<LintFinding>,
) {
    let raw = match ip {
        std::net::IpAddr::V4(v) => v.octets().to_vec(),
        std::net::IpAddr::V6(v) => v.octets().to_vec(),
    };
    if !sans.ips.contains(&raw) {
        out.push(finding(
            LintCode::IpNotInSans,
            leaf,
            ALL,
            format!(
                "clients dial the IP address {host}, but {} has no IP:{host} subjectAltName (no client matches an IP address against a DNS name or the CN)",
                leaf.name
            ),
            &reissue_for(host),
        ));
    }
}

/// Clients dial a DNS name: it must match a DNS subjectAltName (or a
/// wildcard one level deep); which clients fail when only the CN matches.
fn dns_rule(leaf: &Cert<'_>, sans: &Sans, host: &str, out: &mut Vec<LintFinding>) {
    let h = host.to_ascii_lowercase();
    let san_match = sans.dns.iter().any(|d| {
        d == &h
            || d.strip_prefix("*.").is_some_and(|suffix| {
                h.split_once('.')
                    .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix)
            })
    });
    // OpenSSL's own host check (Python) falls back to the CN when the
    // certificate has no DNS SAN; curl only when it has no SAN at all.
    let cn_match = leaf
        .x
        .subject()
        .iter_common_name()
        .any(|a| a.as_str().is_ok_and(|c| c.eq_ignore_ascii_case(host)));
    if san_match || (!sans.has_san && cn_match) {
        return;
    }
    let clients: &[Client] = if sans.dns.is_empty() && cn_match {
        &[Client::Go, Client::Rustls, Client::Openssl]
    } else {
        ALL
    };
    let holds = if sans.dns.is_empty() {
        "no DNS subjectAltName".to_string()
    } else {
        format!("only {}", sans.dns.join(", "))
    };
    out.push(finding(
        LintCode::NameNotInSans,
        leaf,
        clients,
        format!(
            "clients dial the name {host}, but {} has {holds}",
            leaf.name
        ),
        &reissue_for(host),
    ));
}

fn signature_rules(c: &Cert<'_>, out: &mut Vec<LintFinding>) {
    if let Some(alg) = c.weak_signature() {
        out.push(finding(
            LintCode::WeakSignature,
            c,
            ALL,
            format!(
                "{} is signed with {alg}: Go and rustls refuse it outright, OpenSSL clients at security level 1 or more (curl, Python) too",
                c.name
            ),
            "reissue it with SHA-256 (`dctx pki renew NAME`, or `openssl x509 -req -sha256 …`)",
        ));
    }
    key_rules(c, out);
}

fn key_rules(c: &Cert<'_>, out: &mut Vec<LintFinding>) {
    if let Ok(PublicKey::RSA(rsa)) = c.x.public_key().parsed() {
        let bits = rsa.key_size();
        if bits < 2048 {
            // A CA's key signs the next certificate: the same limits apply.
            out.push(finding(
                LintCode::RsaTooSmall,
                c,
                &[Client::Rustls, Client::OpensslStrict, Client::Openssl],
                format!(
                    "{} has a {bits}-bit RSA key: rustls needs 2048 bits, and OpenSSL at security level 2 (the Debian/Ubuntu default: curl, Python) refuses it (\"key too weak\"); Go still accepts it",
                    c.name
                ),
                "issue a new key of at least 2048 bits (`dctx pki renew NAME`, or `openssl req -newkey rsa:3072` / `-newkey ec -pkeyopt ec_paramgen_curve:P-256`)",
            ));
        }
    }
}

fn chain_rules(chain: &[Cert<'_>], roots: &[Cert<'_>], out: &mut Vec<LintFinding>) {
    // Walk issuer by issuer through what is sent, then the roots.
    let Some(mut cur) = chain.first() else {
        return;
    };
    for _ in 0..8 {
        if roots.iter().any(|r| r.x.as_raw() == cur.x.as_raw()) {
            return;
        }
        if let Some(root) = roots.iter().find(|r| cur.signed_by(r)) {
            outlives(cur, root, out);
            return;
        }
        if let Some(next) = chain
            .iter()
            .find(|n| !std::ptr::eq(*n, cur) && cur.signed_by(n))
        {
            outlives(cur, next, out);
            cur = next;
            continue;
        }
        // A trusted CA with the issuer's name or key id that did not sign
        // it is another CA (unknown-ca), not a missing intermediate.
        let aki = cur.aki();
        let other_ca = roots.iter().any(|r| {
            r.x.subject().as_raw() == cur.x.issuer().as_raw() || (aki.is_some() && r.ski() == aki)
        });
        if !roots.is_empty() && !cur.self_signed() && !other_ca {
            out.push(finding(
                LintCode::MissingIntermediate,
                cur,
                ALL,
                format!(
                    "{} is issued by {}, which the server does not send and clients do not trust: no client fetches missing intermediates",
                    cur.name,
                    cur.x.issuer()
                ),
                "serve the full chain: concatenate the intermediate(s) after the server certificate in the file dockerd's --tlscert (nginx: ssl_certificate) points at: `cat server-cert.pem intermediate.pem > server-chain.pem`",
            ));
        }
        return;
    }
}

/// How long a certificate may outlive its CA before it is worth a note.
const OUTLIVES_SLACK_SECS: i64 = 86_400;

fn outlives(c: &Cert<'_>, issuer: &Cert<'_>, out: &mut Vec<LintFinding>) {
    let (end, ca_end) = (
        c.x.validity().not_after.timestamp(),
        issuer.x.validity().not_after.timestamp(),
    );
    // Certificates made together with the same -days (Docker's recipe)
    // end seconds after their CA: that is no incompatibility.
    if end > ca_end + OUTLIVES_SLACK_SECS {
        out.push(finding(
            LintCode::OutlivesCa,
            c,
            &[],
            format!(
                "{} is valid until {}, but its CA {} only until {}: from then on every client refuses it",
                c.name,
                crate::pki::inspect::rfc3339(end),
                issuer.name,
                crate::pki::inspect::rfc3339(ca_end)
            ),
            "renew the CA before it expires (`dctx pki renew ca` keeps its key, so issued certificates stay valid), or issue certificates no longer than the CA lives",
        ));
    }
}

/// Plain-text lines for `doctor` and `pki`: one block per finding (empty when clean).
pub fn render(title: &str, findings: &[LintFinding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut s = format!("{title}\n");
    for f in findings {
        s.push_str(&format!(
            "  ! {} ({}): {}\n",
            f.code.as_str(),
            f.cert,
            f.message
        ));
        if f.clients.is_empty() {
            s.push_str("    refused by: no client yet\n");
        } else {
            s.push_str(&format!("    refused by: {}\n", f.clients_phrase()));
        }
        s.push_str(&format!("    fix: {}\n", f.fix));
    }
    s
}

/// DER certificates of a PEM blob (non-certificate blocks skipped).
pub fn pem_certs(pem_bytes: &[u8]) -> Vec<Vec<u8>> {
    pem::parse_many(pem_bytes)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .collect()
}

/// Lint what `dctx pki` issued: the certificate with its CA, once per host
/// clients may dial (server) or once (client). Empty when clean.
pub fn issued(cert_pem: &str, ca_pem: &str, hosts: &[String], server: bool) -> Vec<LintFinding> {
    let chain = pem_certs(cert_pem.as_bytes());
    let roots = pem_certs(ca_pem.as_bytes());
    let mut out: Vec<LintFinding> = Vec::new();
    let hosts: Vec<Option<&str>> = if server && !hosts.is_empty() {
        hosts.iter().map(|h| Some(h.as_str())).collect()
    } else {
        vec![None]
    };
    for host in hosts {
        for f in lint(&Input {
            chain: &chain,
            roots: &roots,
            host,
            server_leaf: server,
        }) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}
