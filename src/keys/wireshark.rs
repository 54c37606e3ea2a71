//! Wireshark's three key tables (UAT files): `ikev2_decryption_table`, `ikev1_decryption_table`
//! and `esp_sa`, as Wireshark, strongSwan's save-keys plugin and the lab's `keys.py` write them.
//!
//! Algorithm names are Wireshark's strings (`vs_ikev2_encr_algs`, `vs_ikev2_auth_algs` in
//! packet-isakmp.c, `esp_encryption_type_vals`, `esp_authentication_type_vals` in
//! packet-ipsec.c), plus the spellings strongSwan's save-keys wrote before Wireshark had
//! better ones (`TripleDes-CBC [RFC2451]`, `AES-GCM [RFC4106]` with an `ANY n bit` ICV).
//! Wireshark matches them case-sensitively; so do we, except for the deprecated spellings.

use std::net::IpAddr;

use super::ring::{Encr, EspKeys, Format, IkeV1Keys, IkeV2Keys, Integ, Secret};
use super::sink::{Sink, hex, quoted, spi32, spi64};

/// IKEv2 encryption: (Wireshark string, algorithm, cipher key bytes without salt).
const IKEV2_ENCR: &[(&str, Encr, usize)] = &[
    ("3DES [RFC2451]", Encr::TripleDes, 24),
    ("AES-CBC-128 [RFC3602]", Encr::AesCbc, 16),
    ("AES-CBC-192 [RFC3602]", Encr::AesCbc, 24),
    ("AES-CBC-256 [RFC3602]", Encr::AesCbc, 32),
    ("NULL [RFC2410]", Encr::Null, 0),
    ("AES-CTR-128 [RFC5930]", Encr::AesCtr, 16),
    ("AES-CTR-192 [RFC5930]", Encr::AesCtr, 24),
    ("AES-CTR-256 [RFC5930]", Encr::AesCtr, 32),
    (
        "AES-GCM-128 with 16 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 16 },
        16,
    ),
    (
        "AES-GCM-192 with 16 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 16 },
        24,
    ),
    (
        "AES-GCM-256 with 16 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 16 },
        32,
    ),
    (
        "AES-GCM-128 with 8 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 8 },
        16,
    ),
    (
        "AES-GCM-192 with 8 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 8 },
        24,
    ),
    (
        "AES-GCM-256 with 8 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 8 },
        32,
    ),
    (
        "AES-GCM-128 with 12 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 12 },
        16,
    ),
    (
        "AES-GCM-192 with 12 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 12 },
        24,
    ),
    (
        "AES-GCM-256 with 12 octet ICV [RFC5282]",
        Encr::AesGcm { icv: 12 },
        32,
    ),
    (
        "AES-CCM-128 with 16 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 16 },
        16,
    ),
    (
        "AES-CCM-192 with 16 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 16 },
        24,
    ),
    (
        "AES-CCM-256 with 16 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 16 },
        32,
    ),
    (
        "AES-CCM-128 with 8 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 8 },
        16,
    ),
    (
        "AES-CCM-192 with 8 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 8 },
        24,
    ),
    (
        "AES-CCM-256 with 8 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 8 },
        32,
    ),
    (
        "AES-CCM-128 with 12 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 12 },
        16,
    ),
    (
        "AES-CCM-192 with 12 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 12 },
        24,
    ),
    (
        "AES-CCM-256 with 12 octet ICV [RFC5282]",
        Encr::AesCcm { icv: 12 },
        32,
    ),
];

/// IKEv2 integrity. HMAC_MD5_128 and HMAC_SHA2_256_96 have no checker here: their ICV is
/// stripped unchecked.
const IKEV2_INTEG: &[(&str, Integ)] = &[
    ("HMAC_MD5_96 [RFC2403]", Integ::HmacMd5_96),
    ("HMAC_SHA1_96 [RFC2404]", Integ::HmacSha1_96),
    ("HMAC_MD5_128 [RFC4595]", Integ::Unchecked { icv: 16 }),
    ("HMAC_SHA1_160 [RFC4595]", Integ::HmacSha1_160),
    (
        "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Integ::Unchecked { icv: 12 },
    ),
    ("HMAC_SHA2_256_128 [RFC4868]", Integ::HmacSha256_128),
    ("HMAC_SHA2_384_192 [RFC4868]", Integ::HmacSha384_192),
    ("HMAC_SHA2_512_256 [RFC4868]", Integ::HmacSha512_256),
    ("NONE [RFC4306]", Integ::None),
    (
        "ANY 64-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 8 },
    ),
    (
        "ANY 96-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 12 },
    ),
    (
        "ANY 128-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 16 },
    ),
    (
        "ANY 160-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 20 },
    ),
    (
        "ANY 192-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 24 },
    ),
    (
        "ANY 256-bits of Authentication [No Checking]",
        Integ::Unchecked { icv: 32 },
    ),
];

