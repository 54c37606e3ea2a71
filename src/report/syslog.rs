//! `--syslog[=SOCKET]`: every finding raised, updated and cleared as an RFC 5424 message on the
//! local syslog socket (`/dev/log` by default, a Unix datagram socket), for gateways that ship
//! syslog rather than files.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME ike-sniff PID MSGID [ike-sniff@32473 …] MSG`: facility daemon (3);
//! severity error → 3 (err), warning → 4 (warning), info → 6 (info), a clearing → 5 (notice);
//! MSGID `finding`, `update` or `cleared`; the structured data carries the id, kind, severity
//! and peers (32473 is the private enterprise number RFC 5612 reserves for documentation); MSG
//! is the finding's summary (a clearing's reason). Control characters in the text become `?`
//! and a message is cut at [`MAX_MESSAGE`] bytes. A message that cannot be sent (no syslog
//! daemon, its queue full) is counted, said once on standard error, and dropped: syslog never
//! stops the analysis.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::diagnose::{Finding, Severity};

/// The default socket.
pub const DEV_LOG: &str = "/dev/log";
/// Longest message sent (RFC 5424 §6.1: receivers must take 480 bytes, should take 2048).
pub const MAX_MESSAGE: usize = 2048;
const FACILITY_DAEMON: u8 = 3;

pub struct Syslog {
    socket: UnixDatagram,
    path: PathBuf,
    hostname: String,
    pid: u32,
    pub failed: u64,
}

impl Syslog {
    pub fn open(path: &Path) -> io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "-".into());
        Ok(Syslog {
            socket,
            path: path.to_path_buf(),
            hostname,
            pid: std::process::id(),
            failed: 0,
        })
    }

    pub fn send(&mut self, f: &Finding) {
        let msg = format_message(f, &self.hostname, self.pid, jiff::Timestamp::now());
        if let Err(e) = self.socket.send(msg.as_bytes()) {
            if self.failed == 0 {
                eprintln!(
                    "ike-sniff: --syslog {}: {e}; findings are not sent while this lasts (analysis goes on)",
                    self.path.display()
                );
            }
            self.failed += 1;
        }
    }
}

fn severity(f: &Finding) -> u8 {
    if f.clearing {
        return 5;
    }
    match f.severity {
        Severity::Error => 3,
        Severity::Warning => 4,
        Severity::Info => 6,
    }
}

/// Text with every control character replaced by `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable(s).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One RFC 5424 message for `f`.
pub fn format_message(f: &Finding, hostname: &str, pid: u32, now: jiff::Timestamp) -> String {
    let pri = FACILITY_DAEMON * 8 + severity(f);
    let msgid = if f.clearing {
        "cleared"
    } else if f.update {
        "update"
    } else {
        "finding"
    };
    let [a, b] = f.peers.strings();
    let text = if f.clearing {
        f.cleared
            .as_ref()
            .map_or_else(String::new, |c| c.reason.clone())
    } else {
        f.summary.clone()
    };
    let mut msg = format!(
        "<{pri}>1 {now:.6} {hostname} ike-sniff {pid} {msgid} [ike-sniff@32473 id=\"{:016x}\" kind=\"{}\" severity=\"{}\" peers=\"{} {}\"] {}",
        f.id,
        param(f.kind),
        f.severity.as_str(),
        param(&a),
        param(&b),
        printable(&text)
    );
    if msg.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::{Confidence, Peers};
    use crate::event::Timestamp;

    fn finding(summary: &str) -> Finding {
        let kind = crate::diagnose::catalogue()
            .iter()
            .find(|k| k.id == "dead_peer")
            .unwrap();
        let peers = Peers::with_ports(
            ("192.0.2.1".parse().unwrap(), 4500),
            ("2001:db8::2".parse().unwrap(), 4500),
        );
        let mut f = Finding::new(
            kind,
            Confidence::Inferred,
            peers,
            (Timestamp::new(1, 0), Timestamp::new(2, 0)),
            summary.into(),
        );
        f.id = 0xab54_c7e6_02ef_48f1;
        f
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let now = jiff::Timestamp::from_second(1_795_456_042).unwrap();
        let m = format_message(&finding("the peer is gone"), "gw1", 42, now);
        assert_eq!(
            m,
            "<27>1 2026-11-23T17:47:22.000000Z gw1 ike-sniff 42 finding [ike-sniff@32473 id=\"ab54c7e602ef48f1\" kind=\"dead_peer\" severity=\"error\" peers=\"192.0.2.1:4500 [2001:db8::2\\]:4500\"] the peer is gone"
        );
    }

    #[test]
    fn controls_are_neutralised_and_long_text_cut() {
        let now = jiff::Timestamp::from_second(0).unwrap();
        let m = format_message(&finding("a\nb\u{1b}[2J\u{0}é"), "h", 1, now);
        assert!(m.ends_with("] a?b?[2J?é"), "{m}");
        let long = "é".repeat(3000);
        let m = format_message(&finding(&long), "h", 1, now);
        assert!(m.len() <= MAX_MESSAGE && m.len() > MAX_MESSAGE - 2);
        assert_eq!(param("x\"]\\"), "x\\\"\\]\\\\");
    }
}
