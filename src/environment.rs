//! The slice of the process environment dctx reads, captured once in `main`
//! and passed down explicitly: the core never calls `std::env`, so tests can
//! inject HOME, DOCKER_CONFIG, DOCKER_HOST… without touching global state.

use crate::env_vars;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    /// `$DCTX_HOME`: dctx's own store, overriding the config dir.
    pub dctx_home: Option<PathBuf>,
    /// `dirs::config_dir()`, resolved by the caller (XDG_CONFIG_HOME aware).
    pub config_dir: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `DOCKER_TLS_VERIFY` (on for any non-empty value), `DOCKER_TLS`,
    /// `DOCKER_CERT_PATH`: how docker's `default` context talks TLS.
    pub docker_tls_verify: Option<String>,
    pub docker_tls: Option<String>,
    pub docker_cert_path: Option<PathBuf>,
    /// `DCTX_PROFILE` / `DCTX_SHELL`: what `dctx env` / `dctx shell` said
    /// they selected (`current` believes it only if DOCKER_* agree).
    pub dctx_profile: Option<String>,
    pub dctx_shell: Option<String>,
    /// The working directory, to make relative `DCTX_HOME`/`DOCKER_CONFIG` absolute.
    pub cwd: Option<PathBuf>,
    pub shell: Option<String>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub tmp_dir: PathBuf,
    pub no_color: bool,
    /// Unix seconds "now": injected so expiry maths is testable.
    pub now: i64,
    /// `--color`: auto unless the command line says always or never.
    pub color: anstream::ColorChoice,
    /// `TERM=dumb`: no colour in auto mode.
    pub term_dumb: bool,
    /// Stdout is a terminal.
    pub stdout_tty: bool,
    /// The columns of the terminal on stdout, when it says.
    pub tty_width: Option<usize>,
    /// `$COLUMNS`, when set to a number.
    pub columns: Option<usize>,
    /// The parent process's name (/proc/PPID/comm): the shell running
    /// `dctx env` when it differs from the login `$SHELL`.
    pub parent_comm: Option<String>,
}

/// Columns of the terminal on stdout, if it is one and reports a size.
fn stdout_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// The parent process's command name (Linux /proc; None elsewhere).
fn parent_comm() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
    Some(comm.trim_end().to_string()).filter(|c| !c.is_empty())
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|s| !s.is_empty())
}

impl Env {
    /// Read the real process environment. Only `main` (and completion callbacks) call this.
    pub fn from_process() -> Self {
        let var = |k: &str| non_empty(std::env::var_os(k));
        let string = |k: &str| var(k).and_then(|v| v.into_string().ok());
        Self {
            home: dirs::home_dir(),
            dctx_home: var(env_vars::DCTX_HOME).map(PathBuf::from),
            config_dir: dirs::config_dir(),
            docker_config: var(env_vars::DOCKER_CONFIG).map(PathBuf::from),
            docker_host: string(env_vars::DOCKER_HOST),
            docker_context: string(env_vars::DOCKER_CONTEXT),
            docker_tls_verify: string(env_vars::DOCKER_TLS_VERIFY),
            docker_tls: string(env_vars::DOCKER_TLS),
            docker_cert_path: var(env_vars::DOCKER_CERT_PATH).map(PathBuf::from),
            dctx_profile: string(env_vars::DCTX_PROFILE),
            dctx_shell: string(env_vars::DCTX_SHELL),
            cwd: std::env::current_dir().ok(),
            shell: string(env_vars::SHELL),
            xdg_runtime_dir: var(env_vars::XDG_RUNTIME_DIR).map(PathBuf::from),
            tmp_dir: std::env::temp_dir(),
            no_color: var(env_vars::NO_COLOR).is_some(),
            term_dumb: string(env_vars::TERM).as_deref() == Some("dumb"),
            stdout_tty: std::io::IsTerminal::is_terminal(&std::io::stdout()),
            tty_width: stdout_width(),
            columns: string(env_vars::COLUMNS).and_then(|c| c.trim().parse().ok()),
            parent_comm: parent_comm(),
            color: anstream::ColorChoice::Auto,
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        }
    }

    /// dctx's store root: `$DCTX_HOME`, else `<config dir>/dctx`; always
    /// absolute (it ends up in `DOCKER_CERT_PATH` and the keyring namespace).
    pub fn store_root(&self) -> Option<PathBuf> {
        self.dctx_home
            .clone()
            .or_else(|| self.config_dir.as_ref().map(|d| d.join("dctx")))
            .map(|p| self.absolute(p))
    }

    /// The Docker CLI's config dir: `$DOCKER_CONFIG`, else `~/.docker`.
    pub fn docker_config_dir(&self) -> Option<PathBuf> {
        self.docker_config
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".docker")))
            .map(|p| self.absolute(p))
    }

    fn absolute(&self, p: PathBuf) -> PathBuf {
        match &self.cwd {
            Some(cwd) if p.is_relative() => cwd.join(p),
            _ => p,
        }
    }
}
