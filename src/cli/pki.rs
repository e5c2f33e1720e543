//! `dctx pki …` arguments.

use std::path::PathBuf;

use crate::env_vars;
use clap::{Args, Subcommand};

/// `--key-type`: the CLI mirror of `pki::issue::KeyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256 (default: small, fast, supported everywhere Docker runs).
    #[value(name = "ecdsa-p256", alias = "p256", alias = "ec")]
    EcdsaP256,
    /// ECDSA on P-384.
    #[value(name = "ecdsa-p384", alias = "p384")]
    EcdsaP384,
    /// RSA 2048-bit.
    #[value(name = "rsa-2048", alias = "rsa")]
    Rsa2048,
    /// RSA 4096-bit (slow to generate).
    #[value(name = "rsa-4096")]
    Rsa4096,
}

impl From<KeyType> for crate::pki::issue::KeyType {
    fn from(k: KeyType) -> Self {
        use crate::pki::issue::KeyType as K;
        match k {
            KeyType::EcdsaP256 => K::EcdsaP256,
            KeyType::EcdsaP384 => K::EcdsaP384,
            KeyType::Rsa2048 => K::Rsa2048,
            KeyType::Rsa4096 => K::Rsa4096,
        }
    }
}

/// `--format`: the CLI mirror of `pki::daemon::Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// /etc/docker/daemon.json (tls*, hosts).
    #[value(name = "daemon.json", alias = "json", alias = "daemon-json")]
    DaemonJson,
    /// systemd drop-in (docker.service.d/override.conf) with the empty `ExecStart=`.
    Systemd,
    /// Plain dockerd command-line flags.
    Flags,
    /// nginx server block fronting the unix socket, client certs required.
    Nginx,
}

