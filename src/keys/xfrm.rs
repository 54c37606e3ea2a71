//! `ip xfrm state` and `ip -s xfrm state` (Linux, root): one block per SA, opened by an
//! unindented `src A dst B` line. Key lines as iproute2's `ipxfrm.c` prints them:
//! `enc cbc(aes) 0xHEX`, `auth-trunc hmac(sha256) 0xHEX 128`, `auth hmac(sha1) 0xHEX`,
//! `aead rfc4106(gcm(aes)) 0xHEX 128` (key with its salt, then ICV bits); `-s` adds
//! `(N bits)` after each key, `spi 0x…(decimal)`, and for ESN SAs `seq-hi`/`oseq-hi`.

use std::net::IpAddr;

use super::ring::{Encr, EspKeys, Format, Integ, Secret};
use super::sink::{Sink, hex, quoted, spi32};

pub(crate) fn looks_like(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("src ") && l.contains(" dst "))
        && text.contains("proto esp spi ")
}

#[derive(Default)]
struct Block {
    line: u32,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    esp: bool,
    spi: Option<u32>,
    encr: Option<Encr>,
    enc_key: Option<Secret>,
    integ: Option<Integ>,
    auth_key: Option<Secret>,
    esn: bool,
    seq_hi: Option<u32>,
    oseq_hi: Option<u32>,
    error: Option<String>,
}

pub(crate) fn parse(sink: &mut Sink<'_>, text: &str) {
    let mut b: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        if let Some(r) = raw.strip_prefix("src ") {
            if let Some(done) = b.take() {
                emit(sink, done);
            }
            let w: Vec<&str> = r.split_whitespace().collect();
            b = Some(Block {
                line,
                src: w.first().and_then(|a| a.parse().ok()),
                dst: w.get(2).and_then(|a| a.parse().ok()),
                ..Block::default()
            });
            continue;
        }
        let Some(blk) = b.as_mut() else { continue };
        let w: Vec<&str> = raw.split_whitespace().collect();
        let Some(&first) = w.first() else { continue };
        match first {
            "proto" => {
                blk.esp = w.get(1) == Some(&"esp");
                // `spi 0x64f18166` or, with -s, `spi 0x64f18166(1693548902)`
                let spi = w
                    .iter()
                    .position(|t| *t == "spi")
                    .and_then(|p| w.get(p + 1));
                blk.spi = spi.and_then(|s| spi32(s.split('(').next().unwrap_or("")));
            }
            "replay-window" if flags(&w).contains(&"esn") => blk.esn = true,
            "anti-replay" if w.contains(&"esn") => blk.esn = true,
            "seq-hi" => {
                // ` seq-hi 0x0, seq 0x0, oseq-hi 0x0, oseq 0x0`
                for pair in w.chunks(2) {
                    let v = pair
                        .get(1)
                        .map(|v| v.trim_end_matches(','))
                        .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok());
                    match pair[0] {
                        "seq-hi" => blk.seq_hi = v,
                        "oseq-hi" => blk.oseq_hi = v,
                        _ => {}
                    }
                }
            }
            "enc" | "auth" | "auth-trunc" | "aead" if w.len() >= 3 => {
                if let Err(e) = algo(blk, first, &w) {
                    blk.error.get_or_insert(e);
                }
            }
            _ => {}
        }
    }
    if let Some(done) = b.take() {
        emit(sink, done);
    }
}

/// The flag words of a `replay-window … flag af-unspec esn (0x…)` line.
fn flags<'a>(w: &[&'a str]) -> Vec<&'a str> {
    match w.iter().position(|t| *t == "flag") {
        Some(p) => w[p + 1..]
            .iter()
            .take_while(|t| !t.starts_with('('))
            .copied()
            .collect(),
        None => Vec::new(),
    }
}

/// The number after the key, skipping `-s`'s `(N bits)`.
fn trailing_bits(w: &[&str]) -> Option<usize> {
    w.iter()
        .skip(3)
        .filter(|t| !t.ends_with("bits)") && !t.starts_with('('))
        .find_map(|t| t.parse().ok())
}