/// ESP encryption. `None` = the deprecated `AES-GCM [RFC4106]`, whose ICV length comes from
/// the authentication column (strongSwan save-keys writes it with `ANY 128 bit …`).
const ESP_ENCR: &[(&str, Option<Encr>)] = &[
    ("NULL", Some(Encr::Null)),
    ("TripleDES-CBC [RFC2451]", Some(Encr::TripleDes)),
    // strongSwan save-keys up to 5.9.13 (fixed in 5.9.14); Wireshark itself rejects it
    ("TripleDes-CBC [RFC2451]", Some(Encr::TripleDes)),
    ("AES-CBC [RFC3602]", Some(Encr::AesCbc)),
    ("AES-CTR [RFC3686]", Some(Encr::AesCtr)),
    ("DES-CBC [RFC2405]", Some(Encr::Des)),
    ("AES-GCM [RFC4106]", None),
    (
        "AES-GCM with 8 octet ICV [RFC4106]",
        Some(Encr::AesGcm { icv: 8 }),
    ),
    (
        "AES-GCM with 12 octet ICV [RFC4106]",
        Some(Encr::AesGcm { icv: 12 }),
    ),
    (
        "AES-GCM with 16 octet ICV [RFC4106]",
        Some(Encr::AesGcm { icv: 16 }),
    ),
    (
        "ChaCha20 with Poly1305 [RFC7634]",
        Some(Encr::ChaCha20Poly1305),
    ),
];

/// Wireshark lists these but nothing here decrypts them: named in the skip reason.
const ESP_ENCR_UNSUPPORTED: &[&str] = &[
    "CAST5-CBC [RFC2144]",
    "BLOWFISH-CBC [RFC2451]",
    "TWOFISH-CBC",
    "AES-GCM with IIV and 16 octet ICV [RFC4106 & RFC8750]",
    "ChaCha20 with Poly1305 and IIV [RFC7634 & RFC8750]",
];

const ESP_INTEG: &[(&str, Integ)] = &[
    ("NULL", Integ::None),
    ("HMAC-SHA-1-96 [RFC2404]", Integ::HmacSha1_96),
    (
        "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Integ::Unchecked { icv: 12 },
    ),
    ("HMAC-SHA-256-128 [RFC4868]", Integ::HmacSha256_128),
    ("HMAC-SHA-384-192 [RFC4868]", Integ::HmacSha384_192),
    ("HMAC-SHA-512-256 [RFC4868]", Integ::HmacSha512_256),
    ("HMAC-MD5-96 [RFC2403]", Integ::HmacMd5_96),
    ("MAC-RIPEMD-160-96 [RFC2857]", Integ::Unchecked { icv: 12 }),
    (
        "ANY 64 bit authentication [no checking]",
        Integ::Unchecked { icv: 8 },
    ),
    (
        "ANY 96 bit authentication [no checking]",
        Integ::Unchecked { icv: 12 },
    ),
    (
        "ANY 128 bit authentication [no checking]",
        Integ::Unchecked { icv: 16 },
    ),
    (
        "ANY 192 bit authentication [no checking]",
        Integ::Unchecked { icv: 24 },
    ),
    (
        "ANY 256 bit authentication [no checking]",
        Integ::Unchecked { icv: 32 },
    ),
];

/// One UAT field: its text (quotes removed, `\xNN` and `\"` escapes resolved) and whether it
/// was quoted. Key text, so wiped on drop.
struct Field {
    text: zeroize::Zeroizing<String>,
    quoted: bool,
}

/// Splits a UAT line at commas outside quotes. `None` when a quote is left open.
fn fields(line: &str) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut text = zeroize::Zeroizing::new(String::new());
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('x') => {
                            let h: String = chars.by_ref().take(2).collect();
                            let b = u8::from_str_radix(&h, 16).ok()?;
                            text.push(char::from(b));
                        }
                        Some(c) => text.push(c),
                        None => return None,
                    },
                    c => text.push(c),
                }
            }
            if !closed {
                return None;
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                text.push(c);
                chars.next();
            }
            let trimmed = text.trim_end().len();
            text.truncate(trimmed);
        }
        out.push(Field { text, quoted });
        if chars.next().is_none() {
            return Some(out);
        }
    }
}

