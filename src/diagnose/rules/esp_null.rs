//! `esp_null`: ESP that is not encrypted (NULL encryption, RFC 2410).
//!
//! ESP with the NULL cipher authenticates but does not hide anything: the inner packets cross
//! the network readable by anyone on the path. It is legitimate for testing and for
//! integrity-only policies, and a mistake everywhere else (a proposal list that allows `null`,
//! an `esp=null-sha1` left from debugging). Without keys it shows as an ESP payload whose
//! trailer has RFC 4303's default padding and a next header whose packet parses to exactly the
//! bytes before the padding (the decoder's test, after Wireshark's ESP-NULL heuristic). One
//! packet can pass by chance; an SA is reported when most of its packets pass with the same ICV
//! length.

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Cx, Emit, Rule, RuleDef};
use crate::event::Body;

pub const KIND: FindingKind = FindingKind {
    id: "esp_null",
    title: "ESP without encryption (NULL cipher)",
    default_severity: Severity::Warning,
    explanation: "The ESP payload is readable: the SA uses NULL encryption (RFC 2410), which authenticates the traffic but does not hide it. Anyone on the path reads the inner packets. Fine for an integrity-only policy on a trusted link, a mistake everywhere else.",
    remedy: "Remove 'null' from the ESP proposals on both peers (strongSwan esp_proposals / esp=, Libreswan esp=/phase2alg=, Cisco 'crypto ipsec transform-set ... esp-null') and use AES-GCM (aes256gcm16) or AES-CBC with SHA-256; rekey or restart the tunnel so the new proposal is used.",
};

/// Packets of an SA that must read as cleartext, with the same ICV length, before it is said:
/// ciphertext passes the test about once in tens of thousands of packets.
const MIN_PACKETS: u64 = 5;
/// And the share of the SA's packets that must (a chance pass on an encrypted SA is rare and
/// isolated).
const MIN_SHARE: f64 = 0.9;

pub struct EspNull;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(EspNull),
};

impl Rule for EspNull {
    fn event(&mut self, cx: &Cx<'_>, out: &mut Emit<'_>) {
        let Body::Esp(e) = &cx.ev.body else { return };
        if e.cleartext.is_none() {
            return;
        }
        let (Some(k), Some(pair)) = (cx.up.esp.as_ref(), cx.up.pair) else {
            return;
        };
        let Some(sa) = cx.t.esp(k) else { return };
        let Some(first) = sa.cleartext_seen else {
            return;
        };
        if sa.cleartext < MIN_PACKETS
            || (sa.cleartext as f64) < MIN_SHARE * sa.packets as f64
            || out.already(KIND.id, pair, u64::from(e.spi))
        {
            return;
        }
        let what = match (first.proto, first.ports) {
            (1 | 58, (t, c)) => crate::event::names::icmp_label(first.proto == 58, t as u8, c as u8),
            (6, (s, d)) => format!("TCP {s} -> {d}"),
            (17, (s, d)) => format!("UDP {s} -> {d}"),
            (p, _) => format!("IP protocol {p}"),
        };
        let mode = match first.next_header {
            4 | 41 => "tunnel mode: whole inner IP packets",
            _ => "transport mode",
        };
        let summary = format!(
            "ESP SPI 0x{:08x} from {} to {} is not encrypted: {} of its {} packets carry their payload in the clear ({mode}; the first: {what}), with a {}-byte ICV after it",
            e.spi, cx.ev.flow.src, cx.ev.flow.dst, sa.cleartext, sa.packets, first.icv
        );
        out.push(
            u64::from(e.spi),
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(cx.ev.flow.src, cx.ev.flow.dst),
                (sa.first_ts, cx.ev.pkt.ts),
                summary,
            )
            .frames([sa.first_frame, cx.ev.pkt.frame]),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testutil::*;
    use crate::event::{Body, Cleartext};

    fn esp_null(s: &mut Script, ms: u64, seq: u32, clear: bool) {
        let e = s.esp(ms, A, B, 0x71, seq);
        if let Body::Esp(x) = &mut e.body {
            x.cleartext = clear.then_some(Cleartext {
                icv: 12,
                next_header: 4,
                proto: 1,
                ports: (8, 0),
            });
        }
    }

    #[test]
    fn an_sa_whose_packets_read_as_cleartext() {
        let mut s = Script::default();
        for i in 0..6u32 {
            esp_null(&mut s, u64::from(i) * 1000, i + 1, true);
        }
        let f: Vec<_> = s.all().into_iter().filter(|f| f.kind == "esp_null").collect();
        assert_eq!(f.len(), 1);
        assert!(f[0].summary.contains("5 of its 5 packets") && f[0].summary.contains("the first: ICMP echo request)"), "{}", f[0].summary);
    }

    /// A chance pass now and then on an encrypted SA is not reported.
    #[test]
    fn an_odd_chance_pass_is_not() {
        let mut s = Script::default();
        for i in 0..200u32 {
            esp_null(&mut s, u64::from(i) * 10, i + 1, i % 40 == 0);
        }
        assert!(!kinds(&s.all()).contains(&"esp_null"));
    }
}
