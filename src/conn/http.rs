//! The healthy path's HTTP/1.1: /_ping, /version and /info written at once
//! (pipelined) on an already established stream, the answers read in order,
//! every body capped. One round trip for all three, over any byte stream
//! (TCP, TLS, a unix socket, an ssh `docker system dial-stdio` child).
//! Hand-written rather than hyper's client: hyper sends the next request only
//! after the previous answer, which is two more round trips per probe.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The most a probe reads of one answer: Docker's /_ping, /version and /info
/// are a few KiB; anything far larger is not a Docker API.
pub const BODY_CAP: usize = 256 * 1024;
/// The most a probe reads from one connection (three capped answers).
pub const CONN_CAP: u64 = 4 * BODY_CAP as u64;
const HEAD_CAP: usize = 16 * 1024;

/// The paths a probe asks, in order.
pub const PATHS: [&str; 3] = ["/_ping", "/version", "/info"];

/// The requests for `paths`, keep-alive except the last.
pub fn requests(host_header: &str, paths: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for (i, p) in paths.iter().enumerate() {
        let conn = if i + 1 == paths.len() {
            "close"
        } else {
            "keep-alive"
        };
        out.push_str(&format!(
            "GET {p} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: dctx/{}\r\nConnection: {conn}\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        ));
    }
    out.into_bytes()
}

/// Write every request in one go.
pub async fn send<S: AsyncWrite + Unpin>(s: &mut S, host_header: &str) -> io::Result<()> {
    s.write_all(&requests(host_header, &PATHS)).await?;
    s.flush().await
}

/// One answer. `status` is 0 when the peer does not speak HTTP (then `body`
/// holds what it sent).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// Framed and read to its end, within [`BODY_CAP`].
    pub complete: bool,
    /// The answer was (or announced) more than [`BODY_CAP`].
    pub too_large: bool,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// A complete HTTP 200.
    pub fn ok(&self) -> bool {
        self.status == 200 && self.complete
    }
}

/// Reads pipelined answers one after the other.
pub struct Reader<S> {
    s: S,
    buf: Vec<u8>,
    /// The stream is no longer in step with the requests.
    broken: bool,
}

impl<S: AsyncRead + Unpin> Reader<S> {
    pub fn new(s: S) -> Self {
        Reader {
            s,
            buf: Vec::new(),
            broken: false,
        }
    }

    /// Read more; Ok(false) on EOF.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let n = self.s.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn garbage(&mut self) -> Answer {
        self.broken = true;
        let mut body = std::mem::take(&mut self.buf);
        body.truncate(BODY_CAP);
        Answer {
            status: 0,
            body,
            complete: false,
            too_large: false,
        }
    }

    /// The next answer. `Err` only when the stream failed or ended before the
    /// peer sent a single byte of it.
    pub async fn next(&mut self) -> io::Result<Answer> {
        if self.broken {
            return Err(io::Error::other("the answers are out of step"));
        }
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > HEAD_CAP {
                return Ok(self.garbage());
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) if self.buf.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection without answering",
                    ));
                }
                Err(e) if self.buf.is_empty() => return Err(e),
                _ => return Ok(self.garbage()),
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let Some(Head {
            status,
            length,
            chunked,
        }) = Head::parse(&head)
        else {
            return Ok(self.garbage());
        };
        self.buf.drain(..head_end + 4);
        let mut ans = Answer {
            status,
            body: Vec::new(),
            complete: false,
            too_large: false,
        };
        if chunked {
            self.chunked(&mut ans).await;
        } else if let Some(len) = length {
            self.sized(&mut ans, len).await;
        } else {
            self.until_eof(&mut ans).await;
        }
        Ok(ans)
    }

    /// A Content-Length body (`None`: the length is unreadable).
    async fn sized(&mut self, ans: &mut Answer, len: Option<u64>) {
        let Some(len) = len else {
            self.broken = true;
            return;
        };
        if len > BODY_CAP as u64 {
            ans.too_large = true;
            self.broken = true;
            return;
        }
        let len = len as usize;
        while self.buf.len() < len {
            if !matches!(self.fill().await, Ok(true)) {
                self.broken = true;
                ans.body = std::mem::take(&mut self.buf);
                return;
            }
        }
        ans.body = self.buf.drain(..len).collect();
        ans.complete = true;
    }

    /// A body delimited by the end of the connection.
    async fn until_eof(&mut self, ans: &mut Answer) {
        self.broken = true;
        loop {
            if self.buf.len() > BODY_CAP {
                ans.too_large = true;
                self.buf.truncate(BODY_CAP);
                break;
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    ans.complete = true;
                    break;
                }
                Err(_) => break,
            }
        }
        ans.body = std::mem::take(&mut self.buf);
    }

    async fn chunked(&mut self, ans: &mut Answer) {
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if self.buf.len() > 1024 || !matches!(self.fill().await, Ok(true)) {
                    self.broken = true;
                    return;
                }
            };
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = line.split(';').next().unwrap_or("").trim();
            let Ok(size) = usize::from_str_radix(size, 16) else {
                self.broken = true;
                return;
            };
            if ans.body.len().saturating_add(size) > BODY_CAP {
                ans.too_large = true;
                self.broken = true;
                return;
            }
            self.buf.drain(..line_end + 2);
            // The chunk and its CRLF (a zero chunk: the empty trailer line).
            while self.buf.len() < size + 2 {
                if !matches!(self.fill().await, Ok(true)) {
                    self.broken = true;
                    return;
                }
            }
            ans.body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                ans.complete = true;
                return;
            }
        }
    }
}

