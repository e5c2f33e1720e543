//! Raw command-line arguments. Doc comments here are the `--help` text;
//! `cmd/` turns these into validated options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

mod complete;
pub mod pki;

use complete::{
    any_names, finding_codes, foreign_names, profile_names, removable_names, use_names,
};

const AFTER_HELP: &str = "\
Exit status: 0 ok, 1 error, 2 usage, 3 check/doctor found a failing daemon.
Environment: DCTX_HOME (dctx's store), DOCKER_CONFIG (Docker CLI config dir), NO_COLOR, COLUMNS,
DOCKER_HOST / DOCKER_CONTEXT (which context docker uses, exactly as docker decides).";

/// Docker TLS contexts without the openssl folklore.
///
/// Import any certificate bundle, write real Docker CLI contexts and shell
/// env profiles, and find out exactly why a TLS daemon refuses you.
#[derive(Debug, Parser)]
#[command(name = "dctx", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour: auto (a terminal, no NO_COLOR, TERM not dumb), always, never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl ColorArg {
    /// As anstream's choice (`Env::color`; `output::styled` resolves auto).
    pub fn choice(self) -> anstream::ColorChoice {
        match self {
            ColorArg::Auto => anstream::ColorChoice::Auto,
            ColorArg::Always => anstream::ColorChoice::Always,
            ColorArg::Never => anstream::ColorChoice::Never,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import TLS material and create a profile (and a Docker context).
    Add(AddArgs),
    /// Print shell code that points the docker CLI at a profile.
    Env(EnvArgs),
    /// Switch the Docker CLI's current context (`-` = previous, `default` = none).
    Use(UseArgs),
    /// Print the name docker would use now (DOCKER_HOST > DOCKER_CONTEXT > currentContext).
    Current(CurrentArgs),
    /// List profiles and Docker contexts.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show a profile's endpoint and certificate details.
    Show(ShowArgs),
    /// Remove a profile and the Docker context dctx created for it.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Rename a profile or context (both stores, the current context, the keyring entry).
    Mv(MvArgs),
    /// Take a Docker context under management without rewriting it.
    Adopt(AdoptArgs),
    /// Change a profile's or context's endpoint, in both stores.
    #[command(visible_alias = "edit")]
    SetHost(SetHostArgs),
    /// Probe every daemon (or the named ones) in parallel and print a health table.
    Check(CheckArgs),
    /// Walk one daemon's connection layer by layer and explain each failure.
    Doctor(DoctorArgs),
    /// Issue CA, server and client certificates and render the daemon side.
    Pki(pki::PkiArgs),
    /// Run a command with a profile's TLS material in a private temp dir.
    Exec(ExecArgs),
    /// Start your shell with a profile or context selected for it alone.
    Shell(ShellArgs),
    /// Manage where a profile's private key lives.
    Key(KeyArgs),
    /// Finish an interrupted change now (any command does), or undo it with --abort.
    Recover(RecoverArgs),
    /// Print the shell completion script.
    #[command(after_help = COMPLETIONS_WHERE)]
    Completions(CompletionsArgs),
    /// Serve Prometheus metrics (probing on scrape) or write a textfile-collector file.
    Metrics(MetricsArgs),
    /// Serve a local unix socket that forwards every Docker API call to a profile's daemon over mTLS.
    Proxy(ProxyArgs),
    /// Make a key where it will live and print a CSR for whoever runs the CA.
    Csr(CsrArgs),
    /// Get a client certificate from OpenBao / Vault PKI and make a profile of it.
    Enroll(EnrollArgs),
    /// Renew enrolled profiles past 2/3 of their lifetime, with a new key each time.
    Renew(RenewProfilesArgs),
    /// Explain a finding code: what it means, how dctx detects it, the fix, an example.
    Explain(ExplainArgs),
    /// Install dctx as a Docker CLI plugin, so `docker ctx …` runs `dctx …`.
    Plugin(PluginArgs),
    /// Write the man pages (dctx.1, dctx-check.1, …) into a directory.
    #[command(hide = true)]
    HelpMan(HelpManArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["bundle", "ca", "cert", "key"]).multiple(true)))]
