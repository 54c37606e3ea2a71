//! `--peer`, `--spi` and `--finding`: narrowing a file run to what the user asks about. The
//! first pass that resolves `--spi` and `--finding` is [`super::pipeline::resolve_selection`].
//!
//! Narrowing happens on events, right after decoding: an event that is not selected is never
//! tracked, diagnosed, printed or written with `-w`, so findings and tunnels narrow with the
//! packets (the decoder still counts every packet in the summary).
//!
//! `--spi` and `--finding` name something whose packets come before it is known (the IKE
//! negotiation before an ESP SPI flows, the packets before a finding is concluded), so they
//! take a first pass over the file that finds the peer pairs concerned; the run proper then
//! keeps those pairs. A tunnel is its pair of addresses: an SA's packets and its tunnel's are
//! the pair's.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::event::{Body, Event};

/// What the command line asked to narrow to.
#[derive(Clone, Debug, Default)]
pub struct SelectArgs {
    /// `--peer`: either side of a pair (several: any of them).
    pub peers: Vec<IpAddr>,
    /// `--spi`: an IKE SPI or IKEv1 cookie (either of the pair), or an ESP/AH SPI.
    pub spi: Option<u64>,
    /// `--finding`: a finding kind from the catalogue.
    pub finding: Option<String>,
}

impl SelectArgs {
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.spi.is_none() && self.finding.is_none()
    }

    /// Whether a first pass over the input is needed (impossible on standard input).
    pub fn needs_first_pass(&self) -> bool {
        self.spi.is_some() || self.finding.is_some()
    }
}

/// The resolved selection: events pass when they concern one of `peers` (if any are given)
/// and one of `pairs` (if a first pass produced them).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    peers: Vec<IpAddr>,
    pairs: Option<HashSet<(IpAddr, IpAddr)>>,
    /// `--finding`: only findings of this kind are reported.
    pub finding: Option<String>,
}

pub(super) fn pair(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The addresses an event is about: its own flow, and for an ICMP error the flow it quotes
/// (a router's error about a tunnel is the tunnel's).
fn flows(ev: &Event) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
    let quoted = match &ev.body {
        Body::IcmpError(e) => e.quoted.flow.as_ref().map(|f| (f.src, f.dst)),
        _ => None,
    };
    std::iter::once((ev.flow.src, ev.flow.dst)).chain(quoted)
}

impl Selection {
    /// `--peer` and `--finding` as given; `--spi` and `--finding` add the pairs they resolve
    /// to through [`Selection::narrow_to`].
    pub fn new(args: &SelectArgs) -> Self {
        Selection {
            peers: args.peers.clone(),
            pairs: None,
            finding: args.finding.clone(),
        }
    }

    /// Keeps only events about these pairs (and those already kept, when called again).
    pub fn narrow_to(&mut self, pairs: HashSet<(IpAddr, IpAddr)>) {
        self.pairs = Some(match self.pairs.take() {
            Some(before) => before.intersection(&pairs).copied().collect(),
            None => pairs,
        });
    }

    pub fn is_everything(&self) -> bool {
        self.peers.is_empty() && self.pairs.is_none()
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let peer_ok = self.peers.is_empty()
            || flows(ev).any(|(s, d)| self.peers.contains(&s) || self.peers.contains(&d));
        let pair_ok = self
            .pairs
            .as_ref()
            .is_none_or(|pairs| flows(ev).any(|(s, d)| pairs.contains(&pair(s, d))));
        peer_ok && pair_ok
    }

    /// Drops the events from `from` on that are not selected; whether any remained.
    pub fn retain(&self, events: &mut Vec<Event>, from: usize) -> bool {
        if self.is_everything() {
            return events.len() > from;
        }
        let mut i = from;
        while i < events.len() {
            if self.matches(&events[i]) {
                i += 1;
            } else {
                events.remove(i);
            }
        }
        events.len() > from
    }
}

/// Whether an event belongs to the SA with this SPI: an IKE message of that IKE SA, an
/// ESP/AH packet with that SPI, or an ICMP error quoting either.
pub(super) fn carries_spi(ev: &Event, spi: u64) -> bool {
    match &ev.body {
        Body::Ike(m) => m.ispi == spi || (m.rspi == spi && spi != 0),
        Body::Esp(e) => u64::from(e.spi) == spi,
        Body::Ah(a) => u64::from(a.spi) == spi,
        Body::IcmpError(e) => {
            e.quoted.esp_spi.is_some_and(|s| u64::from(s) == spi)
                || e.quoted
                    .ike_spis
                    .is_some_and(|(i, r)| i == spi || (r == spi && spi != 0))
        }
        _ => false,
    }
}

/// `--spi`: hex, with or without `0x`, up to 16 digits.
pub fn parse_spi(text: &str) -> Result<u64, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 {
        return Err(format!(
            "'{text}': give an SPI in hex (8 digits for ESP, 16 for IKE)"
        ));
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("'{text}': not hexadecimal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spis_parse_with_or_without_prefix() {
        assert_eq!(parse_spi("c1a2b3d4"), Ok(0xc1a2_b3d4));
        assert_eq!(parse_spi("0xA88875A8198992A6"), Ok(0xa888_75a8_1989_92a6));
        assert!(parse_spi("").is_err());
        assert!(parse_spi("0x").is_err());
        assert!(parse_spi("12345678901234567").is_err());
        assert!(parse_spi("spi").is_err());
    }
}
