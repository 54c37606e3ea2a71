//! A tcpdump filter expression applied to packets read from a file, as `tcpdump -r FILE EXPR`
//! does: libpcap compiles it for the packet's link type (on a "dead" capture, no interface
//! needed) and its BPF interpreter runs it on each packet. A pcapng file can mix link types,
//! so there is one program per link type, compiled when its first packet comes.

use std::collections::HashMap;

use pcap::{BpfProgram, Capture, Linktype};

use super::RawPacket;

pub struct OfflineFilter {
    expression: String,
    /// `None`: the expression does not compile for that link type (said once on standard
    /// error); its packets never match, as none of them could be tested.
    programs: HashMap<u32, Option<BpfProgram>>,
    source: String,
}

impl OfflineFilter {
    /// Checks the expression's syntax up front (on Ethernet, which every primitive but the
    /// link-specific ones accepts), so a typo is a usage error before anything is read.
    pub fn check(expression: &str) -> Result<(), String> {
        compile(LINKTYPE_ETHERNET, expression).map(|_| ())
    }

    pub fn new(expression: &str, source: &str) -> Self {
        OfflineFilter {
            expression: expression.to_string(),
            programs: HashMap::new(),
            source: source.to_string(),
        }
    }

    /// Whether the packet passes. libpcap is handed the captured bytes as the packet: a
    /// `len`/`greater`/`less` test on a packet cut by the snap length sees the captured
    /// length, not the length on the wire (the pcap crate exposes no other entry point).
    pub fn matches(&mut self, raw: &RawPacket<'_>) -> bool {
        let program = self.programs.entry(raw.linktype).or_insert_with(|| {
            compile(raw.linktype, &self.expression)
                .map_err(|e| {
                    eprintln!(
                        "{}: frame {}: the filter does not apply to link type {}: {e}; its packets are left out",
                        self.source, raw.frame, raw.linktype
                    );
                })
                .ok()
        });
        program.as_ref().is_some_and(|p| p.filter(raw.data))
    }
}

const LINKTYPE_ETHERNET: u32 = 1;

fn compile(linktype: u32, expression: &str) -> Result<BpfProgram, String> {
    let dead = Capture::dead(Linktype(linktype_to_dlt(linktype) as i32))
        .map_err(|e| format!("libpcap: {e}"))?;
    dead.compile(expression, true).map_err(|e| match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    })
}

/// Files carry LINKTYPE_ values, libpcap's compiler wants DLT_ ones; they differ for raw IP
/// (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux).
fn linktype_to_dlt(linktype: u32) -> u32 {
    match linktype {
        101 => 12,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Timestamp;

    fn raw(linktype: u32, data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            frame: 1,
            ts: Timestamp::new(0, 0),
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            linktype,
            data,
        }
    }

    /// An IPv4/UDP header from 192.0.2.1:500 to 192.0.2.2:500, no payload.
    fn ipv4_udp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p.extend_from_slice(&[0x01, 0xf4, 0x01, 0xf4, 0, 8, 0, 0]);
        p
    }

    #[test]
    fn one_program_per_link_type() {
        let ip = ipv4_udp();
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let mut f = OfflineFilter::new("udp port 500 and host 192.0.2.1", "t");
        assert!(f.matches(&raw(101, &ip)));
        assert!(f.matches(&raw(1, &eth)));
        let mut g = OfflineFilter::new("host 192.0.2.9", "t");
        assert!(!g.matches(&raw(101, &ip)));
        assert!(!g.matches(&raw(1, &eth)));
        assert_eq!(g.programs.len(), 2);
    }

    #[test]
    fn syntax_errors_are_caught_before_reading() {
        assert!(OfflineFilter::check("udp port 500").is_ok());
        let e = OfflineFilter::check("udp prot 500").unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
    }

    #[test]
    fn an_expression_foreign_to_a_link_type_matches_nothing_there() {
        let ip = ipv4_udp();
        let mut f = OfflineFilter::new("ether host 00:11:22:33:44:55", "t");
        assert!(!f.matches(&raw(101, &ip)));
        assert!(f.programs[&101].is_none());
    }
}