pub struct AddArgs {
    /// Profile (and Docker context) name: [a-zA-Z0-9][a-zA-Z0-9_.+-]+, not `default`.
    pub name: String,
    /// Bundle: .tar, .tar.gz/.tgz, .zip, directory, .p12/.pfx, `docker context export` tar, docker-machine dir; `-` reads it from stdin.
    #[arg(short, long, value_name = "PATH", conflicts_with_all = ["ca", "cert", "key"])]
    pub bundle: Option<PathBuf>,
    /// CA certificate file (instead of --bundle).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate file (instead of --bundle).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key file (instead of --bundle).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Daemon endpoint: tcp://host:2376, unix:///var/run/docker.sock, ssh://user@host. Defaults to the
    /// bundle's own, or with --replace the existing one.
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: Option<String>,
    /// Env profile only: do not write a Docker context.
    #[arg(long)]
    pub no_context: bool,
    /// Accept a bundle without CA: verify the daemon with the system roots.
    #[arg(long)]
    pub system_roots: bool,
    /// Do not verify the daemon's certificate (docker's SkipTLSVerify). Insecure.
    #[arg(long)]
    pub skip_verify: bool,
    /// Import an expired or wrong-usage client certificate anyway, with a warning.
    #[arg(long)]
    pub force: bool,
    /// Replace an existing profile of the same name.
    #[arg(long)]
    pub replace: bool,
    /// Read the key / .p12 passphrase from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Also make it Docker's current context.
    #[arg(long = "use")]
    pub use_it: bool,
    /// Where to keep the client private key: a 0600 file, or the OS keyring
    /// (then no Docker context is written; use `dctx exec`).
    #[arg(long, value_enum, default_value = "file")]
    pub key_store: KeyStoreArg,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Probe the daemon right after the import, as `dctx check NAME` does
    /// (exit 3 when it fails; the import stays).
    #[arg(long, conflicts_with = "json")]
    pub check: bool,
}

/// `--key-store` / `--to`: the CLI mirror of `store::KeyStore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyStoreArg {
    File,
    Keyring,
}

impl From<KeyStoreArg> for crate::store::KeyStore {
    fn from(k: KeyStoreArg) -> Self {
        match k {
            KeyStoreArg::File => Self::File,
            KeyStoreArg::Keyring => Self::Keyring,
        }
    }
}

#[derive(Debug, Args)]
pub struct CsrArgs {
    /// The profile it will become (`dctx add NAME --cert signed.pem --host URL`).
    pub name: String,
    /// Common name to request (default: NAME).
    #[arg(long, value_name = "CN")]
    pub cn: Option<String>,
    /// Where the pending key lives (default: the OS keyring when one answers, else a 0600 file).
    #[arg(long, value_enum)]
    pub key_store: Option<KeyStoreArg>,
    /// Also write the CSR to FILE.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Drop the pending CSR and its key.
    #[arg(long, conflicts_with_all = ["cn", "key_store", "output"])]
    pub drop: bool,
}

/// Where the OpenBao / Vault server is and how to trust it.
#[derive(Debug, Args)]
pub struct VaultConnArgs {
    /// Read the token from the first line of stdin (else BAO_TOKEN / VAULT_TOKEN, else ~/.vault-token).
    #[arg(long)]
    pub token_stdin: bool,
    /// CA file the server's own TLS certificate must chain to (else BAO_CACERT / VAULT_CACERT, else the system roots).
    #[arg(long, value_name = "FILE")]
    pub vault_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// Profile (and Docker context) name.
    pub name: String,
    /// Daemon endpoint: tcp://HOST:2376.
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: String,
    /// Server address (else BAO_ADDR / VAULT_ADDR).
    #[arg(long, value_name = "ADDR")]
    pub vault: Option<String>,
    /// PKI role that signs client certificates.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// Mount path of the PKI engine.
    #[arg(long, default_value = "pki", value_name = "PATH")]
    pub mount: String,
    /// Common name to request (default: NAME).
    #[arg(long, value_name = "CN")]
    pub cn: Option<String>,
    /// Requested lifetime (`30m`, `24h`…; default: the role's).
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// CA that verifies the daemon (default: the chain the engine returns).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// `cert` auth role for renewals without a token (`--cert-role` of renew).
    #[arg(long, value_name = "NAME")]
    pub cert_role: Option<String>,
    /// Where to keep the key (default: file, so docker can use the context).
    #[arg(long, value_enum, default_value = "file")]
    pub key_store: KeyStoreArg,
    /// Replace an existing profile of the same name.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub conn: VaultConnArgs,
}

#[derive(Debug, Args)]
pub struct RenewProfilesArgs {
    /// Profiles to renew (default with --all: every enrolled one).
    #[arg(add = ArgValueCandidates::new(profile_names))]
    pub names: Vec<String>,
    /// Every enrolled profile.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Renew even when not due.
    #[arg(long)]
    pub force: bool,
    /// Renew past this fraction of the certificate's lifetime.
    #[arg(long, default_value = "0.6667", value_name = "FRACTION", value_parser = parse_fraction)]
    pub before: f64,
    /// `cert` auth role to log in with when no token is at hand.
    #[arg(long, value_name = "NAME")]
    pub cert_role: Option<String>,
    /// Keep running: renew each profile at its due time (with jitter), one line per renewal.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub conn: VaultConnArgs,
}

