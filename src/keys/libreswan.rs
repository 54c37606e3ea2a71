//! Libreswan/Openswan pluto debug logs (`plutodebug="base crypt private"`): the ESP keys it
//! hands the kernel, dumped as
//!
//! ```text
//! | kernel: looking for alg with encrypt: AES_CBC keylen: 256 integ: HMAC_SHA2_256_128
//! | ESP enckey:
//! |   41 9e 59 ae  4c 8f 32 e9  20 1f bb 1f  …   ascii
//! | ESP authkey:
//! |   …
//! | kernel: add_sa() level=0 outbound tunnel 10.2.0.0/24-ALL->198.51.100.20[7a0ebe79]==>192.0.2.10-ALL->…
//! ```
//!
//! (Libreswan 4.10; older builds write `ESP encrypt key:` / `ESP integrity key:` and name the
//! SA as `esp.7a0ebe79@192.0.2.10`.) The SPI comes after the keys, so keys wait for it. The
//! `| ikev2 I …` IKE lines of the same log are the tcpdump module's.

use std::net::IpAddr;

use zeroize::Zeroizing;

use super::charon;
use super::ring::{Encr, EspKeys, Format, Integ, Secret};
use super::sink::{Sink, hex_pair, quoted};

pub(crate) fn looks_like(text: &str) -> bool {
    text.contains("| ikev2 I 0x")
        || text.contains("| ikev2 R 0x")
        || text.contains("| ikev1 I 0x")
        || text.contains("ESP enckey:")
        || text.contains("ESP encrypt key:")
}

/// The message of a pluto debug line: what follows the first `| `.
fn debug_msg(line: &str) -> Option<&str> {
    let at = line.find("| ")?;
    Some(&line[at + 2..])
}

/// `  41 9e 59 ae  4c 8f 32 e9  …   ascii`: bytes in groups of 4, then 3+ spaces and the text.
fn dump_line(msg: &str, out: &mut Vec<u8>) -> bool {
    let Some(rest) = msg.strip_prefix("  ") else {
        return false;
    };
    let b = rest.as_bytes();
    let mut i = 0;
    let mut got = 0;
    while got < 16 {
        let Some(v) = hex_pair(&b[i.min(b.len())..]) else {
            break;
        };
        out.push(v);
        got += 1;
        i += 2;
        let spaces = b[i..].iter().take_while(|c| **c == b' ').count();
        if spaces == 0 || spaces >= 3 {
            break;
        }
        i += spaces;
    }
    got > 0
}

#[derive(Default)]
struct Pending {
    encr: Option<(Encr, usize)>,
    integ: Option<Integ>,
    enc: Option<Secret>,
    auth: Option<Secret>,
    line: u32,
}

enum Collect {
    None,
    Enc(Zeroizing<Vec<u8>>),
    Auth(Zeroizing<Vec<u8>>),
}

pub(crate) fn parse(sink: &mut Sink<'_>, text: &str) {
    let mut p = Pending::default();
    let mut collect = Collect::None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        let Some(msg) = debug_msg(raw) else { continue };
        let mut chunk = Zeroizing::new(Vec::new());
        if !matches!(collect, Collect::None) && dump_line(msg, &mut chunk) {
            match &mut collect {
                Collect::Enc(b) | Collect::Auth(b) => b.extend_from_slice(&chunk),
                Collect::None => {}
            }
            continue;
        }
        match std::mem::replace(&mut collect, Collect::None) {
            Collect::Enc(b) => p.enc = Some(Secret::new(b.to_vec())),
            Collect::Auth(b) => p.auth = Some(Secret::new(b.to_vec())),
            Collect::None => {}
        }
        let m = msg.trim();
        if let Some(r) = m.strip_prefix("kernel: looking for alg with encrypt: ") {
            // `AES_CBC keylen: 256 integ: HMAC_SHA2_256_128`
            p = Pending {
                line,
                ..Pending::default()
            };
            let w: Vec<&str> = r.split_whitespace().collect();
            let bits = w.get(2).and_then(|b| b.parse::<usize>().ok()).unwrap_or(0);
            match w.first().and_then(|n| charon::encr(n)) {
                Some(e) => p.encr = Some((e, bits)),
                None => sink.skip(
                    line,
                    format!("unknown algorithm {}", quoted(w.first().unwrap_or(&""))),
                ),
            }
            p.integ = w.get(4).and_then(|n| charon::integ(n));
        } else if m == "ESP enckey:" || m == "ESP encrypt key:" {
            p.line = if p.line == 0 { line } else { p.line };
            collect = Collect::Enc(Zeroizing::new(Vec::new()));
        } else if m == "ESP authkey:" || m == "ESP integrity key:" {
            collect = Collect::Auth(Zeroizing::new(Vec::new()));
        } else if p.enc.is_some()
            && let Some((spi, src, dst)) = said(m)
        {
            emit(sink, &mut p, spi, src, dst);
        }
    }
}

