//! Names for code points in finding text.
//!
//! Falls back to the number when the decoder's name tables (`decode::ike::names`) do not know
//! a value; a few names the rules' own text relies on are spelled here.

use crate::decode::ike::{Proposal, Transform};

pub fn notify(version: u8, t: u16) -> String {
    let known = match (version, t) {
        (_, 4) => Some("INVALID_IKE_SPI"),
        (_, 5) => Some("INVALID_MAJOR_VERSION"),
        (2, 7) => Some("INVALID_SYNTAX"),
        (2, 9) => Some("INVALID_MESSAGE_ID"),
        (_, 11) => Some("INVALID_SPI"),
        (_, 14) => Some("NO_PROPOSAL_CHOSEN"),
        (_, 16) if version == 1 => Some("PAYLOAD_MALFORMED"),
        (_, 17) => Some(if version == 2 {
            "INVALID_KE_PAYLOAD"
        } else {
            "INVALID_KEY_INFORMATION"
        }),
        (1, 18) => Some("INVALID_ID_INFORMATION"),
        (1, 23) => Some("INVALID_HASH_INFORMATION"),
        (_, 24) => Some("AUTHENTICATION_FAILED"),
        (2, 34) => Some("SINGLE_PAIR_REQUIRED"),
        (2, 35) => Some("NO_ADDITIONAL_SAS"),
        (2, 36) => Some("INTERNAL_ADDRESS_FAILURE"),
        (2, 37) => Some("FAILED_CP_REQUIRED"),
        (2, 38) => Some("TS_UNACCEPTABLE"),
        (2, 39) => Some("INVALID_SELECTORS"),
        (2, 43) => Some("TEMPORARY_FAILURE"),
        (2, 44) => Some("CHILD_SA_NOT_FOUND"),
        (2, 16390) => Some("COOKIE"),
        (2, 16407) => Some("REDIRECT"),
        _ => None,
    };
    known.map_or_else(|| format!("notify {t}"), str::to_string)
}

pub fn exchange(version: u8, x: u8) -> String {
    let known = match (version, x) {
        (2, 34) => Some("IKE_SA_INIT"),
        (2, 35) => Some("IKE_AUTH"),
        (2, 36) => Some("CREATE_CHILD_SA"),
        (2, 37) => Some("INFORMATIONAL"),
        (1, 2) => Some("Main Mode"),
        (1, 4) => Some("Aggressive Mode"),
        (1, 5) => Some("Informational"),
        (1, 6) => Some("Transaction (Mode Config)"),
        (1, 32) => Some("Quick Mode"),
        _ => None,
    };
    known.map_or_else(|| format!("exchange {x}"), str::to_string)
}

pub fn dh_group(g: u16) -> String {
    let known = match g {
        1 => "MODP-768 (group 1)",
        2 => "MODP-1024 (group 2)",
        5 => "MODP-1536 (group 5)",
        14 => "MODP-2048 (group 14)",
        15 => "MODP-3072 (group 15)",
        16 => "MODP-4096 (group 16)",
        19 => "ECP-256 (group 19)",
        20 => "ECP-384 (group 20)",
        21 => "ECP-521 (group 21)",
        22 => "MODP-1024/160 (group 22)",
        31 => "Curve25519 (group 31)",
        _ => return format!("group {g}"),
    };
    known.to_string()
}

/// IKEv2 transform (type, id).
pub fn v2_transform(t: u8, id: u16) -> String {
    let known = match (t, id) {
        (1, 2) => "DES",
        (1, 3) => "3DES",
        (1, 11) => "NULL",
        (1, 12) => "AES-CBC",
        (1, 13) => "AES-CTR",
        (1, 18) => "AES-GCM-8",
        (1, 19) => "AES-GCM-12",
        (1, 20) => "AES-GCM-16",
        (1, 28) => "ChaCha20-Poly1305",
        (2, 1) => "PRF-HMAC-MD5",
        (2, 2) => "PRF-HMAC-SHA1",
        (2, 4) => "PRF-AES128-XCBC",
        (2, 5) => "PRF-HMAC-SHA2-256",
        (2, 6) => "PRF-HMAC-SHA2-384",
        (2, 7) => "PRF-HMAC-SHA2-512",
        (3, 1) => "HMAC-MD5-96",
        (3, 2) => "HMAC-SHA1-96",
        (3, 5) => "AES-XCBC-96",
        (3, 12) => "HMAC-SHA2-256-128",
        (3, 13) => "HMAC-SHA2-384-192",
        (3, 14) => "HMAC-SHA2-512-256",
        (4, g) => return dh_group(g),
        (5, 0) => "no ESN",
        (5, 1) => "ESN",
        _ => return format!("transform {t}/{id}"),
    };
    known.to_string()
}

/// IKEv1 phase-1 attribute value (RFC 2409 Appendix A).
pub fn v1_p1(attr: u16, v: u64) -> String {
    let known = match (attr, v) {
        (1, 1) => "DES-CBC",
        (1, 5) => "3DES-CBC",
        (1, 7) => "AES-CBC",
        (2, 1) => "MD5",
        (2, 2) => "SHA1",
        (2, 4) => "SHA2-256",
        (2, 5) => "SHA2-384",
        (2, 6) => "SHA2-512",
        (3, 1) => "PSK",
        (3, 3) => "RSA-SIG",
        (3, 65001) => "XAUTH-PSK",
        (4, g) => return dh_group(g as u16),
        _ => return format!("attr {attr}={v}"),
    };
    known.to_string()
}

/// One proposal as a short line: "IKE: AES-CBC-256, PRF-HMAC-SHA2-256, …".
pub fn proposal(version: u8, p: &Proposal) -> String {
    let proto = match p.protocol {
        1 => "IKE",
        2 => "AH",
        3 => "ESP",
        _ => "?",
    };
    let parts: Vec<String> = p
        .transforms
        .iter()
        .map(|t| transform(version, p.protocol, t))
        .collect();
    format!("{proto}: {}", parts.join(", "))
}

fn transform(version: u8, protocol: u8, t: &Transform) -> String {
    if version == 2 {
        let mut s = v2_transform(t.transform_type, t.id);
        if let Some(kl) = t.attribute(14).and_then(|v| v.number()) {
            s.push_str(&format!("-{kl}"));
        }
        return s;
    }
    if protocol == 1 {
        let parts: Vec<String> = [1u16, 14, 2, 3, 4]
            .iter()
            .filter_map(|&a| t.attribute(a).and_then(|v| v.number()).map(|v| (a, v)))
            .map(|(a, v)| {
                if a == 14 {
                    format!("{v}-bit")
                } else {
                    v1_p1(a, v)
                }
            })
            .collect();
        return parts.join("/");
    }
    let enc = match t.id {
        2 => "DES".to_string(),
        3 => "3DES".to_string(),
        11 => "NULL".to_string(),
        12 => "AES-CBC".to_string(),
        id => format!("transform {id}"),
    };
    let auth = match t.attribute(5).and_then(|v| v.number()) {
        Some(1) => "/HMAC-MD5",
        Some(2) => "/HMAC-SHA1",
        Some(5) => "/HMAC-SHA2-256",
        _ => "",
    };
    format!("{enc}{auth}")
}

pub fn proposals(version: u8, ps: &[Proposal]) -> String {
    ps.iter()
        .map(|p| format!("#{} {}", p.number, proposal(version, p)))
        .collect::<Vec<_>>()
        .join("; ")
}