/// `--before`: a fraction of the lifetime, more than 0 and less than 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err("expected a fraction between 0 and 1 (e.g. 0.66)".into()),
    }
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub name: String,
    /// The command and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub name: String,
    /// The shell to start (default: $SHELL): bash, zsh and fish get a prompt marker.
    #[arg(long, value_name = "PROGRAM")]
    pub shell: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub name: String,
    /// Socket path (default: $XDG_RUNTIME_DIR/dctx/NAME.sock, else a private dir in the temp dir).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Let only read routes through (no exec, attach or any other upgrade).
    #[arg(long)]
    pub read_only: bool,
    /// Refuse destructive calls (every DELETE, prune, kill/stop/restart, swarm
    /// leave) and tunnels (BuildKit's /grpc and /session).
    #[arg(long)]
    pub protect: bool,
    /// Append one JSON line per request (no headers, bodies or query strings).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Client connections served at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_clients: usize,
    /// Seconds a client has to send a request's headers (also the idle
    /// keep-alive limit).
    #[arg(long, value_name = "SECS", default_value_t = 10, hide = true)]
    pub header_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Undo the interrupted change instead of finishing it (when finishing fails).
    #[arg(long)]
    pub abort: bool,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Move a profile's private key between a file and the OS keyring.
    Move {
        /// Profile name.
        #[arg(add = ArgValueCandidates::new(profile_names))]
        name: String,
        /// Destination.
        #[arg(long, value_enum)]
        to: KeyStoreArg,
    },
}

/// `--shell`: the CLI mirror of `shell::ShellKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Sh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    Cmd,
    Nu,
    /// tcsh and csh (setenv / unsetenv).
    #[value(alias = "csh")]
    Tcsh,
}

impl From<ShellArg> for crate::shell::ShellKind {
    fn from(s: ShellArg) -> Self {
        use crate::shell::ShellKind as K;
        match s {
            ShellArg::Bash => K::Bash,
            ShellArg::Zsh => K::Zsh,
            ShellArg::Sh => K::Sh,
            ShellArg::Fish => K::Fish,
            ShellArg::Powershell => K::Powershell,
            ShellArg::Cmd => K::Cmd,
            ShellArg::Nu => K::Nu,
            ShellArg::Tcsh => K::Tcsh,
        }
    }
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Profile or context name (`default`: docker's built-in context).
    #[arg(required_unless_present = "unset", add = ArgValueCandidates::new(any_names))]
    pub name: Option<String>,
    /// Shell syntax to print (default: the shell running dctx, else $SHELL, else sh).
    #[arg(long, value_enum)]
    pub shell: Option<ShellArg>,
    /// Print code that undoes a previous `dctx env`.
    #[arg(long, short)]
    pub unset: bool,
}

#[derive(Debug, Args)]
pub struct UseArgs {
    /// Context name, `-` for the previous one, `default` for docker's own.
    /// Without it: a picker on a terminal, else the names, one a line.
    #[arg(add = ArgValueCandidates::new(use_names))]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Print JSON: the name and which variable or file decided it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Print names only, one a line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show every column, whatever the terminal width.
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Args)]
pub struct MvArgs {
    /// Current name.
    #[arg(add = ArgValueCandidates::new(removable_names))]
    pub old: String,
    /// New name.
    pub new: String,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// A Docker context dctx does not manage yet (or a drifted profile: accept docker's version).
    #[arg(add = ArgValueCandidates::new(foreign_names))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SetHostArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(removable_names))]
    pub name: String,
    /// New endpoint: tcp://HOST:PORT, unix:///PATH or ssh://[USER@]HOST[:PORT].
    pub url: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Profile or context name(s): all of them are removed, or none.
    #[arg(required = true, add = ArgValueCandidates::new(removable_names))]
    pub names: Vec<String>,
    /// Keep the Docker context, remove only dctx's profile.
    #[arg(long)]
    pub keep_context: bool,
    /// Also remove Docker contexts dctx did not create.
    #[arg(long, short)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Profiles / contexts to probe (default: all, `default` included).
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub names: Vec<String>,
    /// Leave NAME out of "all" (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "names")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Print JSON (an array) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show every column, whatever the terminal width.
    #[arg(long)]
    pub wide: bool,
    /// Output format (`--json` = `--format json`).
    #[arg(long, value_enum, default_value = "table", conflicts_with = "json")]
    pub format: CheckFormat,
}