/// What an answer's head says about its body.
struct Head {
    status: u16,
    /// Content-Length: `Some(None)` when present but unreadable.
    length: Option<Option<u64>>,
    chunked: bool,
}

impl Head {
    /// `None` when it is not an HTTP/1.x status line.
    fn parse(head: &str) -> Option<Head> {
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1."))
            .and_then(|r| r.get(2..5))
            .and_then(|c| c.parse::<u16>().ok())?;
        let mut h = Head {
            status,
            length: None,
            chunked: false,
        };
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                h.length = Some(v.parse::<u64>().ok());
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                h.chunked = true;
            }
        }
        Some(h)
    }
}

/// The marker error of a [`Capped`] stream that hit its limit.
#[derive(Debug)]
pub struct TooLarge(pub u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the peer sent more than {} KiB", self.0 / 1024)
    }
}

impl std::error::Error for TooLarge {}

/// A stream that fails reads once `cap` bytes have come in, so no client on
/// top of it (hyper, bollard) can be made to buffer an endless answer.
pub struct Capped<S> {
    inner: S,
    left: u64,
    cap: u64,
}

impl<S> Capped<S> {
    pub fn new(inner: S, cap: u64) -> Self {
        Capped {
            inner,
            left: cap,
            cap,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            let cap = self.cap;
            return Poll::Ready(Err(io::Error::other(TooLarge(cap))));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let n = (buf.filled().len() - before) as u64;
            self.left = self.left.saturating_sub(n);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Did an error chain end in a [`Capped`] limit?
pub fn is_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    super::find_in_chain::<TooLarge>(e).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(wire: &[u8]) -> Vec<Answer> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut r = Reader::new(wire);
            let mut out = Vec::new();
            while let Ok(a) = r.next().await {
                out.push(a);
            }
            out
        })
    }

    #[test]
    fn pipelined_answers_in_order() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\":\r\n1\r\n1\r\n1\r\n}\r\n0\r\n\r\n\
HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!";
        let a = read_all(wire);
        assert_eq!(a.len(), 3);
        assert!(a[0].ok() && a[0].text() == "OK");
        assert!(a[1].ok() && a[1].text() == "{\"a\":1}", "{:?}", a[1]);
        assert_eq!((a[2].status, a[2].text().as_str()), (404, "no!"));
    }

    #[test]
    fn huge_bodies_are_refused_unread() {
        let a = read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\nxx");
        assert!(a[0].too_large && !a[0].complete);
        let big = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            BODY_CAP + 1
        );
        assert!(read_all(big.as_bytes())[0].too_large);
        let mut eof = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        eof.resize(BODY_CAP * 2, b'x');
        let a = read_all(&eof);
        assert!(a[0].too_large && a[0].body.len() == BODY_CAP);
    }

    #[test]
    fn non_http_is_status_zero_and_empty_is_an_error() {
        let a = read_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].status, 0);
        assert!(read_all(b"").is_empty());
    }

    #[test]
    fn requests_keep_alive_until_the_last() {
        let r = String::from_utf8(requests("h:1", &PATHS)).unwrap();
        assert_eq!(r.matches("Connection: keep-alive").count(), 2);
        assert!(r.ends_with("Connection: close\r\n\r\n"));
        assert!(r.starts_with("GET /_ping HTTP/1.1\r\nHost: h:1\r\n"));
    }
}
