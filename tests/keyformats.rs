//! Keys in the formats real daemons write load to the same ring as the Wireshark tables
//! derived from the same lab run (`captures/lab/keyformats/<scenario>/`, made by
//! `captures/lab/keyformats.sh`): same SPIs, same algorithms, same key bytes. Keys are
//! compared, never printed.

use std::path::{Path, PathBuf};

use ike_sniff::keys::{KeyRing, load};

fn dir(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/lab/keyformats")
        .join(scenario)
}

fn ring(paths: &[PathBuf]) -> KeyRing {
    let l = load(paths).unwrap();
    assert!(l.report.skipped.is_empty(), "{}", l.report);
    l.ring
}

/// Every IKEv2 SA of `want` is in `got` with the same algorithms and keys.
fn same_ikev2(want: &KeyRing, got: &KeyRing) {
    assert!(!want.ikev2.is_empty());
    for (spis, w) in &want.ikev2 {
        let g = got
            .ikev2
            .get(spis)
            .unwrap_or_else(|| panic!("IKE SA {:016x}/{:016x} missing", spis.0, spis.1));
        assert_eq!((g.encr, g.integ), (w.encr, w.integ), "{:016x}", spis.0);
        assert!(g.sk_ei == w.sk_ei && g.sk_er == w.sk_er, "SK_e differ");
        assert!(g.sk_ai == w.sk_ai && g.sk_ar == w.sk_ar, "SK_a differ");
    }
}

/// Every ESP SA of `want` is in `got`, same addresses, algorithms and keys.
fn same_esp(want: &KeyRing, got: &KeyRing) {
    assert!(!want.esp.is_empty());
    for (spi, ws) in &want.esp {
        let w = &ws[0];
        let g = got
            .esp
            .get(spi)
            .and_then(|v| v.first())
            .unwrap_or_else(|| panic!("ESP SA {spi:08x} missing"));
        assert_eq!((g.src, g.dst), (w.src, w.dst), "{spi:08x}");
        assert_eq!((g.encr, g.integ), (w.encr, w.integ), "{spi:08x}");
        assert!(g.enc_key == w.enc_key, "{spi:08x}: encryption keys differ");
        assert!(g.auth_key == w.auth_key, "{spi:08x}: integrity keys differ");
    }
}

#[test]
fn charon_logs_give_the_keys_of_the_wireshark_tables_ikev2() {
    let d = dir("healthy_ikev2");
    let tables = ring(&[d.join("ikev2_decryption_table"), d.join("esp_sa")]);
    // the initiator's log alone has everything: IKE keys and both directions of each CHILD_SA
    let left = ring(&[d.join("charon-left.log")]);
    same_ikev2(&tables, &left);
    same_esp(&tables, &left);
    let right = ring(&[d.join("charon-right.log")]);
    same_ikev2(&tables, &right);
    same_esp(&tables, &right);
    // the charon log adds what the tables cannot carry
    let k = left.ikev2.values().next().unwrap();
    assert!(k.sk_d.is_some());
    assert!(left.esp.values().all(|v| v[0].esn == Some(false)));
}

#[test]
fn charon_logs_give_the_keys_of_the_wireshark_tables_ikev1() {
    let d = dir("healthy_ikev1");
    let tables = ring(&[d.join("ikev1_decryption_table"), d.join("esp_sa")]);
    for log in ["charon-left.log", "charon-right.log"] {
        let got = ring(&[d.join(log)]);
        same_esp(&tables, &got);
        for (cookie, ws) in &tables.ikev1 {
            let g = got
                .ikev1
                .get(cookie)
                .unwrap_or_else(|| panic!("{cookie:016x} missing"));
            assert!(
                g.iter().any(|g| g.key == ws[0].key),
                "{log}: IKEv1 key differs"
            );
            assert!(g.iter().all(|g| g.cookie_r.is_some() && g.hash.is_some()));
        }
    }
}

