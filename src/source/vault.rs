//! The OpenBao / Vault HTTP API, the few calls enrollment and renewal need:
//! `POST /v1/{mount}/sign/{role}` and `POST /v1/auth/cert/login`. Vault
//! speaks the same API. One connection per call (hyper http1 over
//! tokio-rustls); every message quoted from the server is escaped.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use zeroize::Zeroizing;

use super::VaultSource;
use crate::conn::tls::provider;

/// Connect + TLS + answer, per call.
const TIMEOUT: Duration = Duration::from_secs(20);
/// A sign answer is a few certificates.
const MAX_BODY: usize = 1 << 20;

/// The variables the vault CLI honours, read by the command layer.
#[derive(Debug, Clone, Default)]
pub struct VaultEnv {
    /// BAO_ADDR, else VAULT_ADDR.
    pub addr: Option<String>,
    /// BAO_TOKEN, else VAULT_TOKEN.
    pub token: Option<Zeroizing<String>>,
    /// BAO_CACERT, else VAULT_CACERT.
    pub cacert: Option<std::path::PathBuf>,
    /// BAO_NAMESPACE, else VAULT_NAMESPACE.
    pub namespace: Option<String>,
    /// ~/.vault-token, when present.
    pub token_file: Option<std::path::PathBuf>,
}

impl VaultEnv {
    /// Read by the command layer (like `Env::from_process`, once, at start).
    pub fn from_process(home: Option<&std::path::Path>) -> Self {
        let var = |a: &str, b: &str| {
            std::env::var(a)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| std::env::var(b).ok().filter(|v| !v.is_empty()))
        };
        use crate::env_vars as v;
        VaultEnv {
            addr: var(v::BAO_ADDR, v::VAULT_ADDR),
            token: var(v::BAO_TOKEN, v::VAULT_TOKEN).map(Zeroizing::new),
            cacert: var(v::BAO_CACERT, v::VAULT_CACERT).map(Into::into),
            namespace: var(v::BAO_NAMESPACE, v::VAULT_NAMESPACE),
            token_file: home.map(|h| h.join(".vault-token")),
        }
    }

    /// The token from the environment, else ~/.vault-token.
    pub fn token(&self) -> Option<Zeroizing<String>> {
        if let Some(t) = &self.token {
            return Some(t.clone());
        }
        let f = self.token_file.as_ref()?;
        let t = std::fs::read_to_string(f).ok()?;
        let t = t.trim();
        (!t.is_empty()).then(|| Zeroizing::new(t.to_string()))
    }
}

/// A failed call, by what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot reach {addr}: {why}")]
    Unreachable { addr: String, why: String },
    #[error("{addr} is sealed: ask an operator to unseal it (`bao operator unseal`), then retry")]
    Sealed { addr: String },
    #[error("{addr} answered {status}: {message}")]
    Status {
        addr: String,
        status: u16,
        message: String,
    },
}

/// One server, its trust, and optionally a client certificate (cert auth).
pub struct Client {
    addr: String,
    host: String,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    namespace: Option<String>,
}

