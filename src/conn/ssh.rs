//! ssh:// endpoints, reached the way the docker CLI reaches them: the
//! system `ssh` client (so ~/.ssh/config, the agent and known_hosts apply)
//! runs `docker system dial-stdio` on the remote host, and the Docker API is
//! spoken over the child's stdin/stdout. The child is killed and reaped when
//! its owner is dropped, also when a deadline cancels it.

use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::Endpoint;

/// Where ssh connects, as the endpoint gives it (absent parts: ssh decides).
#[derive(Debug, Clone)]
pub struct Dest {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Dest {
    /// `[user@]host` as typed on an ssh command line.
    pub fn login(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// `[-p PORT ]` for commands in fixes.
    pub fn port_flag(&self, p: &str) -> String {
        match self.port {
            Some(port) if port != 22 => format!("{p} {port} "),
            _ => String::new(),
        }
    }

    /// The known_hosts name: `host`, or `[host]:port` off port 22.
    pub fn known_name(&self) -> String {
        match self.port {
            Some(p) if p != 22 => format!("[{}]:{p}", self.host),
            _ => self.host.clone(),
        }
    }
}

/// The docker CLI's ssh command line (`-o ConnectTimeout=… -T … -- host
/// docker system dial-stdio`) plus BatchMode (never prompt: a probe has no
/// one to ask) and -v (progress on stderr).
pub fn command(d: &Dest, timeout: Duration) -> Command {
    let secs = timeout.as_secs_f64().ceil().max(1.0) as u64;
    let mut c = Command::new("ssh");
    c.arg("-o")
        .arg(format!("ConnectTimeout={secs}"))
        .args(["-o", "BatchMode=yes", "-T", "-v"]);
    if let Some(u) = &d.user {
        c.arg("-l").arg(u);
    }
    if let Some(p) = d.port {
        c.arg("-p").arg(p.to_string());
    }
    c.arg("--")
        .arg(&d.host)
        .args(["docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// The child's stdout and stdin as one byte stream: what dial-stdio relays
/// to and from the remote daemon socket.
pub struct ChildStream {
    out: ChildStdout,
    inp: ChildStdin,
}

impl AsyncRead for ChildStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inp).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inp).poll_shutdown(cx)
    }
}

/// Owns the ssh child. Dropping it (probe over, or cancelled by the
/// deadline) kills and reaps it: no ssh is ever left running.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        let _ = self.0.start_kill();
        // SIGKILL takes effect at once; reap now instead of leaving a zombie.
        for _ in 0..1000 {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Dest {
    /// The destination of an ssh:// endpoint.
    pub fn of(e: &Endpoint) -> Option<Dest> {
        match e {
            Endpoint::Ssh { user, host, port } => Some(Dest {
                user: user.clone(),
                host: host.clone(),
                port: *port,
            }),
            _ => None,
        }
    }
}

/// A running `ssh … docker system dial-stdio`: the byte stream to the remote
/// daemon, ssh's stderr (its `-v` log), and the child itself.
pub struct Session {
    pub stream: ChildStream,
    pub stderr: ChildStderr,
    pub child: Reaped,
}

/// Start ssh for `d` (`Err`: no ssh client, or it could not start).
pub fn spawn(d: &Dest, timeout: Duration) -> std::io::Result<Session> {
    let mut child = Reaped(command(d, timeout).spawn()?);
    let (Some(out), Some(inp), Some(stderr)) = (
        child.0.stdout.take(),
        child.0.stdin.take(),
        child.0.stderr.take(),
    ) else {
        return Err(std::io::Error::other("ssh started without its pipes"));
    };
    Ok(Session {
        stream: ChildStream { out, inp },
        stderr,
        child,
    })
}