#[test]
fn pluto_ikev2_lines_give_the_keys_strongswan_derived() {
    let d = dir("ikev2_cookie_libreswan");
    let table = ring(&[d.join("ikev2_decryption_table")]);
    let pluto = ring(&[d.join("pluto-right.log")]);
    same_ikev2(&table, &pluto);
    same_ikev2(&table, &ring(&[d.join("charon-left.log")]));
    // the responder's ESP key for the CHILD_SA the kernel refused: no ESP ever used it, so
    // no table holds it to compare with; its SA name and algorithms are Libreswan's
    assert_eq!(pluto.esp.len(), 1);
    let (spi, k) = pluto.esp.iter().next().unwrap();
    assert_ne!(*spi, 0);
    assert_eq!(k[0].dst, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(k[0].src, Some("198.51.100.20".parse().unwrap()));
    assert_eq!(k[0].enc_key.len(), 32);
    assert_eq!(k[0].auth_key.len(), 32);
}

#[test]
fn a_keyformats_folder_loads_as_it_is() {
    // the capture beside the keys is binary and passed over; logs and tables merge
    let l = load(&[dir("healthy_ikev2")]).unwrap();
    assert!(l.report.skipped.is_empty(), "{}", l.report);
    assert_eq!(l.ring.ikev2.len(), 1);
    assert_eq!(l.ring.esp.len(), 4);
    let first = l.report.to_string();
    let first = first.lines().next().unwrap();
    assert!(
        first.starts_with("keys: 3 IKE SAs, 12 ESP SAs from 4 files"),
        "{first}"
    );
}

/// A charon log whose CHILD_SA key dumps are gone (logged at `ike = 4` but `chd` lower) still
/// opens every ESP packet: the Child SA keys come from SK_d and the nonces (RFC 7296 §2.17),
/// the first pair from IKE_SA_INIT's nonces, the rekeyed pair from CREATE_CHILD_SA's (no PFS
/// here). Every packet's ICV verifies, so the derived keys are the daemon's.
#[test]
fn child_sa_keys_derived_from_sk_d_open_every_esp_packet() {
    use ike_sniff::capture::PacketSource;
    use ike_sniff::capture::file::FileSource;
    use ike_sniff::decode::Decoder;
    use ike_sniff::event::{Body, Integrity};

    let d = dir("healthy_ikev2");
    let log = std::fs::read_to_string(d.join("charon-left.log")).unwrap();
    let mut kept = String::new();
    let mut in_child_dump = false;
    for line in log.lines() {
        let msg = line.split_once("> ").map_or("", |(_, m)| m);
        if line.contains("[CHD]") && msg.contains(" key =>") {
            in_child_dump = true;
            continue;
        }
        // The dump's rows: `   0: 99 4A …`, `  16: 73 1C …`.
        if in_child_dump
            && msg
                .trim_start()
                .split_once(':')
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        {
            continue;
        }
        in_child_dump = false;
        kept.push_str(line);
        kept.push('\n');
    }
    let loaded = ike_sniff::keys::load_bytes("charon-ike-only.log", kept.as_bytes());
    assert!(loaded.ring.esp.is_empty(), "CHILD_SA keys left in the log");
    assert_eq!(loaded.ring.ikev2.len(), 1);
    let mut decoder = Decoder::with_keys(std::sync::Arc::new(loaded.ring));
    let mut src = FileSource::open(d.join("capture.pcap").to_str().unwrap()).unwrap();
    let (mut esp, mut opened, mut spis) = (0, 0, std::collections::BTreeSet::new());
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        out.clear();
        decoder.decode(&p, &mut out);
        for ev in &out {
            if let Body::Esp(e) = &ev.body {
                esp += 1;
                spis.insert(e.spi);
                if e.decrypted
                    .as_ref()
                    .is_some_and(|x| x.integrity == Integrity::Ok)
                {
                    opened += 1;
                }
            }
        }
    }
    assert_eq!(spis.len(), 4, "two Child SAs, both directions");
    assert!(esp > 100, "{esp} ESP packets");
    assert_eq!(opened, esp);
}
