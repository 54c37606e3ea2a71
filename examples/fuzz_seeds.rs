//! Writes the fuzz targets' seed corpora (fuzz/seeds/TARGET/) from the shipped captures:
//! `cargo run --release --example fuzz_seeds -- captures fuzz/seeds`. Each seed is in the
//! input format of its target (fuzz/fuzz_targets/common.rs) and is named by its SHA-1, so a
//! rerun over the same captures writes the same files and duplicates collapse.
//!
//! - `capture_file` (also the `pipeline` target's seeds): the first records of each capture,
//!   re-framed as a classic pcap of at most 4 KiB;
//! - `packet`: up to 8 frames of each capture that yield events, with the link type;
//! - `ike_v1`, `ike_v2`: the first 4 IKE messages of each version in each capture (UDP
//!   payload, non-ESP marker removed);
//! - `skf_reassembly`: the IKE messages of each capture carrying RFC 7383 fragments, in order;
//! - `ip_reassembly`: the IPv4 fragments of each capture, in order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use ike_sniff::decode::{Decoder, link};
use sha1::{Digest, Sha1};

/// As in fuzz/fuzz_targets/common.rs.
const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
const SEED_MAX: usize = 4096;

fn record(out: &mut Vec<u8>, tag: u8, data: &[u8]) {
    let len = data.len().min(usize::from(u16::MAX));
    out.push(tag);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&data[..len]);
}

fn write_seed(dir: &Path, target: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The UDP payload of an unfragmented IPv4/IPv6 packet on port 500 or 4500, IKE marker removed.
fn ike_bytes(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let (version, ip) = link::ip_payload(linktype, frame)?;
    let udp = match version {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3fff;
            if *ip.get(9)? != 17 || frag != 0 {
                return None;
            }
            ip.get(ihl..)?
        }
        6 if *ip.get(6)? == 17 => ip.get(40..)?,
        _ => return None,
    };
    let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let payload = udp.get(8..)?;
    if sport == 4500 || dport == 4500 {
        payload.strip_prefix(&[0, 0, 0, 0])
    } else if sport == 500 || dport == 500 {
        Some(payload)
    } else {
        None
    }
}

/// (identification, protocol, offset field, more, payload) of an IPv4 fragment.
fn ipv4_fragment(linktype: u32, frame: &[u8]) -> Option<(u16, u8, u16, bool, &[u8])> {
    let (4, ip) = link::ip_payload(linktype, frame)? else {
        return None;
    };
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let flags = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    let (offset, more) = (flags & 0x1fff, flags & 0x2000 != 0);
    if offset == 0 && !more {
        return None;
    }
    let ident = u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]);
    Some((ident, *ip.get(9)?, offset, more, ip.get(ihl..)?))
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, from, to] = args.as_slice() else {
        eprintln!("usage: fuzz_seeds CAPTURES_DIR SEEDS_DIR");
        std::process::exit(2);
    };
    let to = Path::new(to);
    let mut files = Vec::new();
    captures(Path::new(from), &mut files);
    for path in files {
        let Ok(mut src) = FileSource::open(path.to_str().unwrap()) else {
            continue;
        };
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        let mut pcap: Option<(u32, Vec<u8>)> = None;
        let mut packets: Option<(u32, Vec<u8>, usize)> = None;
        let (mut skf, mut has_skf) = (Vec::new(), false);
        let mut frags = Vec::new();
        let mut idents: HashMap<u16, u8> = HashMap::new();
        let mut last_secs = None;
        let mut ike_seeds = [0usize; 3];
        while let Ok(Some(raw)) = src.next_packet() {
            // capture_file: a classic pcap of the first records, on the first link type.
            let (lt, file) = pcap.get_or_insert_with(|| {
                let mut h = Vec::new();
                for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, raw.linktype] {
                    h.extend_from_slice(&v.to_le_bytes());
                }
                (raw.linktype, h)
            });
            if *lt == raw.linktype && file.len() + 16 + raw.data.len() <= SEED_MAX {
                let ts = raw.ts;
                for v in [ts.secs as u32, ts.nanos / 1000, raw.caplen, raw.origlen] {
                    file.extend_from_slice(&v.to_le_bytes());
                }
                file.extend_from_slice(raw.data);
            }
            let step = last_secs.map_or(0, |s: i64| (raw.ts.secs - s).clamp(0, 255) as u8);
            last_secs = Some(raw.ts.secs);
            // packet: frames that yield events.
            events.clear();
            decoder.decode(&raw, &mut events);
            if let Some(i) = LINKTYPES.iter().position(|&l| l == raw.linktype)
                && !events.is_empty()
            {
                let (_, seed, n) = packets.get_or_insert_with(|| (raw.linktype, vec![i as u8], 0));
                if *n < 8 && seed.len() + 3 + raw.data.len() <= SEED_MAX {
                    record(seed, step, raw.data);
                    *n += 1;
                }
            }
            if let Some(ike) = ike_bytes(raw.linktype, raw.data)
                && ike.len() >= 28
            {
                let version = usize::from(ike[17] >> 4);
                if (1..=2).contains(&version) && ike_seeds[version] < 4 {
                    ike_seeds[version] += 1;
                    let target = if version == 1 { "ike_v1" } else { "ike_v2" };
                    write_seed(to, target, ike);
                }
                has_skf |= ike[17] >> 4 == 2 && ike[16] == 53;
                if skf.len() + 3 + ike.len() <= 4 * SEED_MAX {
                    let dir = u8::from(ike[12..16] == [0, 0, 0, 0] || ike[19] & 0x20 != 0);
                    record(&mut skf, (step << 1) | dir, ike);
                }
            }
            if let Some((ident, proto, offset, more, data)) = ipv4_fragment(raw.linktype, raw.data)
                && frags.len() + 6 + data.len() <= 4 * SEED_MAX
            {
                let n = idents.len() as u8;
                let id = *idents.entry(ident).or_insert(n & 3);
                let mut rec = offset.to_be_bytes().to_vec();
                rec.push(u8::from(more) | (step.min(127) << 1));
                rec.extend_from_slice(data);
                record(&mut frags, id | if proto == 50 { 4 } else { 0 }, &rec);
            }
        }
        if let Some((_, file)) = pcap {
            write_seed(to, "capture_file", &file);
        }
        if let Some((_, seed, _)) = packets {
            write_seed(to, "packet", &seed);
        }
        if has_skf {
            write_seed(to, "skf_reassembly", &skf);
        }
        write_seed(to, "ip_reassembly", &frags);
    }
}
