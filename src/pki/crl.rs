//! Certificate revocation lists: signing one with the local CA, reading one
//! (ours or OpenBao's), and installing one where a TLS front (nginx
//! `ssl_crl`) reads it. Installing is all-or-nothing and refuses a CRL
//! that does not verify against the CA, has already lapsed, or is older
//! (lower CRL number) than the one in place: a front fed a stale or foreign
//! CRL either lets a revoked person back in or refuses everyone.

use std::path::Path;

use anyhow::{Context, bail};
use x509_parser::num_bigint::BigUint;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::pki::CertInfo;
use crate::pki::inspect::rfc3339;
use crate::pki::revoke::{Revoked, normalize_serial};
use crate::store::atomic;

/// Default validity of a CRL the local CA signs.
pub const DEFAULT_DAYS: u32 = 30;
/// `--check` warns this long before nextUpdate (nginx refuses every client
/// once the CRL has lapsed).
pub const DEFAULT_WARN_DAYS: u32 = 7;

/// The facts about one CRL.
#[derive(Debug, Clone)]
pub struct CrlInfo {
    pub issuer: String,
    /// The CRL number extension (absent in some CRLs).
    pub number: Option<BigUint>,
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// Revoked serials, normalised like `revoke::normalize_serial`.
    pub revoked: Vec<String>,
    pub der: Vec<u8>,
}

impl CrlInfo {
    pub fn from_der(der: &[u8]) -> anyhow::Result<Self> {
        let (_, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| anyhow::anyhow!("not an X.509 CRL: {e}"))?;
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| normalize_serial(&hex::encode(r.raw_serial())))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            issuer: crl.issuer().to_string(),
            number: crl.crl_number().cloned(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked,
            der: der.to_vec(),
        })
    }

    /// The first `X509 CRL` block of a PEM buffer (DER accepted too).
    pub fn from_pem(data: &[u8]) -> anyhow::Result<Self> {
        if data.first() == Some(&0x30) {
            return Self::from_der(data);
        }
        let blocks = pem::parse_many(data).context("not PEM")?;
        let Some(b) = blocks.iter().find(|b| b.tag() == "X509 CRL") else {
            bail!("no \"-----BEGIN X509 CRL-----\" block");
        };
        Self::from_der(b.contents())
    }

    /// Signed by `ca`'s key (the signature, not the issuer's name).
    pub fn verify(&self, ca: &CertInfo) -> anyhow::Result<()> {
        let (_, crl) = CertificateRevocationList::from_der(&self.der)
            .map_err(|e| anyhow::anyhow!("not an X.509 CRL: {e}"))?;
        let (_, cert) = X509Certificate::from_der(&ca.der)
            .map_err(|e| anyhow::anyhow!("the CA certificate does not parse: {e}"))?;
        crl.verify_signature(cert.public_key()).map_err(|_| {
            anyhow::anyhow!(
                "the CRL's signature does not verify with the CA \"{}\" (issuer named in the CRL: {})",
                ca.display_name(),
                self.issuer
            )
        })
    }

    pub fn is_revoked(&self, serial: &str) -> bool {
        normalize_serial(serial).is_ok_and(|s| self.revoked.contains(&s))
    }

    pub fn number_label(&self) -> String {
        self.number
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "none".into())
    }

    /// Seconds left until nextUpdate (negative once lapsed); None without one.
    pub fn left(&self, now: i64) -> Option<i64> {
        self.next_update.map(|n| n - now)
    }

    /// One line: number, next update and how far away it is.
    pub fn summary(&self, now: i64) -> String {
        format!(
            "CRL number {}, {} revoked, next update {}",
            self.number_label(),
            self.revoked.len(),
            match self.next_update {
                Some(n) => format!("{} ({})", rfc3339(n), when(n - now)),
                None => "none given".into(),
            }
        )
    }
}

/// "in 3d 4h" / "lapsed 2h ago".
pub fn when(secs: i64) -> String {
    let a = secs.unsigned_abs();
    let text = if a >= 86_400 {
        format!("{}d {}h", a / 86_400, a % 86_400 / 3600)
    } else if a >= 3600 {
        format!("{}h {}m", a / 3600, a % 3600 / 60)
    } else {
        format!("{}m", a / 60)
    };
    if secs < 0 {
        format!("lapsed {text} ago")
    } else {
        format!("in {text}")
    }
}