/// `"IPv4","…` — every esp_sa row starts with its quoted protocol.
pub(crate) fn esp_row_shape(l: &str) -> bool {
    l.starts_with("\"IPv4\"") || l.starts_with("\"IPv6\"") || l.starts_with("\"*\"")
}

/// 8 comma-separated fields, the first a 16-digit SPI.
pub(crate) fn ikev2_row_shape(l: &str) -> bool {
    l.split(',').count() == 8
        && spi64(l.split(',').next().unwrap_or("").trim_matches('"')).is_some()
}

/// 2 fields, the first a 16-digit cookie.
pub(crate) fn ikev1_row_shape(l: &str) -> bool {
    let mut it = l.split(',');
    it.clone().count() == 2 && spi64(it.next().unwrap_or("").trim_matches('"')).is_some()
}

fn rows(sink: &mut Sink<'_>, text: &str, row: fn(&mut Sink<'_>, u32, &str), what: &str) {
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let line = (i + 1) as u32;
        let fits = match what {
            "ikev2" => l.split(',').count() == 8,
            "ikev1" => l.split(',').count() == 2,
            _ => true,
        };
        if fits {
            row(sink, line, l);
        } else {
            let want = if what == "ikev2" { 8 } else { 2 };
            sink.skip(
                line,
                format!(
                    "{} fields, an {what}_decryption_table row has {want}",
                    l.split(',').count()
                ),
            );
        }
    }
}

pub(crate) fn ikev2_table(sink: &mut Sink<'_>, text: &str) {
    rows(sink, text, ikev2_row, "ikev2");
}

pub(crate) fn ikev1_table(sink: &mut Sink<'_>, text: &str) {
    rows(sink, text, ikev1_row, "ikev1");
}

pub(crate) fn esp_table(sink: &mut Sink<'_>, text: &str) {
    rows(sink, text, esp_row, "esp");
}

/// A hex key field of the IKE tables: Wireshark wants bare hex; a `0x` or quotes are accepted
/// here (the bytes are unambiguous).
fn key_field(f: &Field, what: &str) -> Result<Secret, String> {
    hex(f.text.trim()).map_err(|e| format!("{what} is {e}"))
}

pub(crate) fn ikev2_row(sink: &mut Sink<'_>, line: u32, l: &str) {
    let Some(f) = fields(l) else {
        return sink.skip(line, "a quote is not closed".into());
    };
    if f.len() != 8 {
        return sink.skip(
            line,
            format!("{} fields, an ikev2_decryption_table row has 8", f.len()),
        );
    }
    let Some(spi_i) = spi64(&f[0].text) else {
        return sink.skip(line, "initiator's SPI must be 16 hex digits".into());
    };
    let Some(spi_r) = spi64(&f[1].text) else {
        return sink.skip(line, "responder's SPI must be 16 hex digits".into());
    };
    let Some(&(_, encr, key_len)) = IKEV2_ENCR.iter().find(|(n, ..)| *n == *f[4].text) else {
        return sink.skip(
            line,
            format!("unknown encryption algorithm {}", quoted(&f[4].text)),
        );
    };
    let integ_name: &str = &f[7].text;
    let integ = match IKEV2_INTEG.iter().find(|(n, _)| *n == integ_name) {
        Some(&(_, i)) => i,
        // Wireshark refuses an empty one; AEAD needs none, so the intent is clear
        None if integ_name.is_empty() && encr.is_aead() => Integ::None,
        None => {
            return sink.skip(
                line,
                format!("unknown integrity algorithm {}", quoted(integ_name)),
            );
        }
    };
    let mut keys = Vec::new();
    for (i, what) in [(2, "SK_ei"), (3, "SK_er"), (5, "SK_ai"), (6, "SK_ar")] {
        match key_field(&f[i], what) {
            Ok(k) => keys.push(k),
            Err(e) => return sink.skip(line, e),
        }
    }
    let want = key_len + encr.salt_len();
    for (k, what) in keys[..2].iter().zip(["SK_ei", "SK_er"]) {
        if k.len() != want {
            return sink.skip(
                line,
                format!(
                    "{}-byte {what} for {} needs {want}",
                    k.len(),
                    f[4].text
                        .trim_end_matches(|c| c != '[')
                        .trim_end_matches('[')
                        .trim()
                ),
            );
        }
    }
    if let Some(n) = integ.key_len() {
        for (k, what) in keys[2..].iter().zip(["SK_ai", "SK_ar"]) {
            if k.len() != n {
                return sink.skip(
                    line,
                    format!("{}-byte {what} for {} needs {n}", k.len(), integ.name()),
                );
            }
        }
    }
    let mut keys = keys.into_iter();
    let mut next = |keep: bool| keys.next().filter(|k| keep || !k.is_empty());
    let (ei, er) = (next(true), next(true));
    let has_integ = !matches!(integ, Integ::None);
    let (ai, ar) = (next(has_integ), next(has_integ));
    sink.ikev2(IkeV2Keys {
        spi_i,
        spi_r,
        encr: Some(encr),
        integ: Some(integ),
        sk_ei: ei,
        sk_er: er,
        sk_ai: ai,
        sk_ar: ar,
        sk_d: None,
        origin: sink.origin(line, Format::WiresharkIkev2),
    });
}