fn algo(blk: &mut Block, kind: &str, w: &[&str]) -> Result<(), String> {
    let name = w[1];
    let key = hex(w[2]).map_err(|e| format!("{kind} key is {e}"))?;
    match kind {
        "enc" => {
            let e = match name {
                "cbc(aes)" => Encr::AesCbc,
                "cbc(des3_ede)" => Encr::TripleDes,
                "cbc(des)" => Encr::Des,
                "rfc3686(ctr(aes))" => Encr::AesCtr,
                "ecb(cipher_null)" | "cipher_null" => Encr::Null,
                _ => return Err(format!("unknown algorithm {}", quoted(name))),
            };
            blk.encr = Some(e);
            blk.enc_key = Some(key);
        }
        "aead" => {
            let icv_bits = trailing_bits(w).unwrap_or(128);
            let icv = u8::try_from(icv_bits / 8).unwrap_or(16);
            let e = match name {
                "rfc4106(gcm(aes))" => Encr::AesGcm { icv },
                "rfc4309(ccm(aes))" => Encr::AesCcm { icv },
                "rfc7539esp(chacha20,poly1305)" => Encr::ChaCha20Poly1305,
                "rfc4543(gcm(aes))" => Encr::AesGmac,
                _ => return Err(format!("unknown algorithm {}", quoted(name))),
            };
            blk.encr = Some(e);
            blk.enc_key = Some(key);
            blk.integ = Some(Integ::None);
        }
        _ => {
            // `auth` without truncation: the kernel's default ICV for the algorithm (96 bits
            // for hmac(sha256), the pre-RFC 4868 value)
            let bits = if kind == "auth-trunc" {
                trailing_bits(w).ok_or_else(|| "auth-trunc without its ICV bits".to_string())?
            } else {
                match name {
                    "hmac(sha384)" => 192,
                    "hmac(sha512)" => 256,
                    _ => 96,
                }
            };
            let i = match (name, bits) {
                ("digest_null", _) => Integ::None,
                ("hmac(md5)", 96) => Integ::HmacMd5_96,
                ("hmac(sha1)", 96) => Integ::HmacSha1_96,
                ("hmac(sha1)", 160) => Integ::HmacSha1_160,
                ("hmac(sha256)", 128) => Integ::HmacSha256_128,
                ("hmac(sha384)", 192) => Integ::HmacSha384_192,
                ("hmac(sha512)", 256) => Integ::HmacSha512_256,
                ("xcbc(aes)", 96) => Integ::AesXcbc96,
                ("cmac(aes)", 96) => Integ::AesCmac96,
                (
                    "hmac(md5)" | "hmac(sha1)" | "hmac(sha256)" | "hmac(sha384)" | "hmac(sha512)"
                    | "xcbc(aes)" | "cmac(aes)" | "hmac(rmd160)",
                    b,
                ) => Integ::Unchecked {
                    icv: u8::try_from(b / 8).unwrap_or(0),
                },
                _ => return Err(format!("unknown algorithm {}", quoted(name))),
            };
            blk.integ = Some(i);
            blk.auth_key = Some(key);
        }
    }
    Ok(())
}

