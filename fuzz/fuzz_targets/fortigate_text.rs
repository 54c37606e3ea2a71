//! The FortiGate sniffer text reader on arbitrary text, through `-r -`'s path (detection in
//! `capture/file.rs`, then `capture/fortigate.rs`). Seeds: lab captures rendered by
//! examples/fortigate_render.rs in several layouts, and the public session log.
#![no_main]

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Capture files go to the pcap readers (the capture_file target's); only text comes here.
    let magic = data
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    if matches!(
        magic,
        Some(
            0x0a0d_0d0a
                | 0xa1b2_c3d4
                | 0xa1b2_3c4d
                | 0xa1b2_cd34
                | 0xd4c3_b2a1
                | 0x4d3c_b2a1
                | 0x34cd_b2a1
        )
    ) {
        return;
    }
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = FileSource::from_reader("fuzz", reader) else {
        return;
    };
    let mut last = 0;
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.frame, last + 1);
                assert_eq!(p.data.len(), p.caplen as usize);
                assert!(!p.data.is_empty() && p.data.len() <= 65_535);
                assert!(p.caplen <= p.origlen);
                assert!(p.ts.nanos < 1_000_000_000);
                assert!(p.linktype == 1 || p.linktype == 101);
                last = p.frame;
            }
            Ok(None) => break,
            Err(e) => {
                let _ = e.to_string();
                assert!(src.next_packet().unwrap().is_none());
                break;
            }
        }
    }
});
