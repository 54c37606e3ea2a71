//! `group_traffic`: ESP or AH sent to a multicast group or the limited broadcast address, or
//! one SPI used in both directions between two unicast peers.
//!
//! Such traffic is protected by a group SA: one SPI shared by every member and used by each
//! sender, with no partner SA the other way. Group SAs are keyed by GDOI (RFC 6407, its own
//! registration exchange on UDP 848, which this tool does not decode) or manually (OSPFv3
//! authentication with AH or ESP, RFC 4552, sends to ff02::5/ff02::6). Between two unicast
//! peers the sign of a group SA is the SPI: an IKE-negotiated pair of SAs has one SPI per
//! direction, each chosen by its receiver (RFC 7296 §1.3), while a group SA's one SPI appears
//! both ways (two receivers picking the same random 32-bit SPI is a 1 in 2^32 chance).
//! Information, not a fault: it tells the operator why the one-way rules leave this pair alone.

use std::net::IpAddr;

use crate::diagnose::finding::{Confidence, Finding, FindingKind, Peers, Severity};
use crate::diagnose::rule::{Emit, Rule, RuleDef};
use crate::track::Pair;

pub const KIND: FindingKind = FindingKind {
    id: "group_traffic",
    title: "Group SA traffic (multicast, or one SPI both ways)",
    default_severity: Severity::Info,
    explanation: "ESP or AH goes to a multicast group (or the broadcast address), or one SPI is used in both directions between two peers. This is group traffic on a group SA (GDOI, RFC 6407, or manual keys such as OSPFv3 authentication, RFC 4552): every member shares one SPI and there is no return direction, so it is not a one-way tunnel.",
    remedy: "Nothing to do. If members do not receive the group traffic, check the group key server (GDOI on UDP 848) and that multicast is routed to them.",
};

/// A destination no single peer owns: IPv4 224.0.0.0/4 and 255.255.255.255, IPv6 ff00::/8. A
/// subnet's directed broadcast (RFC 919) looks like any unicast address without the prefix
/// length, which a capture does not carry, so it is not recognised.
pub fn is_group(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

pub struct GroupTraffic;

pub const RULE: RuleDef = RuleDef {
    kinds: &[KIND],
    make: || Box::new(GroupTraffic),
};

impl Rule for GroupTraffic {
    fn pair_closed(&mut self, p: &Pair, out: &mut Emit<'_>) {
        let group = match (is_group(p.key.a), is_group(p.key.b)) {
            (false, true) => 1,
            (true, false) => 0,
            (false, false) => return shared_spi(p, out),
            (true, true) => return,
        };
        let sender = 1 - group;
        let (esp, ah) = (p.esp_packets[sender], p.ah_packets[sender]);
        let proto = match (esp > 0, ah > 0) {
            (false, false) => return,
            (true, false) => format!("{esp} ESP packets"),
            (false, true) => format!("{ah} AH packets"),
            (true, true) => format!("{esp} ESP and {ah} AH packets"),
        };
        let dst = p.addr(group);
        let what = match dst {
            IpAddr::V4(v4) if v4.is_broadcast() => "the broadcast address",
            _ => "the multicast group",
        };
        let summary = format!(
            "{proto} from {} to {what} {dst}: group traffic on a group SA (no return direction), not a one-way tunnel",
            p.addr(sender)
        );
        out.push(
            0,
            Finding::new(
                &KIND,
                Confidence::Observed,
                Peers::new(p.addr(sender), dst),
                (p.first_ts, p.last_ts),
                summary,
            )
            .frames([p.first_frame, p.last_frame]),
        );
    }
}

/// One SPI of one protocol sent by both peers of a unicast pair.
fn shared_spi(p: &Pair, out: &mut Emit<'_>) {
    let Some((c, back)) = p.children.iter().find_map(|c| {
        p.children
            .iter()
            .find(|r| r.spi == c.spi && r.ah == c.ah && r.src != c.src)
            .map(|r| (c, r))
    }) else {
        return;
    };
    let proto = if c.ah { "AH" } else { "ESP" };
    let summary = format!(
        "{proto} SPI 0x{:08x} is used in both directions between {} and {} ({} and {} packets): one SPI for both senders is a shared SA (group keys from GDOI, RFC 6407, or manual keys as in OSPFv3, RFC 4552), not two broken SAs",
        c.spi, c.src, back.src, c.packets, back.packets
    );
    out.push(
        1,
        Finding::new(
            &KIND,
            Confidence::Inferred,
            Peers::new(c.src, back.src),
            (c.first_ts.min(back.first_ts), c.last_ts.max(back.last_ts)),
            summary,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::is_group;
    use crate::diagnose::testutil::*;

    #[test]
    fn group_addresses() {
        for g in ["224.0.0.5", "239.255.255.250", "255.255.255.255", "ff02::5", "ff0e::1"] {
            assert!(is_group(ip(g)), "{g}");
        }
        for u in [A, B, "192.0.2.255", "fe80::1", "2001:db8::1"] {
            assert!(!is_group(ip(u)), "{u}");
        }
    }

    #[test]
    fn ah_to_multicast_is_described_once() {
        let mut s = Script::default();
        for i in 0..10u32 {
            s.ah(u64::from(i) * 5000, "fe80::1", "ff02::5", 0x100, i + 1);
        }
        let all = s.all();
        let g: Vec<_> = all.iter().filter(|f| f.kind == "group_traffic").collect();
        assert_eq!(g.len(), 1);
        assert!(
            g[0].summary.starts_with("10 AH packets from fe80::1 to the multicast group ff02::5"),
            "{}",
            g[0].summary
        );
        assert_quiet(&all);
        // Unicast ESP is not group traffic.
        let mut h = Script::default();
        healthy_v2(&mut h);
        assert!(!kinds(&h.all()).contains(&"group_traffic"));
    }

    /// A GDOI group SA between two unicast members: one SPI both ways.
    #[test]
    fn one_spi_both_ways_is_a_group_sa() {
        let mut s = Script::default();
        for i in 0..5u32 {
            s.esp(u64::from(i) * 1000, A, B, 0x5a5a, i + 1);
            s.esp(u64::from(i) * 1000 + 10, B, A, 0x5a5a, i + 1);
        }
        let all = s.all();
        let g: Vec<_> = all.iter().filter(|f| f.kind == "group_traffic").collect();
        assert_eq!(g.len(), 1);
        assert!(
            g[0].summary.starts_with("ESP SPI 0x00005a5a is used in both directions"),
            "{}",
            g[0].summary
        );
        assert_quiet(&all);
    }
}