fn emit(sink: &mut Sink<'_>, b: Block) {
    if !b.esp {
        return;
    }
    if let Some(e) = b.error {
        return sink.skip(b.line, e);
    }
    let Some(spi) = b.spi else {
        return sink.skip(b.line, "SPI must be 0x and up to 8 hex digits".into());
    };
    let (Some(encr), Some(enc_key)) = (b.encr, b.enc_key) else {
        return sink.skip(
            b.line,
            "no key in this SA (listed with `nokeys`, or not root?)".into(),
        );
    };
    if !encr.key_len_ok(enc_key.len()) {
        return sink.skip(
            b.line,
            format!("{}-byte key does not fit {}", enc_key.len(), encr.name()),
        );
    }
    let seq_hi = if b.esn {
        Some(match (b.seq_hi, b.oseq_hi) {
            (Some(s), _) if s != 0 => s,
            (_, Some(o)) => o,
            (s, None) => s.unwrap_or(0),
        })
    } else {
        None
    };
    sink.esp(EspKeys {
        spi,
        src: b.src,
        dst: b.dst,
        encr,
        enc_key,
        integ: b.integ.unwrap_or(Integ::None),
        auth_key: b.auth_key.unwrap_or_else(|| Secret::new(Vec::new())),
        esn: Some(b.esn),
        seq_hi: seq_hi.filter(|_| b.seq_hi.is_some() || b.oseq_hi.is_some()),
        origin: sink.origin(b.line, Format::XfrmState),
    });
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::*;

    // Key bytes are synthetic (the block layout is iproute2's, as quoted in libreswan issues
    // #713 and #1569); this kernel refuses ESP states (see captures/lab/README.md).
    const PLAIN: &str = "src 192.0.2.10 dst 198.51.100.20
\tproto esp spi 0x64f18166 reqid 1 mode tunnel
\treplay-window 0 flag af-unspec
\tauth-trunc hmac(sha1) 0x000102030405060708090a0b0c0d0e0f10111213 96
\tenc cbc(aes) 0x000102030405060708090a0b0c0d0e0f
\tencap type espinudp sport 4500 dport 4500 addr 0.0.0.0
\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src 198.51.100.20 dst 192.0.2.10
\tproto esp spi 0x85659298 reqid 1 mode tunnel
\treplay-window 0 flag af-unspec esn
\taead rfc4106(gcm(aes)) 0x000102030405060708090a0b0c0d0e0f10111213 128
\tanti-replay esn context:
\t seq-hi 0x1, seq 0x5, oseq-hi 0x0, oseq 0x0
src 198.51.100.20 dst 192.0.2.10
\tproto esp spi 0x00000003 reqid 1 mode tunnel
\taead rfc7539esp(chacha20,poly1305) 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f00010203 128
";

    const STATS: &str = "src 192.0.2.10 dst 198.51.100.20
\tproto esp spi 0xc1234567(3243459943) reqid 1(0x00000001) mode tunnel
\treplay-window 0 seq 0x00000000 flag af-unspec (0x00100000)
\tauth-trunc hmac(sha256) 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f (256 bits) 128
\tenc cbc(aes) 0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f (256 bits)
\taead rfc4309(ccm(aes)) 0x000102030405060708090a0b0c0d0e0f101112 (152 bits) 64
\tlifetime config:
\t  limit: soft (INF)(bytes), hard (INF)(bytes)
";

    fn run(text: &str) -> super::super::sink::Loaded {
        let dir = std::env::temp_dir().join(format!(
            "ike-sniff-xfrm-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("xfrm.txt");
        std::fs::write(&p, text).unwrap();
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        l
    }

    #[test]
    fn ip_xfrm_state_blocks() {
        let l = run(PLAIN);
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.esp[&0x64f18166][0];
        assert_eq!((k.encr, k.integ), (Encr::AesCbc, Integ::HmacSha1_96));
        assert_eq!(k.esn, Some(false));
        let k = &l.ring.esp[&0x85659298][0];
        assert_eq!(k.encr, Encr::AesGcm { icv: 16 });
        assert_eq!((k.esn, k.seq_hi), (Some(true), Some(1)));
        assert_eq!(k.src, Some("198.51.100.20".parse().unwrap()));
        assert_eq!(l.ring.esp[&3][0].encr, Encr::ChaCha20Poly1305);
        assert_eq!(
            l.report.to_string().lines().next().unwrap(),
            "keys: 3 ESP SAs from 1 file (ip xfrm state: 3 ESP SAs)"
        );
    }

    /// The `auth-trunc` and `enc` lines of an `ip xfrm state` dump posted in libreswan issue
    /// #713, verbatim; the block's other lines are written to fit them.
    #[test]
    fn key_lines_from_a_real_dump() {
        let text = "src 192.1.2.23 dst 192.1.2.45
\tproto esp spi 0x87a27743 reqid 16389 mode tunnel
\treplay-window 32 flag af-unspec
\tauth-trunc hmac(sha1) 0x87a277435761c42f7cb21c2172d22e1070cb3df0 96
\tenc cbc(aes) 0xa8da6865f2158638045b430eee4b2728
";
        let l = run(text);
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.esp[&0x87a27743][0];
        assert_eq!((k.encr, k.integ), (Encr::AesCbc, Integ::HmacSha1_96));
        assert_eq!((k.enc_key.len(), k.auth_key.len()), (16, 20));
    }

    #[test]
    fn ip_s_xfrm_state_bits_and_decimal_spi() {
        let l = run(STATS);
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.esp[&0xc1234567][0];
        // the later aead line wins over enc/auth-trunc: one algorithm set per SA
        assert_eq!(k.encr, Encr::AesCcm { icv: 8 });
        assert_eq!(k.enc_key.len(), 19);
    }
}
