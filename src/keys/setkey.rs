//! `setkey -D` (ipsec-tools/racoon, the BSDs, PF_KEY on old Linux): one block per SA,
//!
//! ```text
//! 192.0.2.10 198.51.100.20
//!     esp mode=tunnel spi=1693548902(0x64f18166) reqid=1(0x00000001)
//!     E: aes-cbc  dcc9d5af 0d0ca9ab …
//!     A: hmac-sha1  92fcd565 …
//! ```
//!
//! Keys are 8-digit hex groups, wrapped onto further lines for long keys (`ipsec_hexdump` in
//! pfkey_dump.c). PF_KEY has no AEAD: no GCM here.

use std::net::IpAddr;

use super::ring::{Encr, EspKeys, Format, Integ, Secret};
use super::sink::{Sink, hex_spaced, quoted};

pub(crate) fn looks_like(text: &str) -> bool {
    text.contains("esp mode=")
        && text.contains(" spi=")
        && (text.contains("\tE: ") || text.contains("\tA: "))
}

#[derive(Default)]
struct Block {
    line: u32,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    esp: bool,
    spi: Option<u32>,
    e: Option<(String, zeroize::Zeroizing<String>)>,
    a: Option<(String, zeroize::Zeroizing<String>)>,
}

pub(crate) fn parse(sink: &mut Sink<'_>, text: &str) {
    let mut b: Option<Block> = None;
    // which key a wrapped hex line continues
    let mut cont: Option<char> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        if !raw.starts_with([' ', '\t']) && !raw.trim().is_empty() {
            let w: Vec<&str> = raw.split_whitespace().collect();
            if w.len() == 2
                && let (Ok(s), Ok(d)) = (w[0].parse::<IpAddr>(), w[1].parse::<IpAddr>())
            {
                if let Some(done) = b.take() {
                    emit(sink, done);
                }
                b = Some(Block {
                    line,
                    src: Some(s),
                    dst: Some(d),
                    ..Block::default()
                });
            }
            cont = None;
            continue;
        }
        let Some(blk) = b.as_mut() else { continue };
        let t = raw.trim();
        if let Some(r) = t.strip_prefix("E: ").or_else(|| t.strip_prefix("A: ")) {
            let which = t.as_bytes()[0] as char;
            let (name, key) = r.trim().split_once(' ').unwrap_or((r.trim(), ""));
            let entry = Some((
                name.to_string(),
                zeroize::Zeroizing::new(key.trim().to_string()),
            ));
            if which == 'E' {
                blk.e = entry;
            } else {
                blk.a = entry;
            }
            cont = Some(which);
        } else if let Some(which) = cont
            && !t.is_empty()
            && t.split_whitespace()
                .all(|g| g.len() == 8 && g.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            let slot = if which == 'E' { &mut blk.e } else { &mut blk.a };
            if let Some((_, key)) = slot {
                key.push(' ');
                key.push_str(t);
            }
        } else {
            cont = None;
            let w: Vec<&str> = t.split_whitespace().collect();
            if w.first()
                .is_some_and(|p| matches!(*p, "esp" | "ah" | "ipcomp" | "esp-udp"))
            {
                blk.esp = w[0].starts_with("esp");
                blk.spi = w.iter().find_map(|f| {
                    let v = f.strip_prefix("spi=")?;
                    let hex = v.split_once("(0x").map(|(_, h)| h.trim_end_matches(')'));
                    match hex {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => v.parse().ok(),
                    }
                });
            }
        }
    }
    if let Some(done) = b.take() {
        emit(sink, done);
    }
}

fn encr(name: &str) -> Option<Option<Encr>> {
    Some(match name {
        "des-cbc" => Some(Encr::Des),
        "3des-cbc" => Some(Encr::TripleDes),
        "aes-cbc" | "rijndael-cbc" => Some(Encr::AesCbc),
        "aes-ctr" => Some(Encr::AesCtr),
        "null" => Some(Encr::Null),
        "blowfish-cbc" | "cast128-cbc" | "twofish-cbc" | "camellia-cbc" => None,
        _ => return None,
    })
}