/// How `check` and `metrics` probe: one definition, so both validate alike.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Hard deadline per probe, seconds (connect + handshake + response).
    #[arg(long, default_value = "5", value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Probes in flight at once (1 to 4096).
    #[arg(long, default_value = "64", value_name = "N", value_parser = parse_concurrency)]
    pub concurrency: std::num::NonZeroUsize,
    /// Warn when a client, server or CA certificate expires within N days.
    #[arg(long, default_value_t = crate::text::expiry::DEFAULT_WARN_DAYS, value_name = "N")]
    pub warn_days: u32,
}

impl ProbeArgs {
    pub fn options(&self, now: i64) -> crate::probe::Options {
        crate::probe::Options {
            timeout: self.timeout,
            concurrency: self.concurrency.get(),
            now,
            warn_days: i64::from(self.warn_days),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    /// The Prometheus text exposition format.
    Prometheus,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("sink").args(["listen", "textfile"]).required(true)))]
pub struct MetricsArgs {
    /// Profiles / contexts to probe (default: all).
    #[arg(add = ArgValueCandidates::new(profile_names))]
    pub names: Vec<String>,
    /// Leave NAME out of "all" (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "names")]
    pub exclude: Vec<String>,
    /// Serve GET /metrics on this address (e.g. 127.0.0.1:9323), probing on scrape.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Probe once and write the metrics to PATH atomically (node_exporter textfile collector).
    #[arg(long, value_name = "PATH")]
    pub textfile: Option<PathBuf>,
    /// Probe at most this often; scrapes in between get the last result (seconds).
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_interval)]
    pub min_interval: std::time::Duration,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Also export this CRL file's next update (repeatable; e.g. a front's ssl_crl).
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
}

/// `--min-interval`: seconds, 0 (probe on every scrape) up to a day.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=86400.0).contains(&secs) => {
            Ok(std::time::Duration::from_secs_f64(secs))
        }
        _ => Err("expected seconds, from 0 to 86400".into()),
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Profile or context name.
    #[arg(add = ArgValueCandidates::new(any_names))]
    pub name: String,
    /// Hard deadline, seconds.
    #[arg(long, default_value = "5", value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Print JSON (one object).
    #[arg(long)]
    pub json: bool,
    /// Also check the client certificate against this CRL (besides its CRL
    /// distribution points and dctx's own CA's latest CRL).
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
}

/// `--concurrency`: 1..=4096 (tokio's semaphore panics on huge counts, and
/// more probes in flight than open files makes no sense).
fn parse_concurrency(s: &str) -> Result<std::num::NonZeroUsize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=4096).contains(n))
        .and_then(std::num::NonZeroUsize::new)
        .ok_or_else(|| format!("{s:?} is not a whole number in the range 1..=4096"))
}

/// `--timeout`: seconds, more than 0 and at most an hour (fractions allowed).
fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 3600.0 => {
            Ok(std::time::Duration::from_secs_f64(secs))
        }
        _ => Err("expected seconds, more than 0 and at most 3600".into()),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

const COMPLETIONS_WHERE: &str = "\
Where it goes (profile names then complete from your store):
  bash        dctx completions bash > ~/.local/share/bash-completion/completions/dctx
  zsh         echo 'source <(dctx completions zsh)' >> ~/.zshrc   (after compinit)
  fish        dctx completions fish > ~/.config/fish/completions/dctx.fish
  powershell  dctx completions powershell >> $PROFILE
  elvish      dctx completions elvish >> ~/.config/elvish/rc.elv
The Debian package installs the bash, zsh and fish ones for every user.";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A finding code (`dctx check` prints them in FINDING); without it, every code.
    #[arg(add = ArgValueCandidates::new(finding_codes))]
    pub code: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PluginArgs {
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Link this dctx as `docker-ctx` where the docker CLI finds plugins.
    Install {
        #[command(flatten)]
        scope: PluginScopeArgs,
        /// Replace a `docker-ctx` that is not a link to this dctx.
        #[arg(long)]
        force: bool,
    },
    /// Remove the link `plugin install` made (nothing else).
    Uninstall {
        #[command(flatten)]
        scope: PluginScopeArgs,
    },
}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct PluginScopeArgs {
    /// For you: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins (the default).
    #[arg(long)]
    pub user: bool,
    /// For every user: /usr/libexec/docker/cli-plugins (needs root).
    #[arg(long)]
    pub system: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginScope {
    User,
    System,
}

impl PluginScopeArgs {
    pub fn scope(&self) -> PluginScope {
        if self.system {
            PluginScope::System
        } else {
            PluginScope::User
        }
    }
}

#[derive(Debug, Args)]
pub struct HelpManArgs {
    /// Directory to write the pages into (created if missing).
    pub dir: PathBuf,
}

/// The clap command, for completion generation and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
