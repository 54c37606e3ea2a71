//! The capture-file reader (pcap and pcapng framing) on raw file bytes, through the stream
//! path (`-r -`); the mapped path differs only in where the bytes come from and is held to the
//! stream path by `capture/file.rs`'s tests.
#![no_main]

use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
                assert!(p.caplen <= p.origlen);
                assert!(p.ts.nanos < 1_000_000_000);
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