/// Freshness of a CRL for `--check` and the metrics exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// nextUpdate is within the warning window.
    Lapsing,
    /// Past nextUpdate: a front checking it refuses every client.
    Lapsed,
    /// No nextUpdate at all.
    Open,
}

pub fn freshness(info: &CrlInfo, now: i64, warn_days: u32) -> Freshness {
    match info.left(now) {
        None => Freshness::Open,
        Some(l) if l <= 0 => Freshness::Lapsed,
        Some(l) if l <= i64::from(warn_days) * 86_400 => Freshness::Lapsing,
        Some(_) => Freshness::Fresh,
    }
}

/// Sign a CRL listing `revoked` with the CA, valid `days` from `now`.
pub fn sign(
    ca: &crate::pki::issue::Ca,
    revoked: &[Revoked],
    number: &BigUint,
    now: i64,
    days: u32,
) -> anyhow::Result<String> {
    if days == 0 || days > 3650 {
        bail!("--days must be between 1 and 3650");
    }
    let t = |ts: i64| time::OffsetDateTime::from_unix_timestamp(ts).context("time out of range");
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(
                    &hex::decode(&r.serial).context("corrupt serial in revoked.json")?,
                ),
                revocation_time: t(r.revoked)?,
                reason_code: Some(r.reason.rcgen()),
                invalidity_date: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let params = rcgen::CertificateRevocationListParams {
        this_update: t(now)?,
        next_update: t(now + i64::from(days) * 86_400)?,
        crl_number: rcgen::SerialNumber::from_slice(&number.to_bytes_be()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(ca.issuer()).context("signing the CRL")?;
    crl.pem().context("encoding the CRL")
}

/// Read and parse a CRL file; Ok(None) when it does not exist.
pub fn read(path: &Path) -> anyhow::Result<Option<CrlInfo>> {
    match std::fs::read(path) {
        Ok(data) => CrlInfo::from_pem(&data)
            .map(Some)
            .with_context(|| format!("{} is not a CRL", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
}

/// What `install` did.
#[derive(Debug)]
pub struct Installed {
    pub info: CrlInfo,
    /// The CRL number of the file it replaced (None: there was none).
    pub replaced: Option<Option<BigUint>>,
}

/// Put `pem` at `path` (atomically, 0644) once it verifies against `ca`, has
/// not lapsed and is not older than the CRL already there. `force` replaces
/// a file in place that is not a CRL of this CA.
pub fn install(
    path: &Path,
    pem: &str,
    ca: &CertInfo,
    now: i64,
    force: bool,
) -> anyhow::Result<Installed> {
    let info = CrlInfo::from_pem(pem.as_bytes()).context("the new CRL")?;
    info.verify(ca).context("refusing to install the CRL")?;
    if info.left(now).is_some_and(|l| l <= 0) {
        bail!(
            "refusing to install a CRL that has already lapsed (next update {}): a front checking it refuses every client",
            rfc3339(info.next_update.unwrap_or_default())
        );
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    // Two writers must not both pass the "not older" check and race.
    let _lock = atomic::Lock::acquire(&dir.join(format!(".{}.lock", name.to_string_lossy())))
        .with_context(|| format!("locking {}", path.display()))?;
    let old = match read(path) {
        Ok(old) => old,
        Err(e) if force => {
            eprintln!("warning: replacing {} ({e:#})", path.display());
            None
        }
        Err(e) => {
            return Err(e.context("pass --force to replace it"));
        }
    };
    if let Some(old) = &old {
        match old.verify(ca) {
            Ok(()) => {
                if let (Some(o), Some(n)) = (&old.number, &info.number)
                    && n < o
                {
                    bail!(
                        "refusing to replace {} (CRL number {o}) with an older CRL (number {n})",
                        path.display()
                    );
                }
                if old.number.is_some() && info.number.is_none() {
                    bail!(
                        "refusing to replace {} (CRL number {}) with a CRL without a number",
                        path.display(),
                        old.number_label()
                    );
                }
            }
            Err(_) if force => {}
            Err(e) => {
                return Err(e.context(format!(
                    "{} holds a CRL of another CA; pass --force to replace it",
                    path.display()
                )));
            }
        }
    }
    atomic::write(path, pem.as_bytes(), atomic::PUBLIC_FILE)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Installed {
        info,
        replaced: old.map(|o| o.number),
    })
}

/// Prometheus families for the CRL files a front checks (`dctx metrics --crl`):
/// alert on `dctx_crl_next_update - time()` before a front refuses everyone.
#[cfg(feature = "runtime")]
pub fn exposition(files: &[std::path::PathBuf], now: i64) -> String {
    use crate::text::prometheus_label as escape;
    if files.is_empty() {
        return String::new();
    }
    let mut next = String::new();
    let mut ok = String::new();
    for f in files {
        let label = format!("{{file=\"{}\"}}", escape(&f.display().to_string()));
        let info = read(f).ok().flatten();
        if let Some(n) = info.as_ref().and_then(|i| i.next_update) {
            next.push_str(&format!("dctx_crl_next_update{label} {n}\n"));
        }
        let fine = info.is_some_and(|i| i.left(now).is_none_or(|l| l > 0));
        ok.push_str(&format!("dctx_crl_ok{label} {}\n", u8::from(fine)));
    }
    format!(
        "# HELP dctx_crl_next_update The CRL's nextUpdate, unix seconds (a front checking it refuses every client after).\n\
         # TYPE dctx_crl_next_update gauge\n{next}\
         # HELP dctx_crl_ok 1 when the CRL file reads, parses and has not passed its nextUpdate.\n\
         # TYPE dctx_crl_ok gauge\n{ok}"
    )
}

/// A CRL that lists a certificate, for `doctor`.
#[cfg(feature = "runtime")]
pub struct Evidence {
    /// Where it came from (a file or a URL).
    pub source: String,
    pub crl: CrlInfo,
    /// Its signature checked out against one of the CAs given.
    pub verified: bool,
}

/// The CRL distribution point URLs (http/https) of a certificate.
pub fn distribution_points(cert: &CertInfo) -> Vec<String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let Ok((_, c)) = X509Certificate::from_der(&cert.der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ext in c.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for p in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                    for n in names {
                        if let GeneralName::URI(u) = n
                            && (u.starts_with("http://") || u.starts_with("https://"))
                        {
                            out.push(u.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

/// Look for `cert`'s serial in the CRLs that could speak for it: `explicit`
/// (doctor --crl), the local CA's latest CRL (`pki_dir`/crl.pem) when that CA
/// issued it, and the certificate's CRL distribution points. Unreadable
/// sources are skipped: this is evidence for a diagnosis, not a gate.
#[cfg(feature = "runtime")]
pub fn evidence(
    cert: &CertInfo,
    cas: &[CertInfo],
    explicit: Option<&Path>,
    pki_dir: Option<&Path>,
    timeout: std::time::Duration,
) -> Option<Evidence> {
    let mut sources: Vec<(String, Option<CrlInfo>)> = Vec::new();
    if let Some(f) = explicit {
        sources.push((f.display().to_string(), read(f).ok().flatten()));
    }
    if let Some(dir) = pki_dir {
        let issued_here = std::fs::read(dir.join("ca.pem"))
            .ok()
            .and_then(|d| crate::pki::inspect::certs_from_pem(&d).into_iter().next())
            .is_some_and(|ca| cert.is_signed_by(&ca));
        if issued_here {
            let f = dir.join("crl.pem");
            sources.push((f.display().to_string(), read(&f).ok().flatten()));
        }
    }
    for url in distribution_points(cert) {
        let crl = http_get(&url, None, timeout)
            .ok()
            .and_then(|b| CrlInfo::from_pem(&b).ok());
        sources.push((url, crl));
    }
    let mut cas = cas.to_vec();
    if let Some(dir) = pki_dir
        && let Ok(d) = std::fs::read(dir.join("ca.pem"))
    {
        cas.extend(crate::pki::inspect::certs_from_pem(&d));
    }
    sources
        .into_iter()
        .filter_map(|(source, crl)| crl.map(|c| (source, c)))
        .find(|(_, c)| c.is_revoked(&cert.serial))
        .map(|(source, crl)| Evidence {
            verified: cas.iter().any(|ca| crl.verify(ca).is_ok()),
            source,
            crl,
        })
}

/// Plain `GET url` (http:// or https://) returning the body of a 200.
/// HTTPS trusts `ca_file` if given, else the system roots.
#[cfg(feature = "runtime")]
pub fn http_get(
    url: &str,
    ca_file: Option<&Path>,
    timeout: std::time::Duration,
) -> anyhow::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let u = HttpUrl::parse(url)?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(u.host, u.port))
        .with_context(|| format!("resolving {}", u.host))?
        .next()
        .with_context(|| format!("{} has no address", u.host))?;
    let tcp = std::net::TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {}", u.authority))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\nUser-Agent: dctx\r\n\r\n",
        u.path, u.authority
    );
    let raw = if u.tls {
        https_exchange(tcp, &u, ca_file, &request)?
    } else {
        let mut raw = Vec::new();
        let mut s = tcp;
        s.write_all(request.as_bytes())?;
        (&mut s)
            .take(MAX_BODY)
            .read_to_end(&mut raw)
            .with_context(|| format!("reading from {}", u.authority))?;
        raw
    };
    response_body(url, &raw)
}

/// The parts of an http:// or https:// URL that `http_get` uses.
#[cfg(feature = "runtime")]
struct HttpUrl<'a> {
    tls: bool,
    /// `host[:port]` as written (the Host header).
    authority: &'a str,
    path: &'a str,
    /// Without IPv6 brackets.
    host: &'a str,
    port: u16,
}

#[cfg(feature = "runtime")]
impl<'a> HttpUrl<'a> {
    fn parse(url: &'a str) -> anyhow::Result<Self> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            bail!("{url:?}: expected http:// or https://");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .with_context(|| format!("{url:?}: bad port"))?,
            ),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(HttpUrl {
            tls,
            authority,
            path,
            host,
            port,
        })
    }
}

/// Send `request` over TLS on `tcp` (trusting `ca_file`, else the system
/// roots) and read the raw response until the server closes.
#[cfg(feature = "runtime")]
fn https_exchange(
    tcp: std::net::TcpStream,
    u: &HttpUrl,
    ca_file: Option<&Path>,
    request: &str,
) -> anyhow::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(f) => {
            let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            for c in crate::pki::inspect::certs_from_pem(&data) {
                roots.add(rustls_pki_types::CertificateDer::from(c.der))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(u.host.to_string())
        .with_context(|| format!("{:?} is not a valid server name", u.host))?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    // A server closing without close_notify still sent the whole body.
    if let Err(e) = (&mut s).take(MAX_BODY).read_to_end(&mut raw)
        && e.kind() != std::io::ErrorKind::UnexpectedEof
    {
        return Err(anyhow::Error::new(e).context(format!("reading from {}", u.authority)));
    }
    Ok(raw)
}

/// The body of a 200 response (de-chunked), else an error with the status
/// and the start of the body.
#[cfg(feature = "runtime")]
fn response_body(url: &str, raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{url}: no HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    if chunked {
        body = dechunk(&body).with_context(|| format!("{url}: bad chunked body"))?;
    }
    if status != "200" {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        bail!(
            "{url} answered {status}: {}",
            crate::text::sanitize(text.trim())
        );
    }
    Ok(body)
}

/// A CRL endpoint answering more than this is not serving a CRL.
#[cfg(feature = "runtime")]
const MAX_BODY: u64 = 64 << 20;

#[cfg(feature = "runtime")]
fn dechunk(mut b: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("no chunk size")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reads_naturally() {
        assert_eq!(when(3 * 86_400 + 7200), "in 3d 2h");
        assert_eq!(when(-5400), "lapsed 1h 30m ago");
        assert_eq!(when(120), "in 2m");
    }
}
