//! Text that came off the wire, made safe to show. IDs, FQDNs and other strings a peer (or an
//! attacker on UDP 500) chooses reach terminals, logs and reports: a control character there
//! could move the cursor, recolour or rewrite what the operator reads (CSI sequences, C1
//! controls, bidirectional overrides). Every such byte is shown escaped, so the text is what
//! was sent, visibly. Also the one hand-laid address text the stages after it share.

use std::fmt::Write as _;

/// `a` in dotted decimal, as `Ipv4Addr`'s `Display` writes it, without the formatting
/// machinery (an octet at a time through `fmt` was a tenth of a `--json` run on IKE-heavy
/// traffic, where addresses are on every line).
pub fn ipv4_text(a: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            buf[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            buf[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + octet % 10;
        n += 1;
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// `bytes` as text: printable UTF-8 as it is; control characters (C0, DEL, C1), bidirectional
/// formatting characters and invalid UTF-8 escaped as `\xNN` / `\u{NNNN}`; a backslash doubled
/// so an escape cannot be forged.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() || is_bidi_format(c) => {
                    if (c as u32) < 0x80 {
                        let _ = write!(out, "\\x{:02x}", c as u32);
                    } else {
                        let _ = write!(out, "\\u{{{:04x}}}", c as u32);
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Unicode's bidirectional embedding, override and isolate characters (UAX #9), which
/// reorder what a terminal shows ("Trojan Source", CVE-2021-42574).
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn plain_names_pass_and_everything_else_is_escaped() {
        assert_eq!(printable(b"vpn.example.com"), "vpn.example.com");
        assert_eq!(printable("sträße".as_bytes()), "sträße");
        assert_eq!(printable(b"gw\x1b[2J\x07"), "gw\\x1b[2J\\x07");
        assert_eq!(printable(b"a\\x1b"), "a\\\\x1b");
        assert_eq!(printable(b"\xff\xfe"), "\\xff\\xfe");
        assert_eq!(printable("\u{9b}31m".as_bytes()), "\\u{009b}31m");
        assert_eq!(printable("abc\u{202e}cba".as_bytes()), "abc\\u{202e}cba");
        assert_eq!(printable(b"line\nbreak\x7f"), "line\\x0abreak\\x7f");
    }
}
