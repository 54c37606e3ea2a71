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
