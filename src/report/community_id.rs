//! Community ID flow hashes (Corelight's spec, version 1), so ike-sniff's lines join with
//! Zeek's and Suricata's for the same flow: `1:` + base64(sha1(seed ‖ saddr ‖ daddr ‖ proto ‖
//! 0 ‖ sport ‖ dport)), all in network byte order, the endpoints ordered so both directions
//! hash alike. ICMP and ICMPv6 use the message type and its reply's type (or the code, for a
//! message with no reply, which is then one-way and not reordered) in place of ports; protocols
//! without ports (ESP, AH) hash the addresses and protocol only.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;
const SCTP: u8 = 132;

/// ICMP request/reply type pairs (the spec's table).
fn icmp_counterpart(v6: bool, t: u16) -> Option<u16> {
    let pairs: &[(u16, u16)] = if v6 {
        &[
            (128, 129),
            (133, 134),
            (135, 136),
            (130, 131),
            (139, 140),
            (144, 145),
        ]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == t {
            Some(b)
        } else if b == t {
            Some(a)
        } else {
            None
        }
    })
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The Community ID of a flow. `ports`: TCP/UDP/SCTP ports, or ICMP (type, code); `None` for
/// a protocol without them.
pub fn community_id_v1(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
) -> String {
    let (mut src, mut dst) = (addr_bytes(src), addr_bytes(dst));
    let mut ports = match (proto, ports) {
        (TCP | UDP | SCTP | ICMP | ICMPV6, Some(p)) => Some(p),
        _ => None,
    };
    let mut one_way = false;
    if let (ICMP | ICMPV6, Some((t, code))) = (proto, ports) {
        match icmp_counterpart(proto == ICMPV6, t) {
            Some(reply) => ports = Some((t, reply)),
            None => {
                ports = Some((t, code));
                one_way = true;
            }
        }
    }
    let ordered = src < dst || (src == dst && ports.is_none_or(|(s, d)| s <= d));
    if !one_way && !ordered {
        std::mem::swap(&mut src, &mut dst);
        ports = ports.map(|(s, d)| (d, s));
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&src);
    h.update(&dst);
    h.update([proto, 0]);
    if let Some((s, d)) = ports {
        h.update(s.to_be_bytes());
        h.update(d.to_be_bytes());
    }
    format!("1:{}", base64(&h.finalize()))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seed: u16, s: &str, d: &str, proto: u8, ports: Option<(u16, u16)>) -> String {
        community_id_v1(seed, s.parse().unwrap(), d.parse().unwrap(), proto, ports)
    }

    /// The spec's published baseline (community-id-spec: baseline/baseline_deflt.json and
    /// baseline_seed1.json), both directions where it lists both.
    #[test]
    fn the_specs_test_vectors() {
        let deflt = [
            (
                "128.232.110.120",
                "66.35.250.204",
                6,
                Some((34855, 80)),
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                "66.35.250.204",
                "128.232.110.120",
                6,
                Some((80, 34855)),
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                "192.168.1.52",
                "8.8.8.8",
                17,
                Some((54585, 53)),
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                "8.8.8.8",
                "192.168.1.52",
                17,
                Some((53, 54585)),
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                "2607:f8b0:400c:c03::1a",
                6,
                Some((63943, 25)),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                "192.168.170.8",
                "192.168.170.56",
                132,
                Some((7, 7)),
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            ),
            (
                "10.1.12.1",
                "10.1.12.2",
                46,
                None,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
            (
                "10.1.12.2",
                "10.1.12.1",
                46,
                None,
                "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
            ),
            (
                "192.168.0.89",
                "192.168.0.1",
                1,
                Some((8, 0)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                "192.168.0.1",
                "192.168.0.89",
                1,
                Some((0, 8)),
                "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
            ),
            (
                "10.0.0.1",
                "10.0.0.2",
                1,
                Some((11, 0)),
                "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
            ),
            (
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                58,
                Some((135, 136)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                58,
                Some((136, 135)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                "3ffe:501:1800:2345::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                58,
                Some((3, 0)),
                "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
            ),
        ];
        for (s, d, p, ports, want) in deflt {
            assert_eq!(id(0, s, d, p, ports), want, "{s} {d} {p}");
        }
        let seed1 = [
            (
                "192.168.1.52",
                "8.8.8.8",
                17,
                Some((54585, 53)),
                "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
            ),
            (
                "8.8.8.8",
                "192.168.1.52",
                17,
                Some((53, 54585)),
                "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
            ),
            (
                "128.232.110.120",
                "66.35.250.204",
                6,
                Some((34855, 80)),
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                "10.1.12.2",
                "10.1.12.1",
                46,
                None,
                "1:rYir8gphR31noO9iDRQmF/BteEI=",
            ),
            (
                "3ffe:507:0:1:200:86ff:fe05:80da",
                "3ffe:501:0:1001::2",
                58,
                Some((128, 0)),
                "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
            ),
        ];
        for (s, d, p, ports, want) in seed1 {
            assert_eq!(id(1, s, d, p, ports), want, "seed 1: {s} {d} {p}");
        }
        // The README's example: 1.2.3.4:1122 -> 5.6.7.8:3344, TCP and UDP.
        assert_eq!(
            id(0, "1.2.3.4", "5.6.7.8", 6, Some((1122, 3344))),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            id(0, "1.2.3.4", "5.6.7.8", 17, Some((1122, 3344))),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