pub(crate) fn ikev1_row(sink: &mut Sink<'_>, line: u32, l: &str) {
    let Some(f) = fields(l) else {
        return sink.skip(line, "a quote is not closed".into());
    };
    let Some(cookie_i) = f.first().and_then(|c| spi64(&c.text)) else {
        return sink.skip(line, "initiator cookie must be 16 hex digits".into());
    };
    let key = match f.get(1).map(|k| key_field(k, "the key")) {
        Some(Ok(k)) => k,
        Some(Err(e)) => return sink.skip(line, e),
        None => return sink.skip(line, "no key".into()),
    };
    // DES 8, AES 16/24/32, 3DES 24: the only IKEv1 ciphers Wireshark (and we) decrypt
    if !matches!(key.len(), 8 | 16 | 24 | 32) {
        return sink.skip(
            line,
            format!(
                "{}-byte key: IKEv1 keys are 8 (DES), 24 (3DES) or 16/24/32 (AES) bytes",
                key.len()
            ),
        );
    }
    sink.ikev1(IkeV1Keys {
        cookie_i,
        cookie_r: None,
        key,
        encr: None,
        hash: None,
        origin: sink.origin(line, Format::WiresharkIkev1),
    });
}

/// An esp_sa key: `0x…` is hex (`0x` alone: empty), anything else the key's ASCII bytes.
fn esp_key(text: &str) -> Result<Secret, String> {
    if text.starts_with("0x") || text.starts_with("0X") {
        hex(text).map_err(|e| format!("key is {e}"))
    } else {
        Ok(Secret::new(text.as_bytes().to_vec()))
    }
}

fn address(text: &str) -> Result<Option<IpAddr>, String> {
    // `*` anywhere is Wireshark's wildcard (whole address or `10.0.0.*`): any address
    if text.contains('*') || text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{} is not an IP address", quoted(text)))
}