impl Client {
    /// `server_ca`: PEM the server's certificate must chain to (none: the
    /// system roots). `client`: (cert PEM, key PEM) presented when asked.
    pub fn new(
        address: &str,
        server_ca: Option<&[u8]>,
        client: Option<(&[u8], &[u8])>,
        namespace: Option<&str>,
    ) -> anyhow::Result<Self> {
        let addr = address.trim_end_matches('/').to_string();
        let uri: hyper::Uri = addr
            .parse()
            .with_context(|| format!("{addr:?} is not a server address (https://HOST:8200)"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => anyhow::bail!("{addr:?}: the server address must start with https:// or http://"),
        };
        if uri.path() != "/" && !uri.path().is_empty() {
            anyhow::bail!(
                "{addr:?}: give the server address without a path (the API is under /v1)"
            );
        }
        let host = uri
            .host()
            .context("the server address has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let mut roots = RootCertStore::empty();
            match server_ca {
                Some(pem) => {
                    for c in CertificateDer::pem_slice_iter(pem) {
                        roots
                            .add(c.context("the server CA file is not valid PEM")?)
                            .context("the server CA file holds an unusable certificate")?;
                    }
                    if roots.is_empty() {
                        anyhow::bail!("the server CA file holds no certificate");
                    }
                }
                None => {
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                }
            }
            let b = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots);
            let cfg = match client {
                Some((cert, key)) => {
                    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                        .collect::<Result<_, _>>()
                        .context("the client certificate is not valid PEM")?;
                    let key = PrivateKeyDer::from_pem_slice(key)
                        .context("the client key is not a usable PEM key")?;
                    b.with_client_auth_cert(chain, key)
                        .context("the client certificate and key do not form a usable pair")?
                }
                None => b.with_no_client_auth(),
            };
            Some(Arc::new(cfg))
        } else {
            if client.is_some() {
                anyhow::bail!(
                    "{addr}: certificate login needs https:// (the certificate is sent in the TLS handshake)"
                );
            }
            None
        };
        Ok(Client {
            addr,
            host,
            port,
            tls,
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_owned),
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// POST `/v1/{path}` with a JSON body; the JSON answer of a 2xx.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, VaultError> {
        tokio::time::timeout(TIMEOUT, self.post_inner(path, token, body))
            .await
            .unwrap_or_else(|_| {
                Err(VaultError::Unreachable {
                    addr: self.addr.clone(),
                    why: format!("no answer within {} s", TIMEOUT.as_secs()),
                })
            })
    }

    async fn post_inner(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, VaultError> {
        let unreachable = |why: String| VaultError::Unreachable {
            addr: self.addr.clone(),
            why,
        };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let req = {
            let mut r = hyper::Request::post(format!("/v1/{path}"))
                .header(hyper::header::HOST, format!("{}:{}", self.host, self.port))
                .header(hyper::header::CONTENT_TYPE, "application/json");
            if let Some(t) = token {
                r = r.header("X-Vault-Token", t);
            }
            if let Some(ns) = &self.namespace {
                r = r.header("X-Vault-Namespace", ns);
            }
            r.body(Full::new(Bytes::from(body.to_string())))
                .map_err(|e| unreachable(e.to_string()))?
        };
        let resp = match &self.tls {
            Some(cfg) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|_| {
                    unreachable(format!("{:?} is not a valid host name", self.host))
                })?;
                let s = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unreachable(format!("TLS: {e}")))?;
                send(TokioIo::new(s), req).await
            }
            None => send(TokioIo::new(tcp), req).await,
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let errors: Vec<String> = json["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .flat_map(error_lines)
            .collect();
        if (200..300).contains(&status) {
            return Ok(json);
        }
        if status == 503 && errors.iter().any(|e| e.contains("sealed")) {
            return Err(VaultError::Sealed {
                addr: self.addr.clone(),
            });
        }
        Err(VaultError::Status {
            addr: self.addr.clone(),
            status,
            message: if errors.is_empty() {
                crate::text::sanitize(&String::from_utf8_lossy(&bytes[..bytes.len().min(200)]))
                    .into_owned()
            } else {
                errors.join("; ")
            },
        })
    }
}

/// Vault's errors, one per line, without go-multierror's framing
/// ("1 error occurred:\n\t* permission denied"), each escaped.
fn error_lines(e: &str) -> Vec<String> {
    e.lines()
        .map(|l| l.trim().trim_start_matches("* ").trim())
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.ends_with("occurred:") && l.contains("error")))
        .map(|l| crate::text::sanitize(l).into_owned())
        .collect()
}

async fn send<S>(
    io: TokioIo<S>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    sender.send_request(req).await
}