impl From<Format> for crate::dockerd::Format {
    fn from(f: Format) -> Self {
        use crate::dockerd::Format as F;
        match f {
            Format::DaemonJson => F::DaemonJson,
            Format::Systemd => F::Systemd,
            Format::Flags => F::Flags,
            Format::Nginx => F::Nginx,
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Passphrases are never command-line arguments: dctx asks on the terminal, or reads them
from stdin with --password-stdin, one per line, in this order: the CA key passphrase
(only when the CA key is encrypted), then the new passphrase (init --encrypt-ca-key,
or the .p12 export password).")]
pub struct PkiArgs {
    /// PKI directory holding ca.pem, ca-key.pem and issued/ (default: <dctx store>/pki).
    /// Also any openssl CA directory with those two names, e.g. the one Docker's
    /// guide leaves (an encrypted key, PKCS#8 or legacy PEM, is asked for).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: PkiCommand,
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create the certificate authority (refuses to replace one without --force).
    Init(InitArgs),
    /// Issue a daemon (server) certificate and write ca.pem, server-cert.pem, server-key.pem.
    Server(ServerArgs),
    /// Issue a client certificate as a bundle `dctx add` imports as-is (tar or dir) and/or a .p12.
    Client(ClientArgs),
    /// Render the daemon side for the issued server certificate.
    DaemonConfig(DaemonConfigArgs),
    /// List the CA and every issued certificate with days left.
    #[command(visible_alias = "list")]
    Ls(PkiLsArgs),
    /// Re-issue a certificate with the same names and key type (new key, new serial);
    /// `renew ca` re-signs the CA with its same key (issued certs stay valid).
    Renew(RenewArgs),
    /// Record that a certificate is revoked (the next `pki crl` lists it).
    Revoke(RevokeArgs),
    /// Write the CA's signed CRL (or fetch OpenBao's with --vault), or --check one.
    Crl(CrlArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// CA common name.
    #[arg(long, default_value = "dctx Docker CA", value_name = "NAME")]
    pub cn: String,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// Validity in days.
    #[arg(long, default_value_t = crate::pki::issue::DEFAULT_CA_DAYS, value_name = "N")]
    pub days: u32,
    /// Encrypt the CA key at rest with a passphrase (asked for whenever dctx signs).
    #[arg(long)]
    pub encrypt_ca_key: bool,
    /// Read the passphrase from stdin instead of the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// Replace an existing CA (the old files are kept as *.bak-<time>, never overwritten).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// DNS name or IP address clients use to reach the daemon (repeatable).
    /// An IP becomes an IP SAN, a name a DNS SAN; localhost / 127.0.0.1 only if listed.
    #[arg(long = "host", value_name = "NAME|IP", required = true)]
    pub hosts: Vec<String>,
    /// Output directory for ca.pem, server-cert.pem, server-key.pem.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Record name (for `pki ls`, `renew`, `daemon-config --server`).
    #[arg(long, default_value = "server")]
    pub name: String,
    #[command(flatten)]
    pub issue: IssueArgs,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// Validity in days (capped at the CA's expiry).
    #[arg(long, default_value_t = crate::pki::issue::DEFAULT_LEAF_DAYS, value_name = "N")]
    pub days: u32,
    /// Overwrite existing output files / re-issue an existing name.
    #[arg(long)]
    pub force: bool,
    /// Read passphrases from stdin (CA key first if encrypted, then the .p12 password).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("output").args(["out", "p12"]).multiple(true).required(true)))]
pub struct ClientArgs {
    /// Client name (the certificate's CN).
    pub name: String,
    /// Bundle: NAME.tar / .tar.gz / .tgz, or a directory (ca.pem, cert.pem, key.pem).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Also (or only) write a password-protected PKCS#12 for browsers.
    #[arg(long, value_name = "FILE")]
    pub p12: Option<PathBuf>,
    #[command(flatten)]
    pub issue: IssueArgs,
}

#[derive(Debug, Args)]
pub struct DaemonConfigArgs {
    /// Endpoint the daemon (or nginx) listens on: tcp://0.0.0.0:2376 (repeatable; unix:// too).
    #[arg(long, value_name = "URL", required = true)]
    pub listen: Vec<String>,
    /// What to render.
    #[arg(long, value_enum, default_value_t = Format::DaemonJson)]
    pub format: Format,
    /// Directory holding ca.pem, server-cert.pem, server-key.pem on the daemon host.
    #[arg(long, default_value = "/etc/docker/certs", value_name = "DIR")]
    pub cert_dir: PathBuf,
    /// The daemon's unix socket (kept in hosts; the nginx upstream).
    #[arg(long, default_value = "/var/run/docker.sock", value_name = "PATH")]
    pub socket: PathBuf,
    /// Which issued server certificate (record name).
    #[arg(long, default_value = "server", value_name = "NAME")]
    pub server: String,
    /// Write the rendering to FILE (atomically, 0644) instead of stdout. An existing
    /// daemon.json or systemd drop-in is merged into (other keys and lines kept, mode
    /// kept) and backed up as FILE.bak-<time>.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Do not print the copy / mode instructions on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// nginx: check client certificates against this CRL (ssl_crl; see `dctx pki crl`).
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
    /// nginx: only these certificates get in (repeatable). A bare NAME means the
    /// subject CN=NAME; anything with `=` is a whole subject as nginx logs it.
    #[arg(long, value_name = "SUBJECT_OR_CN", num_args = 1..)]
    pub allow: Vec<String>,
    /// nginx: these certificates get in, for read routes only (the allowlist of
    /// `dctx proxy --read-only`; no attach, exec or upgrades). Repeatable.
    #[arg(long, value_name = "SUBJECT_OR_CN", num_args = 1..)]
    pub read_only: Vec<String>,
    /// nginx: the per-person access log (JSON lines with subject and serial).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/log/nginx/docker-tls-access.log"
    )]
    pub access_log: PathBuf,
    /// nginx: who to ask for access, named in every refusal (e.g. an e-mail address).
    #[arg(long, value_name = "TEXT")]
    pub contact: Option<String>,
}

#[derive(Debug, Args)]
pub struct PkiLsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Name of an issued certificate (see `dctx pki ls`), or `ca`.
    pub name: String,
    /// Output: a directory for a server; a tar / directory for a client.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Client only: write a PKCS#12 too (or instead).
    #[arg(long, value_name = "FILE")]
    pub p12: Option<PathBuf>,
    /// Validity in days (default: the original request's).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Read passphrases from stdin (CA key first if encrypted, then the .p12 password).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `--reason`: the CLI mirror of `pki::revoke::Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
}

impl From<Reason> for crate::pki::revoke::Reason {
    fn from(r: Reason) -> Self {
        use crate::pki::revoke::Reason as R;
        match r {
            Reason::Unspecified => R::Unspecified,
            Reason::KeyCompromise => R::KeyCompromise,
            Reason::CaCompromise => R::CaCompromise,
            Reason::AffiliationChanged => R::AffiliationChanged,
            Reason::Superseded => R::Superseded,
            Reason::CessationOfOperation => R::CessationOfOperation,
            Reason::CertificateHold => R::CertificateHold,
            Reason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").args(["name", "serial", "cert"]).required(true)))]
#[command(after_help = "\
Revoking records the serial in the CA directory (revoked.json). A TLS front such as
the nginx block of `pki daemon-config --format nginx --crl FILE` refuses the certificate
once it has a CRL listing it: dctx pki crl -o FILE --reload 'nginx -s reload'.")]
pub struct RevokeArgs {
    /// Name of an issued certificate (see `dctx pki ls`).
    pub name: Option<String>,
    /// Serial number in hex (colons allowed), e.g. from `openssl x509 -serial`.
    #[arg(long, value_name = "HEX")]
    pub serial: Option<String>,
    /// A certificate file (PEM or DER) this CA issued.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Reason code written into the CRL.
    #[arg(long, value_enum, default_value_t = Reason::Unspecified)]
    pub reason: Reason,
}

#[derive(Debug, Args)]
#[command(after_help = "\
The file is replaced atomically and only with a CRL that verifies against the CA (its
signature), has not lapsed, and is not older (lower CRL number) than the one in place.
--reload runs (sh -c) only once the new file is in place. A front checking a CRL past
its next update refuses every client: re-issue before then (--check warns; exit 3 once lapsed).
Revoking with OpenBao/Vault is the engine's own command (bao write pki/revoke
serial_number=…); --vault fetches its CRL under the same rules.")]
pub struct CrlArgs {
    /// Write the CRL to FILE (e.g. the front's ssl_crl) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Validity of a CRL the local CA signs (its next update), in days.
    #[arg(long, default_value_t = crate::pki::crl::DEFAULT_DAYS, value_name = "N",
          conflicts_with_all = ["vault", "check", "from"])]
    pub days: u32,
    /// Command run (sh -c) after the new CRL is in place, e.g. 'nginx -s reload'.
    #[arg(long, value_name = "CMD", requires = "output")]
    pub reload: Option<String>,
    /// Show FILE's CRL number and next update, warning before it lapses (writes nothing).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["output", "vault", "reload"])]
    pub check: Option<PathBuf>,
    /// With --check: warn this many days before the next update.
    #[arg(long, default_value_t = crate::pki::crl::DEFAULT_WARN_DAYS, value_name = "N")]
    pub warn_days: u32,
    /// Fetch the CRL of an OpenBao/Vault PKI engine at ADDR (http[s]://host:port).
    #[arg(long, value_name = "ADDR", requires = "output")]
    pub vault: Option<String>,
    /// Install the CRL in FILE (e.g. from `openssl ca -gencrl`) at -o under the same rules.
    #[arg(long, value_name = "FILE", requires = "output", conflicts_with_all = ["vault", "check"])]
    pub from: Option<PathBuf>,
    /// The engine's mount path.
    #[arg(long, default_value = "pki", value_name = "PATH", requires = "vault")]
    pub mount: String,
    /// With --vault, --from or --check: the CA certificate the CRL must verify against
    /// (default: the engine's /v1/MOUNT/ca/pem with --vault, else the local CA).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// CA bundle to trust for an https:// --vault address (default: the system's).
    #[arg(long, value_name = "FILE", env = env_vars::VAULT_CACERT, requires = "vault")]
    pub vault_ca: Option<PathBuf>,
    /// Replace an -o file that is not a CRL of this CA.
    #[arg(long)]
    pub force: bool,
    /// Read the CA key passphrase from stdin.
    #[arg(long)]
    pub password_stdin: bool,
}