pub(crate) fn esp_row(sink: &mut Sink<'_>, line: u32, l: &str) {
    let Some(f) = fields(l) else {
        return sink.skip(line, "a quote is not closed".into());
    };
    if f.len() != 8 {
        return sink.skip(line, format!("{} fields, an esp_sa row has 8", f.len()));
    }
    if let Some(bare) = f.iter().find(|x| !x.quoted && !x.text.is_empty()) {
        let _ = bare;
        sink.warn(format!(
            "{}: unquoted esp_sa fields (Wireshark needs every field quoted)",
            sink.file
        ));
    }
    if !matches!(&**f[0].text, "IPv4" | "IPv6" | "*") {
        return sink.skip(
            line,
            format!(
                "protocol {} must be \"IPv4\" or \"IPv6\"",
                quoted(&f[0].text)
            ),
        );
    }
    let src = match address(&f[1].text) {
        Ok(a) => a,
        Err(e) => return sink.skip(line, format!("source {e}")),
    };
    let dst = match address(&f[2].text) {
        Ok(a) => a,
        Err(e) => return sink.skip(line, format!("destination {e}")),
    };
    let spi_text: &str = &f[3].text;
    let spi = if spi_text == "*" {
        None
    } else {
        match spi32(spi_text) {
            Some(s) if spi_text.starts_with("0x") || spi_text.starts_with("0X") => Some(s),
            Some(s) => {
                sink.warn(format!(
                    "{}:{line}: SPI without 0x: read as hex, but Wireshark never matches it",
                    sink.file
                ));
                Some(s)
            }
            None => return sink.skip(line, "SPI must be 0x and up to 8 hex digits".into()),
        }
    };
    let integ = match ESP_INTEG.iter().find(|(n, _)| *n == *f[6].text) {
        Some(&(_, i)) => i,
        None => {
            return sink.skip(
                line,
                format!("unknown authentication algorithm {}", quoted(&f[6].text)),
            );
        }
    };
    let encr_name: &str = &f[4].text;
    let encr = match ESP_ENCR.iter().find(|(n, _)| *n == encr_name) {
        Some(&(_, Some(e))) => e,
        // save-keys' deprecated GCM: the ICV length is in the "ANY n bit" column
        Some(&(_, None)) => match integ {
            Integ::Unchecked { icv } if matches!(icv, 8 | 12 | 16) => Encr::AesGcm { icv },
            Integ::None => Encr::AesGcm { icv: 16 },
            _ => {
                return sink.skip(
                    line,
                    "AES-GCM [RFC4106] needs \"ANY 64/96/128 bit authentication [no checking]\" for its ICV length".into(),
                );
            }
        },
        None if ESP_ENCR_UNSUPPORTED.contains(&encr_name) => {
            return sink.skip(
                line,
                format!("encryption {} is not supported", quoted(encr_name)),
            );
        }
        None => {
            return sink.skip(
                line,
                format!("unknown encryption algorithm {}", quoted(encr_name)),
            );
        }
    };
    let integ = if encr.is_aead() { Integ::None } else { integ };
    let enc_key = match esp_key(&f[5].text) {
        Ok(k) => k,
        Err(e) => return sink.skip(line, format!("encryption {e}")),
    };
    let auth_key = match esp_key(&f[7].text) {
        Ok(k) => k,
        Err(e) => return sink.skip(line, format!("authentication {e}")),
    };
    if !encr.key_len_ok(enc_key.len()) {
        let ascii = if f[5].text.starts_with("0x") || f[5].text.starts_with("0X") {
            ""
        } else {
            " (no 0x: Wireshark takes the text as ASCII bytes)"
        };
        return sink.skip(
            line,
            format!(
                "{}-byte key does not fit {}{}{ascii}",
                enc_key.len(),
                encr.name(),
                salt_note(encr)
            ),
        );
    }
    if let Some(n) = integ.key_len()
        && auth_key.len() != n
    {
        return sink.skip(
            line,
            format!(
                "{}-byte authentication key for {} needs {n}",
                auth_key.len(),
                integ.name()
            ),
        );
    }
    let k = EspKeys {
        spi: spi.unwrap_or(0),
        src,
        dst,
        encr,
        enc_key,
        integ,
        auth_key,
        esn: None,
        seq_hi: None,
        origin: sink.origin(line, Format::WiresharkEsp),
    };
    match spi {
        Some(_) => sink.esp(k),
        None => sink.esp_default(line, k),
    }
}