fn integ(name: &str) -> Option<Integ> {
    Some(match name {
        "hmac-md5" => Integ::HmacMd5_96,
        "hmac-sha1" => Integ::HmacSha1_96,
        "hmac-sha256" | "hmac-sha2-256" => Integ::HmacSha256_128,
        "hmac-sha384" | "hmac-sha2-384" => Integ::HmacSha384_192,
        "hmac-sha512" | "hmac-sha2-512" => Integ::HmacSha512_256,
        "aes-xcbc-mac" => Integ::AesXcbc96,
        "null" => Integ::None,
        _ => return None,
    })
}

fn emit(sink: &mut Sink<'_>, b: Block) {
    if !b.esp {
        return;
    }
    let Some(spi) = b.spi else {
        return sink.skip(b.line, "no spi= in this SA".into());
    };
    let (encr, enc_key) = match &b.e {
        Some((name, key)) => match encr(name) {
            Some(Some(e)) => match hex_spaced(key) {
                Ok(k) => (e, k),
                Err(err) => return sink.skip(b.line, format!("E: key is {err}")),
            },
            Some(None) => {
                return sink.skip(
                    b.line,
                    format!("encryption {} is not supported", quoted(name)),
                );
            }
            None => return sink.skip(b.line, format!("unknown algorithm {}", quoted(name))),
        },
        // an SA without E: is authentication only: NULL encryption
        None => (Encr::Null, Secret::new(Vec::new())),
    };
    let (integ, auth_key) = match &b.a {
        Some((name, key)) => match integ(name) {
            Some(i) => match hex_spaced(key) {
                Ok(k) => (i, k),
                Err(err) => return sink.skip(b.line, format!("A: key is {err}")),
            },
            None => return sink.skip(b.line, format!("unknown algorithm {}", quoted(name))),
        },
        None => (Integ::None, Secret::new(Vec::new())),
    };
    if !encr.key_len_ok(enc_key.len()) {
        return sink.skip(
            b.line,
            format!("{}-byte key does not fit {}", enc_key.len(), encr.name()),
        );
    }
    sink.esp(EspKeys {
        spi,
        src: b.src,
        dst: b.dst,
        encr,
        enc_key,
        integ,
        auth_key,
        esn: None,
        seq_hi: None,
        origin: sink.origin(b.line, Format::Setkey),
    });
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::*;

    // Layout of pfkey_dump.c's output; key bytes synthetic.
    const DUMP: &str = "192.0.2.10 198.51.100.20 
\tesp mode=tunnel spi=1693548902(0x64f18166) reqid=1(0x00000001)
\tE: aes-cbc  00010203 04050607 08090a0b 0c0d0e0f 00010203 04050607 08090a0b 0c0d0e0f
\tA: hmac-sha1  00010203 04050607 08090a0b 0c0d0e0f 10111213
\tseq=0x00000000 replay=4 flags=0x00000000 state=mature 
\tcreated: Nov 30 11:00:00 2026\tcurrent: Nov 30 11:05:00 2026
\tsadb_seq=1 pid=1234 refcnt=0
198.51.100.20 192.0.2.10 
\tesp mode=transport spi=4321(0x000010e1) reqid=0(0x00000000)
\tE: 3des-cbc  00010203 04050607 08090a0b 0c0d0e0f 00010203 04050607
\tA: hmac-sha512  00010203 04050607 08090a0b 0c0d0e0f 00010203 04050607 08090a0b 0c0d0e0f
\t  00010203 04050607 08090a0b 0c0d0e0f 00010203 04050607 08090a0b 0c0d0e0f
\tseq=0x00000000 replay=4 flags=0x00000000 state=mature 
";

    #[test]
    fn setkey_blocks_with_wrapped_keys() {
        let dir = std::env::temp_dir().join(format!("ike-sniff-setkey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sad.txt");
        std::fs::write(&p, DUMP).unwrap();
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.esp[&0x64f18166][0];
        assert_eq!((k.encr, k.integ), (Encr::AesCbc, Integ::HmacSha1_96));
        assert_eq!((k.enc_key.len(), k.auth_key.len()), (32, 20));
        let k = &l.ring.esp[&0x10e1][0];
        assert_eq!((k.encr, k.integ), (Encr::TripleDes, Integ::HmacSha512_256));
        assert_eq!(k.auth_key.len(), 64);
        assert_eq!(k.dst, Some("192.0.2.10".parse().unwrap()));
    }
}
