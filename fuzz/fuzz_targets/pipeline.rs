//! The whole pipeline on a fuzzed capture file: read, decode, track, diagnose, report, in text
//! with `-v` and in JSON with `-v`. The JSON must be valid UTF-8, one object per line; the text
//! must carry no control byte but newline.
#![no_main]

use ike_sniff::app::pipeline::Pipeline;
use ike_sniff::capture::PacketSource;
use ike_sniff::capture::file::FileSource;
use ike_sniff::report::OutputOptions;
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], json: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = FileSource::from_reader("fuzz", reader) else {
        return out;
    };
    // UTC: the output must not depend on the machine's zone.
    let opts = OutputOptions {
        json,
        verbose: 1,
        frame_numbers: true,
        quiet: false,
        utc: true,
        ..OutputOptions::default()
    };
    let mut pipeline = Pipeline::new("fuzz", opts, &mut out).unwrap();
    let mut read_error = None;
    loop {
        match src.next_packet() {
            Ok(Some(raw)) => pipeline.packet(&raw).unwrap(),
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    pipeline.finish(read_error).unwrap();
    out
}

fuzz_target!(|data: &[u8]| {
    let text = run(data, false);
    let text = std::str::from_utf8(&text).expect("text output is UTF-8");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the text output"
    );
    let json = run(data, true);
    let json = std::str::from_utf8(&json).expect("JSON output is UTF-8");
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(v.is_object());
    }
});
