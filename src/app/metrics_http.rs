//! `--metrics ADDR:PORT`: a minimal HTTP/1.x responder for Prometheus, on its own thread.
//!
//! It answers `GET /metrics` (and `HEAD`) with the OpenMetrics text of the last snapshot the
//! capture thread published ([`Published`]); `/` says where the metrics are; anything else is
//! 404, any other method 405. One connection at a time, `Connection: close`, request head at
//! most [`MAX_HEAD`] bytes, [`IO_TIMEOUT`] to read it and to write the answer: a slow or hostile
//! client delays other scrapes by that much at worst and never the capture, which only swaps an
//! `Arc` under a lock the server holds for a clone.
//!
//! Why not an HTTP crate: Prometheus needs one GET answered; the std listener does that in a
//! hundred lines with no async runtime and no dependency tree to audit on a gateway.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::report::metrics::Published;

/// Longest request head read (request line and headers).
pub const MAX_HEAD: usize = 8192;
/// Read and write timeout of one connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `--metrics`: where to listen and how many tunnels to name.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    pub addr: SocketAddr,
    /// `--metrics-max-tunnels`: tunnels past this are summed under `tunnel="other"`.
    pub max_tunnels: usize,
}

/// Binds the listening socket. Ports below 1024 need privileges: live mode binds those before
/// dropping privileges, others after.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `published` on `listener` from a new thread, until the process ends.
pub fn serve(
    listener: TcpListener,
    published: Published,
    clock: fn() -> crate::event::Timestamp,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        // A client that went away is its own problem, not the monitor's.
                        let _ = answer(stream, &published, clock);
                    }
                    Err(e) => {
                        eprintln!("ike-sniff: --metrics: accepting a connection: {e}");
                        // Out of descriptors and the like: do not spin.
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
}

/// What a request head asks for: (method, path without the query).
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    Some((method, target.split('?').next().unwrap_or(target)))
}

fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    Ok(head)
}

fn answer(
    mut stream: TcpStream,
    published: &Published,
    clock: fn() -> crate::event::Timestamp,
) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let (status, ctype, body, head_only) = match request_line(&head) {
        None => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".to_string(),
            false,
        ),
        Some((m, _)) if m != "GET" && m != "HEAD" => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
            false,
        ),
        Some((m, "/metrics")) => match published.encode(clock()) {
            Ok(text) => ("200 OK", CONTENT_TYPE, text, m == "HEAD"),
            Err(_) => (
                "500 Internal Server Error",
                "text/plain",
                "encoding failed\n".to_string(),
                false,
            ),
        },
        Some((m, "/")) => (
            "200 OK",
            "text/plain",
            "ike-sniff: metrics at /metrics\n".to_string(),
            m == "HEAD",
        ),
        Some(_) => (
            "404 Not Found",
            "text/plain",
            "not found\n".to_string(),
            false,
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(
            request_line(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(request_line(b"GET /metrics\r\n"), None);
        assert_eq!(request_line(b"\xff\xfe"), None);
        assert_eq!(request_line(b""), None);
    }

    fn get(addr: SocketAddr, req: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_the_published_snapshot() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let p = Published::default();
        serve(l, p.clone(), crate::event::Timestamp::default).unwrap();
        let before = get(addr, "GET /metrics HTTP/1.1\r\n\r\n");
        assert!(before.starts_with("HTTP/1.1 200 OK\r\n"), "{before}");
        assert!(before.contains("ike_sniff_metrics_ready 0.0\n"), "{before}");
        assert!(before.ends_with("# EOF\n"), "{before}");
        p.publish(crate::report::metrics::Snapshot::default());
        let after = get(addr, "GET /metrics HTTP/1.1\r\n\r\n");
        assert!(after.contains("ike_sniff_metrics_ready 1.0\n"), "{after}");
        assert!(after.contains(CONTENT_TYPE), "{after}");
        assert!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(get(addr, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        assert!(get(addr, "garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        let head = get(addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
    }
}
