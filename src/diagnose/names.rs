//! Names for code points in finding text.
//!
//! Thin wrappers over the decoder's IANA tables (`decode::ike::names`) that fall back to the
//! number, so finding text never shows a bare `None`.

use crate::event::codes::{DhGroup, TransformType};
use crate::event::ike::{Proposal, Transform};
use crate::event::names as ike_names;
use crate::track::ike::{Exchange, IkeSa};

/// "MODP_1024 (group 2)": the name and the number operators configure.
pub fn dh_group(g: u16) -> String {
    DhGroup(g).label()
}

/// IKEv2 transform (type, id).
pub fn v2_transform(t: TransformType, id: u16) -> String {
    if t == TransformType::KE {
        return dh_group(id);
    }
    ike_names::transform_id_name(t.0, id)
        .map_or_else(|| format!("transform {}/{id}", t.0), str::to_string)
}

/// IKEv1 phase-1 attribute value (RFC 2409 Appendix A).
pub fn v1_p1(attr: u16, v: u64) -> String {
    if attr == 4 {
        return u16::try_from(v).map_or_else(|_| format!("group {v}"), dh_group);
    }
    ike_names::v1_attribute_value_name(1, attr, v)
        .map_or_else(|| format!("attr {attr}={v}"), str::to_string)
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
    let enc = ike_names::v1_transform_id_name(protocol, t.id)
        .map_or_else(|| format!("transform {}", t.id), str::to_string);
    let auth = t
        .attribute(5)
        .and_then(|v| v.number())
        .and_then(|v| ike_names::v1_attribute_value_name(2, 5, v))
        .map(|n| format!("/{n}"))
        .unwrap_or_default();
    format!("{enc}{auth}")
}

pub fn proposals(version: u8, ps: &[Proposal]) -> String {
    ps.iter()
        .map(|p| format!("#{} {}", p.number, proposal(version, p)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "IKE_AUTH (message 1)" for summaries.
pub fn exchange_label(sa: &IkeSa, x: &Exchange) -> String {
    format!("{} (message ID {})", x.exchange.label(sa.version), x.msg_id)
}

/// Formats a list of intervals as "0.5 s, 1.0 s, 2.0 s".
pub fn fmt_intervals(iv: &[f64]) -> String {
    iv.iter()
        .map(|d| format!("{d:.1} s"))
        .collect::<Vec<_>>()
        .join(", ")
}