/// For a key-length message: what the key must include.
pub(crate) fn salt_note(encr: Encr) -> &'static str {
    match encr.salt_len() {
        4 => " (key + 4-byte salt)",
        3 => " (key + 3-byte salt)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::super::sink::Loaded;
    use super::*;
    use std::path::PathBuf;

    /// The public key files copied into the repository (captures/public/SOURCES.md).
    fn public(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("captures/public")
            .join(rel)
    }

    fn load_text(name: &str, text: &str) -> Loaded {
        let dir = super::super::scratch(name);
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        l
    }

    #[test]
    fn wireshark_test_suite_tables_load_every_row() {
        let l = load(&[public("wireshark-keys-only")]).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        assert_eq!(l.ring.esp.len(), 2);
        assert_eq!(l.ring.ikev1.len(), 3);
        let k = &l.ring.ikev1[&0xfafaeb49382a763c][0];
        assert_eq!(k.key.len(), 24);
        let k = &l.ring.ikev2[&(0x19ab98963486359f, 0x78f13157ccd3b3d8)];
        assert_eq!(k.encr, Some(Encr::TripleDes));
        assert_eq!(k.integ, Some(Integ::HmacSha1_160));
        let k = &l.ring.esp[&0x070883c2][0];
        assert_eq!(k.src, Some("192.168.0.1".parse().unwrap()));
        assert_eq!((k.encr, k.integ), (Encr::AesCbc, Integ::HmacSha1_96));
        // the GCM-8 and CCM rows of Wireshark's test table
        assert!(
            l.ring
                .ikev2
                .values()
                .any(|k| k.encr == Some(Encr::AesGcm { icv: 8 }))
        );
        assert!(
            l.ring
                .ikev2
                .values()
                .any(|k| matches!(k.encr, Some(Encr::AesCcm { icv: 12 })))
        );
    }

    #[test]
    fn tcpdump_suite_wireshark_tables_load() {
        let l = load(&[public("tcpdump/esp_sa.wireshark")]).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.esp[&0xd1234567][0];
        assert_eq!(k.src, None);
        assert_eq!(k.integ, Integ::Unchecked { icv: 12 });
        assert_eq!(k.enc_key.len(), 32);
        let l = load(&[public("tcpdump/ikev2pI2.pcap.ikev2_decryption_table")]).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let k = &l.ring.ikev2[&(0x0001020304050607, 0xc02e7a3031a03188)];
        assert_eq!(k.encr, Some(Encr::AesCbc));
        assert_eq!(k.sk_ai.as_ref().unwrap().len(), 20);
    }

    #[test]
    fn strongswan_save_keys_spellings_are_accepted() {
        let l = load_text(
            "esp_sa",
            "\"IPv4\",\"192.0.2.1\",\"192.0.2.2\",\"0x00000001\",\"AES-GCM [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f10111213\",\"ANY 128 bit authentication [no checking]\",\"0x\"\n\
             \"IPv4\",\"192.0.2.1\",\"192.0.2.2\",\"0x00000002\",\"TripleDes-CBC [RFC2451]\",\"0x000102030405060708090a0b0c0d0e0f1011121314151617\",\"HMAC-SHA-1-96 [RFC2404]\",\"0x000102030405060708090a0b0c0d0e0f10111213\"\n",
        );
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        assert_eq!(l.ring.esp[&1][0].encr, Encr::AesGcm { icv: 16 });
        assert_eq!(l.ring.esp[&1][0].integ, Integ::None);
        assert_eq!(l.ring.esp[&2][0].encr, Encr::TripleDes);
    }

    #[test]
    fn ascii_keys_wildcards_and_precise_reasons() {
        let l = load_text(
            "esp_sa",
            "# comment\n\
             \"IPv4\",\"*\",\"*\",\"0x00000001\",\"AES-CBC [RFC3602]\",\"0123456789abcdef\",\"NULL\",\"\"\n\
             \"IPv4\",\"*\",\"*\",\"*\",\"NULL\",\"0x\",\"HMAC-SHA-1-96 [RFC2404]\",\"0x000102030405060708090a0b0c0d0e0f10111213\"\n\
             \"IPv4\",\"*\",\"*\",\"0x00000003\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x000102030405060708090a0b0c0d0e0f\",\"NULL\",\"\"\n\
             \"IPv4\",\"*\",\"*\",\"0x00000004\",\"ROT13\x1b[2J\",\"0x00\",\"NULL\",\"\"\n",
        );
        // ASCII key: 16 characters = an AES-128 key
        assert_eq!(l.ring.esp[&1][0].enc_key.bytes(), b"0123456789abcdef");
        assert!(l.ring.esp_default.is_some());
        let why: Vec<&str> = l.report.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(
            why,
            [
                "16-byte key does not fit AES-GCM-16 (key + 4-byte salt)",
                "unknown encryption algorithm \"ROT13\\x1b[2J\""
            ]
        );
        let shown = l.report.to_string();
        assert!(!shown.contains('\x1b'));
        assert!(!shown.contains("0001020304"));
    }

    #[test]
    fn truncated_aead_key_in_the_ikev2_table() {
        let k32 = "00".repeat(32);
        let l = load_text(
            "ikev2_decryption_table",
            &format!(
                "0158b8fb90b7623d,13514610cea16160,{k32},{k32},\"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"\n\
                 0158b8fb90b7623d,13514610cea1616,{k32},{k32},\"AES-CBC-256 [RFC3602]\",,,\"NONE [RFC4306]\"\n"
            ),
        );
        let why: Vec<&str> = l.report.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(
            why,
            [
                "32-byte SK_ei for AES-GCM-256 with 16 octet ICV needs 36",
                "responder's SPI must be 16 hex digits"
            ]
        );
    }
}
