//! Prints what the analyzer says about every public capture (run with
//! `cargo test --test diagnose_explore -- --ignored --nocapture`).

#[path = "diagnose_support.rs"]
mod support;

#[test]
#[ignore = "exploration aid: prints findings, asserts only that nothing panics"]
fn every_public_capture() {
    let mut files = Vec::new();
    let mut dirs = vec![support::capture("public")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        let r = support::analyze(&f);
        println!("== {}", f.strip_prefix(support::root()).unwrap().display());
        print!("{}", r.describe());
        for t in &r.tunnels {
            println!(
                "  tunnel {:?} v{:?} est={} state={} esp={:?} sas={} children={} rekeys={} nat={:?}",
                t.peers,
                t.ike_version,
                t.established,
                t.state,
                t.esp_packets,
                t.ike_sas.len(),
                t.child_sas.len(),
                t.child_rekeys,
                t.nat.behind_nat
            );
        }
    }
}

#[test]
#[ignore = "debug aid"]
fn one() {
    let f = std::env::var("CAPTURE").unwrap();
    let r = support::analyze(&support::capture(&f));
    print!("{}", r.describe());
}

#[test]
#[ignore = "debug aid"]
fn events() {
    use ike_sniff::capture::PacketSource;
    let f = std::env::var("CAPTURE").unwrap();
    let n: u64 = std::env::var("N").map_or(5, |v| v.parse().unwrap());
    let mut src =
        ike_sniff::capture::file::FileSource::open(support::capture(&f).to_str().unwrap()).unwrap();
    let mut dec = ike_sniff::decode::Decoder::new();
    let mut ev = Vec::new();
    while let Some(raw) = src.next_packet().unwrap() {
        if raw.frame > n {
            break;
        }
        dec.decode(&raw, &mut ev);
    }
    for e in ev {
        println!("{} {:?} {:?} {:?}", e.pkt.frame, e.flow, e.ip, e.body);
    }
}

#[test]
#[ignore = "throughput aid: cargo test --release --test diagnose_explore throughput -- --ignored --nocapture"]
fn throughput() {
    use ike_sniff::event::*;
    let mut a = ike_sniff::diagnose::Analyzer::new();
    let mut out = Vec::new();
    let n = 2_000_000u64;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let src: std::net::IpAddr =
            std::net::Ipv4Addr::from(0x0a00_0000 + (i % 1000) as u32).into();
        let ev = Event {
            pkt: PacketRef {
                frame: i + 1,
                ts: Timestamp::new(1_700_000_000 + (i / 10_000) as i64, 0),
                caplen: 100,
                origlen: 100,
            },
            flow: Flow {
                src,
                dst: "192.0.2.1".parse().unwrap(),
                sport: 0,
                dport: 0,
                proto: 50,
            },
            ip: IpInfo {
                version: 4,
                total_len: 140,
                ..IpInfo::default()
            },
            body: Body::Esp(EspInfo {
                spi: (i % 1000) as u32,
                seq: (i / 1000) as u32 + 1,
                len: 120,
                udp_encapsulated: false,
            }),
        };
        a.observe(&ev, &mut out);
    }
    a.finish(&mut out);
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "{n} ESP events in {dt:.2} s: {:.1} M events/s; findings {}",
        n as f64 / dt / 1e6,
        out.len()
    );
}
