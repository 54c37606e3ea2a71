//! `nat_detected`: a NAT sits between the peers, and which side it hides.
//!
//! From the NAT-D hashes recomputed against the addresses on the wire (see
//! [`crate::track::nat`]); supported by the float of IKE to UDP 4500 and ESP in UDP
//! (RFC 3948). Information: NAT-T handles it, but it explains keepalives, port changes and
//! MTU overhead.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;

pub const KIND: FindingKind = FindingKind {
    id: "nat_detected",
    title: "NAT between the peers",
    default_severity: Severity::Info,
    explanation: "The NAT detection hashes exchanged in IKE do not match the addresses and ports on the wire: a NAT rewrites one peer's address. IKE then moves to UDP 4500 and ESP is encapsulated in UDP (NAT-T).",
    remedy: "Nothing to fix if the tunnel works. Keep NAT-T keepalives enabled on the side behind NAT, allow UDP 4500, and account for the 8 extra bytes of UDP encapsulation in the tunnel MTU.",
};

pub struct NatDetected;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(NatDetected),
};

impl Rule for NatDetected {
    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        let behind: Vec<usize> = (0..2).filter(|&s| p.nat_behind[s] == Some(true)).collect();
        let checked = p.nat_behind.iter().any(|v| v.is_some());
        let mut parts = Vec::new();
        let confidence;
        let (a, b);
        if let Some(&s) = behind.first() {
            confidence = Confidence::Observed;
            a = p.addr(s);
            b = p.addr(1 - s);
            if behind.len() == 2 {
                parts.push("the NAT-D hashes match neither peer's address and port as seen here: NAT on both sides, or the capture's addresses were rewritten".to_string());
            } else {
                parts.push(format!(
                    "{a} is behind NAT (the NAT-D hash for it does not match its address and port as seen here, IKE port {})",
                    p.ike_ports[s]
                ));
            }
        } else if !checked
            && p.esp_in_udp
            && p.ike_on_4500
            && p.ike_ports.iter().any(|&x| x != 500 && x != 4500 && x != 0)
        {
            // No hashes in this capture, but NAT-T in use with a translated source port.
            confidence = Confidence::Inferred;
            let s = if p.ike_ports[0] != 500 && p.ike_ports[0] != 4500 {
                0
            } else {
                1
            };
            a = p.addr(s);
            b = p.addr(1 - s);
            parts.push(format!(
                "{a} uses IKE source port {} rather than 500/4500 (a NAT-assigned port, or NAT-T forced on), with IKE on 4500 and ESP in UDP; the capture carries no NAT-D hashes to say more",
                p.ike_ports[s]
            ));
        } else {
            return;
        }
        if let Some(f) = p.float_frame {
            parts.push(format!("IKE floated from UDP 500 to 4500 (frame {f})"));
        } else if p.ike_on_4500 {
            parts.push("IKE runs on UDP 4500".to_string());
        }
        if p.esp_in_udp {
            parts.push("ESP is UDP-encapsulated".to_string());
        }
        let frames: Vec<u64> = p.nat_frames.iter().copied().chain(p.float_frame).collect();
        out.push(
            0,
            Finding::new(
                &KIND,
                confidence,
                Peers::new(a, b),
                (p.first_ts, p.last_ts),
                parts.join("; "),
            )
            .severity(Severity::Info)
            .frames(frames),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::track::nat::natd_hash;

    #[test]
    fn source_hash_mismatch_names_the_natted_side() {
        let mut s = Script::default();
        let private = ip("10.0.0.5");
        let src = natd_hash(0x1111, 0, private, 500);
        let dst = natd_hash(0x1111, 0, ip(B), 500);
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
                .with(notify(N::NAT_DETECTION_SOURCE_IP, &src))
                .with(notify(N::NAT_DETECTION_DESTINATION_IP, &dst)),
        );
        let f = s
            .all()
            .into_iter()
            .find(|f| f.kind == "nat_detected")
            .expect("reported");
        assert_eq!(f.peers.a, ip(A), "{}", f.summary);
        assert!(f.summary.contains("behind NAT"));
    }

    #[test]
    fn matching_hashes_are_quiet() {
        let mut s = Script::default();
        let src = natd_hash(0x1111, 0, ip(A), 500);
        let dst = natd_hash(0x1111, 0, ip(B), 500);
        s.ike(
            0,
            A,
            B,
            Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
                .with(notify(N::NAT_DETECTION_SOURCE_IP, &src))
                .with(notify(N::NAT_DETECTION_DESTINATION_IP, &dst)),
        );
        assert!(!kinds(&s.all()).contains(&"nat_detected"));
    }
}
