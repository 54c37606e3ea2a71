//! The IKEv1 payload decoder on its own, over one message: the first payload type from the
//! ISAKMP header's byte 16, the payload chain after the 28-byte header. The whole message also
//! goes through `decode::ike::decode`, as the decoder would take it.
#![no_main]

use ike_sniff::decode::ike;
use ike_sniff::event::LenSource;
use ike_sniff::event::codes::PayloadType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= ike::HEADER_LEN {
        let mut out = Vec::new();
        let err = ike::v1::decode_payloads(
            PayloadType(data[16]),
            &data[ike::HEADER_LEN..],
            ike::HEADER_LEN,
            LenSource::Captured,
            &mut out,
        );
        // Every error points inside the message it came from.
        if let Some(e) = err {
            assert!(e.offset <= data.len(), "{e:?}");
        }
    }
    if let Ok(msg) = ike::decode(data, false) {
        let _ = format!("{msg:?}");
    }
});