/// The SA named after the keys: `SRC[SPI]==>DST` (add_sa) or `esp.SPI@DST` (said).
fn said(m: &str) -> Option<(u32, Option<IpAddr>, Option<IpAddr>)> {
    for w in m.split_whitespace() {
        if let Some((left, right)) = w.split_once("]==>")
            && let Some((l, spi)) = left.rsplit_once('[')
        {
            let src = l.rsplit("->").next().and_then(|s| s.parse().ok());
            let dst = right.split("-ALL").next().and_then(|d| d.parse().ok());
            let spi = u32::from_str_radix(spi, 16).ok()?;
            return Some((spi, src, dst));
        }
        if let Some(r) = w.strip_prefix("esp.")
            && let Some((spi, dst)) = r.split_once('@')
        {
            let spi = u32::from_str_radix(spi, 16).ok()?;
            let dst = dst.trim_end_matches([':', ',']).parse().ok();
            return Some((spi, None, dst));
        }
    }
    None
}

fn emit(sink: &mut Sink<'_>, p: &mut Pending, spi: u32, src: Option<IpAddr>, dst: Option<IpAddr>) {
    let taken = std::mem::take(p);
    let Some(enc_key) = taken.enc else { return };
    let Some((encr, _bits)) = taken.encr else {
        return sink.skip(
            taken.line,
            "ESP key without its algorithm (no `looking for alg` line before it)".into(),
        );
    };
    if !encr.key_len_ok(enc_key.len()) {
        return sink.skip(
            taken.line,
            format!("{}-byte key does not fit {}", enc_key.len(), encr.name()),
        );
    }
    let integ = if encr.is_aead() {
        Integ::None
    } else {
        taken.integ.unwrap_or(Integ::None)
    };
    sink.esp(EspKeys {
        spi,
        src,
        dst,
        encr,
        enc_key,
        integ,
        auth_key: taken.auth.unwrap_or_else(|| Secret::new(Vec::new())),
        esn: None,
        seq_hi: None,
        origin: sink.origin(taken.line, Format::LibreswanDebug),
    });
    // the same algorithms serve the other direction's keys, dumped next
    p.encr = taken.encr;
    p.integ = taken.integ;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_lowercase_dump_lines() {
        let mut out = Vec::new();
        assert!(dump_line(
            "  41 9e 59 ae  4c 8f 32 e9  20 1f bb 1f  aa bb cc dd   ..W.A.Y.L.2. ...",
            &mut out
        ));
        assert_eq!(out.len(), 16);
        let mut out = Vec::new();
        assert!(dump_line("  41 9e   ab", &mut out));
        assert_eq!(out, [0x41, 0x9e]);
        assert!(!dump_line("kernel: add_sa()", &mut Vec::new()));
    }

    #[test]
    fn sa_names() {
        let (spi, src, dst) = said("kernel: add_sa() level=0 outbound tunnel 10.2.0.0/24-ALL->198.51.100.20[7a0ebe79]==>192.0.2.10-ALL->10.1.0.0/24 replay_window=128").unwrap();
        assert_eq!(spi, 0x7a0ebe79);
        assert_eq!(src, Some("198.51.100.20".parse().unwrap()));
        assert_eq!(dst, Some("192.0.2.10".parse().unwrap()));
        let (spi, _, dst) =
            said("netlink response for Add SA esp.7a0ebe79@192.0.2.10: Protocol").unwrap();
        assert_eq!(spi, 0x7a0ebe79);
        assert_eq!(dst, Some("192.0.2.10".parse().unwrap()));
    }
}