/// What a sign call returned.
pub struct Signed {
    /// The leaf (PEM).
    pub cert_pem: String,
    /// The issuing CA and its chain (PEM, one after the other).
    pub ca_pem: String,
    /// What the engine warned about (a TTL capped to the role's max…), escaped.
    pub warnings: Vec<String>,
}

/// `POST /v1/{mount}/sign/{role}` with `csr`; errors name the fix.
pub async fn sign(
    client: &Client,
    token: &str,
    src: &VaultSource,
    csr_pem: &str,
) -> anyhow::Result<Signed> {
    let mut body = serde_json::json!({
        "csr": csr_pem,
        "common_name": src.cn,
        "format": "pem",
    });
    if let Some(ttl) = &src.ttl {
        body["ttl"] = ttl.clone().into();
    }
    let path = format!("{}/sign/{}", src.mount, src.role);
    let json = client
        .post(&path, Some(token), &body)
        .await
        .map_err(|e| explain(e, &path))?;
    let data = &json["data"];
    let cert_pem = data["certificate"]
        .as_str()
        .with_context(|| format!("{}: the answer of {path} holds no certificate", client.addr))?
        .to_string();
    // ca_chain holds the issuing CA first, then its parents; issuing_ca
    // alone when the engine has no chain.
    let mut ca_pem = String::new();
    let chain: Vec<&str> = data["ca_chain"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    if chain.is_empty() {
        if let Some(c) = data["issuing_ca"].as_str() {
            ca_pem.push_str(c.trim());
            ca_pem.push('\n');
        }
    } else {
        for c in chain {
            ca_pem.push_str(c.trim());
            ca_pem.push('\n');
        }
    }
    let warnings = json["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
        .flat_map(error_lines)
        .collect();
    Ok(Signed {
        cert_pem: format!("{}\n", cert_pem.trim()),
        ca_pem,
        warnings,
    })
}

/// `POST /v1/auth/cert/login` with the client certificate the `client` presents.
pub async fn cert_login(client: &Client, role: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    let body = match role {
        Some(r) => serde_json::json!({ "name": r }),
        None => serde_json::json!({}),
    };
    let json = client
        .post("auth/cert/login", None, &body)
        .await
        .map_err(|e| match e {
            VaultError::Status {
                status: 400 | 401 | 403,
                message,
                addr,
            } => anyhow::anyhow!(
                "{addr} refused the certificate login ({message}): the `cert` auth method must trust the CA that issued this certificate (`bao write auth/cert/certs/NAME certificate=@ca.pem token_policies=…`), or give a token (BAO_TOKEN / VAULT_TOKEN / --token-stdin)"
            ),
            e => explain(e, "auth/cert/login"),
        })?;
    json["auth"]["client_token"]
        .as_str()
        .map(|t| Zeroizing::new(t.to_string()))
        .with_context(|| format!("{}: the certificate login returned no token", client.addr))
}

/// A failed call as cause + fix.
fn explain(e: VaultError, path: &str) -> anyhow::Error {
    match e {
        VaultError::Status {
            status: 403,
            addr,
            message,
        } => anyhow::anyhow!(
            "{addr} refused {path} (403: {message}): the token needs this policy line:\n    path \"{path}\" {{ capabilities = [\"update\"] }}"
        ),
        VaultError::Status {
            status: 404,
            addr,
            message,
        } => anyhow::anyhow!(
            "{addr} has nothing at {path} ({message}): check the mount (--mount) and the role (--role)"
        ),
        VaultError::Status {
            status: 400,
            addr,
            message,
        } => anyhow::anyhow!("{addr} refused the request for {path}: {message}"),
        e @ VaultError::Unreachable { .. } => anyhow::anyhow!(
            "{e}: check the address (--vault, BAO_ADDR / VAULT_ADDR) and that the server runs; for https, its CA (--vault-ca, VAULT_CACERT)"
        ),
        e => anyhow::Error::new(e),
    }
}
