//! tcpdump's `-E` secrets (`0xSPI@DST ALGO:KEY`, a default `ALGO:KEY`, `file NAME`,
//! `ikev2 I|R 0xSPIi 0xSPIr INTEG:0xSK_a ENCR:0xSK_e`) and the same IKE lines as
//! Libreswan/Openswan log them with `plutodebug=private` (`| ikev2 I …` after a timestamp,
//! algorithm names with the key length glued on: `aes256`, `aes_gcm_16256`).
//!
//! Libreswan writes each key into a 256-bit buffer (`LDBG_tcpdump_ike_sa_keys`): a key that
//! needs more (AES-256-GCM/CTR with its salt, SHA2-384/512 integrity) arrives cut to 32 bytes.
//! Such a line is refused or its integrity key dropped, saying so, rather than failing later
//! as a wrong key.

use std::net::IpAddr;

use super::ring::{Encr, EspKeys, Format, IkeV1Keys, IkeV2Keys, Integ, Secret};
use super::sink::{Sink, hex, quoted, spi32, spi64};
use super::wireshark::salt_note;

/// Encryption names: OpenSSL's (tcpdump) and Libreswan's, longest first so that a glued key
/// length is what remains. (name, algorithm, cipher key bytes when the name fixes them)
const ENCR_NAMES: &[(&str, Option<Encr>, Option<usize>)] = &[
    ("null_auth_aes_gmac", Some(Encr::AesGmac), None),
    ("chacha20_poly1305", Some(Encr::ChaCha20Poly1305), Some(32)),
    ("chacha20poly1305", Some(Encr::ChaCha20Poly1305), Some(32)),
    ("aes_gcm_16", Some(Encr::AesGcm { icv: 16 }), None),
    ("aes_gcm_12", Some(Encr::AesGcm { icv: 12 }), None),
    ("aes_gcm_8", Some(Encr::AesGcm { icv: 8 }), None),
    ("aes_gcm_a", Some(Encr::AesGcm { icv: 8 }), None),
    ("aes_gcm_b", Some(Encr::AesGcm { icv: 12 }), None),
    ("aes_gcm_c", Some(Encr::AesGcm { icv: 16 }), None),
    ("aes_ccm_16", Some(Encr::AesCcm { icv: 16 }), None),
    ("aes_ccm_12", Some(Encr::AesCcm { icv: 12 }), None),
    ("aes_ccm_8", Some(Encr::AesCcm { icv: 8 }), None),
    ("blowfish", None, None),
    ("camellia", None, None),
    ("des-ede3", Some(Encr::TripleDes), Some(24)),
    ("serpent", None, None),
    ("twofish", None, None),
    ("aes_gcm", Some(Encr::AesGcm { icv: 16 }), None),
    ("aes_ccm", Some(Encr::AesCcm { icv: 16 }), None),
    ("aes_ctr", Some(Encr::AesCtr), None),
    ("aes_cbc", Some(Encr::AesCbc), None),
    ("cast128", None, None),
    ("cast5", None, None),
    ("3des", Some(Encr::TripleDes), Some(24)),
    ("none", Some(Encr::Null), Some(0)),
    ("null", Some(Encr::Null), Some(0)),
    ("aes", Some(Encr::AesCbc), None),
    ("des", Some(Encr::Des), Some(8)),
    ("bf", None, None),
];

/// What an encryption name says: the algorithm and, when the name carries it, the key length
/// in bytes with the salt.
pub(crate) struct EncrName {
    pub encr: Encr,
    pub key_len: Option<usize>,
}

/// Parses `aes256`, `aes_gcm_16256`, `3des`, `aes-128`, `des-cbc` (the `-cbc` is tcpdump's).
pub(crate) fn encr_name(name: &str) -> Result<EncrName, String> {
    let low = name.to_ascii_lowercase();
    let low = low.strip_suffix("-cbc").unwrap_or(&low);
    for (base, encr, fixed) in ENCR_NAMES {
        let Some(rest) = low.strip_prefix(base) else {
            continue;
        };
        let rest = rest.trim_start_matches(['-', '_']);
        if !rest.bytes().all(|b| b.is_ascii_digit()) || rest.len() > 3 {
            continue;
        }
        let Some(encr) = *encr else {
            return Err(format!("encryption {} is not supported", quoted(name)));
        };
        let bits: Option<usize> = rest.parse().ok();
        let key_len = match (fixed, bits) {
            (Some(n), _) => Some(n + encr.salt_len()),
            (None, Some(b)) if matches!(b, 128 | 192 | 256) => Some(b / 8 + encr.salt_len()),
            (None, Some(b)) => {
                return Err(format!("{} names a {b}-bit key", quoted(name)));
            }
            (None, None) => None,
        };
        return Ok(EncrName { encr, key_len });
    }
    Err(format!("unknown algorithm {}", quoted(name)))
}

/// Integrity names (tcpdump: only the ICV length matters; Libreswan: its `ike_alg` names).
pub(crate) fn integ_name(name: &str) -> Result<Integ, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "md5" | "hmac_md5" | "hmac_md5_96" => Integ::HmacMd5_96,
        "sha1" | "sha" | "hmac_sha1" | "hmac_sha1_96" => Integ::HmacSha1_96,
        "sha256" | "sha2_256" | "sha2" | "hmac_sha2_256_128" => Integ::HmacSha256_128,
        "sha384" | "sha2_384" | "hmac_sha2_384_192" => Integ::HmacSha384_192,
        "sha512" | "sha2_512" | "hmac_sha2_512_256" => Integ::HmacSha512_256,
        "aes_xcbc" | "aes_xcbc_96" | "aes_xcbc_mac" => Integ::AesXcbc96,
        "aes_cmac" | "aes_cmac_96" => Integ::AesCmac96,
        "none" | "null" => Integ::None,
        _ => return Err(format!("unknown integrity algorithm {}", quoted(name))),
    })
}

/// tcpdump's key syntax: `0x…` hex, anything else the ASCII bytes.
fn key(text: &str) -> Result<Secret, String> {
    if text.starts_with("0x") || text.starts_with("0X") {
        hex(text).map_err(|e| format!("key is {e}"))
    } else {
        Ok(Secret::new(text.as_bytes().to_vec()))
    }
}

/// The message for a key that does not fit; names Libreswan's cut when that explains it.
fn too_short(got: usize, name: &str, want: usize) -> String {
    let cut = if got == 32 && want > 32 {
        ": Libreswan cuts keys at 32 bytes"
    } else {
        ""
    };
    format!("{got}-byte key for {} needs {want}{cut}", quoted(name))
}

/// One line of a tcpdump secrets file (or a pasted Libreswan line). `false` when it is not
/// one at all.
pub(crate) fn line(sink: &mut Sink<'_>, line: u32, l: &str) -> bool {
    let tokens: Vec<&str> = l.split_whitespace().collect();
    if let Some(p) = ike_at(&tokens) {
        ike_line(sink, line, &tokens[p..]);
        return true;
    }
    let mut any = false;
    for entry in l.split(',') {
        let t: Vec<&str> = entry.split_whitespace().collect();
        match t.as_slice() {
            [] => {}
            [sa, alg] if sa.contains('@') => {
                esp_entry(sink, line, Some(sa), alg);
                any = true;
            }
            [alg] if alg.contains(':') && known_esp_alg(alg) => {
                esp_entry(sink, line, None, alg);
                any = true;
            }
            _ if any => sink.skip(line, "an entry is not `0xSPI@ADDRESS ALGO:KEY`".into()),
            _ => return false,
        }
    }
    any
}

/// Whether `ALGO:…` names an algorithm at all (a default SA line has nothing else to go by).
fn known_esp_alg(t: &str) -> bool {
    let name = t.split_once(':').map_or(t, |(a, _)| a).to_ascii_lowercase();
    let name = name.strip_suffix("-hmac96").unwrap_or(&name);
    match encr_name(name) {
        Ok(_) => true,
        Err(e) => e.ends_with("is not supported"),
    }
}

/// Where `ikev2|ikev1 I|R` starts in a line (after any log prefix).
fn ike_at(tokens: &[&str]) -> Option<usize> {
    (0..tokens.len().saturating_sub(1)).find(|&i| {
        matches!(tokens[i], "ikev2" | "ikev1")
            && matches!(tokens[i + 1], "I" | "R")
            && tokens.get(i + 2).is_some_and(|t| t.starts_with("0x"))
    })
}

/// The `ikev2 I` / `ikev1 I` lines of a Libreswan/Openswan log; every other line is the
/// log's own business.
pub(crate) fn parse_log(sink: &mut Sink<'_>, text: &str) {
    for (i, l) in text.lines().enumerate() {
        let tokens: Vec<&str> = l.split_whitespace().collect();
        if let Some(p) = ike_at(&tokens) {
            ike_line(sink, (i + 1) as u32, &tokens[p..]);
        }
    }
}

fn ike_line(sink: &mut Sink<'_>, line: u32, t: &[&str]) {
    let format = sink.format_hint.unwrap_or(Format::TcpdumpIkev2);
    if t.len() < 6 {
        return sink.skip(
            line,
            format!("{} {} line needs SPIi SPIr INTEG:KEY ENCR:KEY", t[0], t[1]),
        );
    }
    let Some(spi_i) = spi64(t[2]) else {
        return sink.skip(line, "initiator's SPI must be 0x and 16 hex digits".into());
    };
    let Some(spi_r) = spi64(t[3]) else {
        return sink.skip(line, "responder's SPI must be 0x and 16 hex digits".into());
    };
    let (Some((ia, ik)), Some((ea, ek))) = (t[4].split_once(':'), t[5].split_once(':')) else {
        return sink.skip(line, "keys must be written ALGO:0xHEX".into());
    };
    let integ = match integ_name(ia) {
        Ok(i) => i,
        Err(e) => return sink.skip(line, e),
    };
    let en = match encr_name(ea) {
        Ok(e) => e,
        Err(e) => return sink.skip(line, e),
    };
    let (ik, ek) = match (hex(ik), hex(ek)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => return sink.skip(line, format!("integrity key is {e}")),
        (_, Err(e)) => return sink.skip(line, format!("encryption key is {e}")),
    };
    let want_ok = match en.key_len {
        Some(n) => ek.len() == n,
        None => en.encr.key_len_ok(ek.len()),
    };
    if !want_ok {
        let want = en.key_len.unwrap_or(ek.len());
        let msg = if en.key_len.is_some() {
            too_short(ek.len(), ea, want)
        } else {
            format!(
                "{}-byte key does not fit {}{}",
                ek.len(),
                en.encr.name(),
                salt_note(en.encr)
            )
        };
        return sink.skip(line, msg);
    }
    let mut ik = Some(ik).filter(|k| !k.is_empty());
    if let (Some(n), Some(k)) = (integ.key_len(), &ik)
        && k.len() != n
    {
        if k.len() == 32 && n > 32 {
            sink.warn(format!(
                "{}:{line}: 32-byte integrity key for {} needs {n}: Libreswan cuts keys at 32 bytes; messages are decrypted but their ICV not checked",
                sink.file,
                integ.name()
            ));
            ik = None;
        } else {
            return sink.skip(
                line,
                format!(
                    "{}-byte integrity key for {} needs {n}",
                    k.len(),
                    integ.name()
                ),
            );
        }
    }
    let initiator = t[1] == "I";
    if t[0] == "ikev1" {
        // IKEv1 has one key for both directions; the R line repeats it
        sink.ikev1(IkeV1Keys {
            cookie_i: spi_i,
            cookie_r: Some(spi_r),
            key: ek,
            encr: Some(en.encr),
            hash: None,
            origin: sink.origin(line, format),
        });
        return;
    }
    let (ei, er, ai, ar) = if initiator {
        (Some(ek), None, ik, None)
    } else {
        (None, Some(ek), None, ik)
    };
    sink.ikev2(IkeV2Keys {
        spi_i,
        spi_r,
        encr: Some(en.encr),
        integ: Some(integ),
        sk_ei: ei,
        sk_er: er,
        sk_ai: ai,
        sk_ar: ar,
        sk_d: None,
        origin: sink.origin(line, format),
    });
}

/// `0xSPI@DST ALGO:KEY` (or `ALGO:KEY` for any SPI). tcpdump knows CBC ciphers only; the
/// `-hmac96` suffix says a 12-byte ICV follows, which it strips, never checks.
fn esp_entry(sink: &mut Sink<'_>, line: u32, sa: Option<&str>, alg: &str) {
    let (spi, dst) = match sa {
        Some(sa) => {
            let (spi, dst) = sa.split_once('@').unwrap_or((sa, ""));
            let spi = if spi.starts_with("0x") || spi.starts_with("0X") {
                spi32(spi)
            } else {
                spi.parse::<u32>().ok()
            };
            let Some(spi) = spi else {
                return sink.skip(line, "SPI must be 0x and up to 8 hex digits".into());
            };
            let Ok(dst) = dst.parse::<IpAddr>() else {
                return sink.skip(
                    line,
                    format!("{} after @ is not an IP address", quoted(dst)),
                );
            };
            (Some(spi), Some(dst))
        }
        None => (None, None),
    };
    let Some((name, k)) = alg.split_once(':') else {
        return sink.skip(line, "the key must follow ALGO: (ALGO:0xHEX)".into());
    };
    let (name_enc, integ) = match name.to_ascii_lowercase().strip_suffix("-hmac96") {
        Some(n) => (n.to_string(), Integ::Unchecked { icv: 12 }),
        None => (name.to_string(), Integ::None),
    };
    let en = match encr_name(&name_enc) {
        Ok(e) => e,
        Err(e) => return sink.skip(line, e),
    };
    let enc_key = match key(k) {
        Ok(k) => k,
        Err(e) => return sink.skip(line, e),
    };
    let fits = match en.key_len {
        Some(n) => enc_key.len() == n,
        None => en.encr.key_len_ok(enc_key.len()),
    };
    if !fits {
        let ascii = if k.starts_with("0x") || k.starts_with("0X") {
            ""
        } else {
            " (no 0x: the text is taken as ASCII bytes)"
        };
        return sink.skip(
            line,
            format!(
                "{}-byte key does not fit {}{}{ascii}",
                enc_key.len(),
                quoted(name),
                salt_note(en.encr)
            ),
        );
    }
    let k = EspKeys {
        spi: spi.unwrap_or(0),
        src: None,
        dst,
        encr: en.encr,
        enc_key,
        integ,
        auth_key: Secret::new(Vec::new()),
        esn: None,
        seq_hi: None,
        origin: sink.origin(line, Format::TcpdumpEsp),
    };
    match spi {
        Some(_) => sink.esp(k),
        None => sink.esp_default(line, k),
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::*;
    use std::path::PathBuf;

    fn write(name: &str, text: &str) -> (PathBuf, PathBuf) {
        let dir = super::super::scratch(name);
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn tcpdump_test_suite_secrets() {
        // Verbatim from the-tcpdump-group/tcpdump tests/esp-secrets.txt and
        // tests/ikev2pI2-secrets.txt (BSD-3-Clause), and the Wireshark table derived from the
        // latter (captures/public/tcpdump), which tshark decrypts ikev2pI2.pcap with.
        const ESP: &str = "# a comment

0x12345678@192.1.2.45 3des-cbc-hmac96:0x43434545464649494a4a4c4c4f4f51515252545457575840
0xabcdabcd@192.0.1.1  3des-cbc-hmac96:0x434545464649494a4a4c4c4f4f5151525254545757584043
0xd1234567@192.1.2.45 aes256-cbc-hmac96:0xaaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758
";
        const IKEV2: &str = "ikev2 I 0x0001020304050607 0xc02e7a3031a03188 sha1:0x4ea8e662b07cdd430f6944c6723e4b82d5722418 aes128:0x3f44bf47cafd8150591deb088199fcbf
ikev2 R 0x0001020304050607 0xc02e7a3031a03188 sha1:0x515b0bd22e6d76b34fdb760aa7bfad80b109b75d aes128:0xbedb67ec7dc3d00cccac42e70cd63bde
";
        const TABLE: &str = "0001020304050607,c02e7a3031a03188,3f44bf47cafd8150591deb088199fcbf,bedb67ec7dc3d00cccac42e70cd63bde,\"AES-CBC-128 [RFC3602]\",4ea8e662b07cdd430f6944c6723e4b82d5722418,515b0bd22e6d76b34fdb760aa7bfad80b109b75d,\"HMAC_SHA1_96 [RFC2404]\"\n";
        let (dir, esp) = write("esp-secrets.txt", ESP);
        let ike = dir.join("ikev2pI2-secrets.txt");
        std::fs::write(&ike, IKEV2).unwrap();
        let table = dir.join("ikev2pI2.pcap.ikev2_decryption_table");
        std::fs::write(&table, TABLE).unwrap();
        let (l, k2, w) = (load(&[esp]), load(&[ike]), load(&[table]));
        std::fs::remove_dir_all(dir).unwrap();

        let l = l.unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        assert_eq!(l.ring.esp.len(), 3);
        let k = &l.ring.esp[&0xd1234567][0];
        assert_eq!(k.dst, Some("192.1.2.45".parse().unwrap()));
        assert_eq!(
            (k.encr, k.integ),
            (Encr::AesCbc, Integ::Unchecked { icv: 12 })
        );
        assert_eq!(l.ring.esp[&0x12345678][0].encr, Encr::TripleDes);
        assert_eq!(
            l.report.to_string().lines().next().unwrap(),
            "keys: 3 ESP SAs from 1 file (tcpdump -E espsecret: 3 ESP SAs)"
        );

        let l = k2.unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        assert_eq!(l.report.ikev2(), 1, "the I and R lines are one SA");
        let k = &l.ring.ikev2[&(0x0001020304050607, 0xc02e7a3031a03188)];
        assert_eq!(k.encr, Some(Encr::AesCbc));
        assert_eq!(k.integ, Some(Integ::HmacSha1_96));
        // the same SA as the Wireshark table derived from it
        let w = w.unwrap();
        let wk = &w.ring.ikev2[&(0x0001020304050607, 0xc02e7a3031a03188)];
        assert_eq!((wk.encr, wk.integ), (k.encr, k.integ));
        assert!(wk.sk_ei == k.sk_ei && wk.sk_er == k.sk_er);
        assert!(wk.sk_ai == k.sk_ai && wk.sk_ar == k.sk_ar);
    }

    #[test]
    fn openswan_ikev1_lines_give_one_key_per_cookie() {
        let k24 = "ab".repeat(24);
        let (dir, p) = write(
            "pluto-v1.log",
            &format!(
                "Nov 30 11:00:00 gw pluto[77]: | ikev1 I 0x1111111111111111 0x2222222222222222 sha1:0x{} 3des:0x{k24}\n\
                 Nov 30 11:00:00 gw pluto[77]: | ikev1 R 0x1111111111111111 0x2222222222222222 sha1:0x{} 3des:0x{k24}\n",
                "cd".repeat(20),
                "ef".repeat(20)
            ),
        );
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.ikev1[&0x1111111111111111];
        assert_eq!(k.len(), 1);
        assert_eq!(
            (k[0].cookie_r, k[0].encr),
            (Some(0x2222222222222222), Some(Encr::TripleDes))
        );
    }

    #[test]
    fn libreswan_lines_with_glued_lengths_and_the_32_byte_cut() {
        let k32 = "ab".repeat(32);
        let k36 = "ab".repeat(36);
        let k20 = "cd".repeat(20);
        let (dir, p) = write(
            "pluto.log",
            &format!(
                "Nov 30 11:03:28.123456: | ikev2 I 0xba1143d176e1557b 0xb62a3c712fd1f26a sha256:0x{k32} aes256:0x{k32}\n\
                 Nov 30 11:03:28.123460: | ikev2 R 0xba1143d176e1557b 0xb62a3c712fd1f26a sha256:0x{k32} aes256:0x{k32}\n\
                 | ikev2 I 0x1111111111111111 0x2222222222222222 none:0x aes_gcm_16256:0x{k32}\n\
                 | ikev2 I 0x3333333333333333 0x4444444444444444 sha512:0x{k32} aes_ctr256:0x{k36}\n\
                 | ikev2 I 0x5555555555555555 0x6666666666666666 sha1:0x{k20} aes_xcbc128:0x{k20}\n\
                 | some other pluto line\n"
            ),
        );
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        let k = &l.ring.ikev2[&(0xba1143d176e1557b, 0xb62a3c712fd1f26a)];
        assert_eq!(k.encr, Some(Encr::AesCbc));
        assert_eq!(k.integ, Some(Integ::HmacSha256_128));
        assert!(k.sk_ei.is_some() && k.sk_er.is_some());
        assert_eq!(k.origin.format, Format::LibreswanDebug);
        let k = &l.ring.ikev2[&(0x3333333333333333, 0x4444444444444444)];
        assert_eq!(k.encr, Some(Encr::AesCtr));
        assert!(k.sk_ai.is_none(), "a cut SHA-512 key is dropped");
        let why: Vec<&str> = l.report.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(
            why,
            [
                "32-byte key for \"aes_gcm_16256\" needs 36: Libreswan cuts keys at 32 bytes",
                "unknown algorithm \"aes_xcbc128\""
            ]
        );
        assert!(
            l.report
                .warnings
                .iter()
                .any(|w| w.contains("cuts keys at 32"))
        );
    }

    #[test]
    fn default_sa_ascii_keys_and_file_lines() {
        let (dir, inner) = write(
            "inner.txt",
            "0x00000010@2001:db8::1 aes128-cbc:0x000102030405060708090a0b0c0d0e0f\n",
        );
        let outer = dir.join("outer.txt");
        std::fs::write(
            &outer,
            "# secrets\n3des-cbc-hmac96:abcdefghijklmnopqrstuvwx\nfile inner.txt\n0x20@192.0.2.1 blowfish-cbc:0x00, 0x21@192.0.2.1 des-cbc:0x0001020304050607\n",
        )
        .unwrap();
        let l = load(&[outer]).unwrap();
        std::fs::remove_file(inner).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        let d = l.ring.esp_default.as_ref().unwrap();
        assert_eq!(d.encr, Encr::TripleDes);
        assert_eq!(d.enc_key.bytes(), b"abcdefghijklmnopqrstuvwx");
        assert_eq!(l.ring.esp[&0x10][0].encr, Encr::AesCbc);
        assert_eq!(l.ring.esp[&0x21][0].encr, Encr::Des);
        let why: Vec<&str> = l.report.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(why, ["encryption \"blowfish-cbc\" is not supported"]);
    }

    #[test]
    fn names_carry_their_key_lengths() {
        let n = encr_name("aes_gcm_16256").unwrap();
        assert_eq!((n.encr, n.key_len), (Encr::AesGcm { icv: 16 }, Some(36)));
        let n = encr_name("aes_ccm_8128").unwrap();
        assert_eq!((n.encr, n.key_len), (Encr::AesCcm { icv: 8 }, Some(19)));
        let n = encr_name("3des").unwrap();
        assert_eq!((n.encr, n.key_len), (Encr::TripleDes, Some(24)));
        let n = encr_name("aes-256-cbc").unwrap();
        assert_eq!((n.encr, n.key_len), (Encr::AesCbc, Some(32)));
        assert!(encr_name("X").is_err());
        assert_eq!(integ_name("aes_xcbc").unwrap(), Integ::AesXcbc96);
    }
}
