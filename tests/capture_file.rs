//! `FileSource` against real and synthetic captures: every frame's number, lengths, time and link
//! type must match what tshark read from the same file (dumps in `tests/fixtures/pcap/`, see the
//! README there), and broken files must end in the right error, never a panic.

use std::io::{self, Read};

use ike_sniff::capture::file::FileSource;
use ike_sniff::capture::{CaptureError, PacketSource};
use ike_sniff::event::Timestamp;
use proptest::prelude::*;

fn path(name: &str) -> String {
    format!("{}/tests/fixtures/pcap/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap()
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Frame {
    frame: u64,
    caplen: u32,
    origlen: u32,
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
}

/// Reads every packet, copying it out, and the error that ended the read, if any.
fn read_all(src: &mut dyn PacketSource) -> (Vec<Frame>, Option<CaptureError>) {
    let mut frames = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.data.len(), p.caplen as usize);
                assert!(p.caplen <= p.origlen);
                assert!(p.ts.nanos < 1_000_000_000);
                frames.push(Frame {
                    frame: p.frame,
                    caplen: p.caplen,
                    origlen: p.origlen,
                    ts: p.ts,
                    linktype: p.linktype,
                    data: p.data.to_vec(),
                });
            }
            Ok(None) => return (frames, None),
            Err(e) => {
                // After an error the source is finished.
                assert!(src.next_packet().unwrap().is_none());
                return (frames, Some(e));
            }
        }
    }
}

fn open_all(name: &str) -> (Vec<Frame>, Option<CaptureError>) {
    let mut src = FileSource::open(&path(name)).unwrap();
    assert_eq!(src.name(), path(name));
    read_all(&mut src)
}

/// Wireshark's WTAP_ENCAP numbers (what `frame.encap_type` prints) for the LINKTYPEs used here.
fn linktype_of_encap(encap: u32) -> u32 {
    match encap {
        1 => 1,   // Ethernet
        7 => 101, // raw IP
        15 => 0,  // BSD loopback (DLT_NULL)
        other => panic!("add WTAP_ENCAP {other} to the table"),
    }
}

/// "1587340723.655842000" → exact seconds and nanoseconds; empty (no timestamp) → 0.
fn parse_epoch(s: &str) -> Timestamp {
    if s.is_empty() {
        return Timestamp::default();
    }
    let (secs, frac) = s.split_once('.').unwrap();
    assert_eq!(frac.len(), 9, "tshark prints nanoseconds");
    Timestamp::new(secs.parse().unwrap(), frac.parse().unwrap())
}

/// (frame, caplen, origlen, ts, linktype) per line of a tshark dump.
fn tshark(name: &str) -> Vec<(u64, u32, u32, Timestamp, u32)> {
    let text = std::fs::read_to_string(path(&format!("{name}.tshark.tsv"))).unwrap();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "{line}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                parse_epoch(f[3]),
                linktype_of_encap(f[4].parse().unwrap()),
            )
        })
        .collect()
}

fn summary(frames: &[Frame]) -> Vec<(u64, u32, u32, Timestamp, u32)> {
    frames
        .iter()
        .map(|f| (f.frame, f.caplen, f.origlen, f.ts, f.linktype))
        .collect()
}

fn assert_matches_tshark(name: &str, expected_frames: usize) {
    let (frames, err) = open_all(name);
    assert!(err.is_none(), "{name}: {}", err.unwrap());
    assert_eq!(frames.len(), expected_frames, "{name}");
    assert_eq!(summary(&frames), tshark(name), "{name}");
}

#[test]
fn public_captures_match_tshark() {
    assert_matches_tshark("ikev2four.pcap", 21);
    assert_matches_tshark("IKEv2.pcap", 197);
    assert_matches_tshark("esp.pcapng", 6);
    assert_matches_tshark("ikev2_nat_t.pcapng", 54);
    assert_matches_tshark("ikev2pI2-segfault.pcapng", 1);
}

#[test]
fn classic_byte_orders_and_resolutions_match_tshark() {
    assert_matches_tshark("be-usec.pcap", 3);
    assert_matches_tshark("le-nsec.pcap", 3);
    assert_matches_tshark("be-nsec.pcap", 2);
}

#[test]
fn packet_bytes_are_the_records_bytes() {
    // First frame of ikev2four.pcap: record data starts after the 24-byte file header and the
    // 16-byte record header.
    let file = bytes("ikev2four.pcap");
    let (frames, _) = open_all("ikev2four.pcap");
    assert_eq!(frames[0].data, file[40..40 + 408]);
    // DLT_NULL: AF_INET (2) in host order.
    assert_eq!(&frames[0].data[..4], &[2, 0, 0, 0]);
}

#[test]
fn pcapng_sections_interfaces_and_resolutions() {
    let (frames, err) = open_all("two-interfaces.pcapng");
    assert!(err.is_none(), "{}", err.unwrap());
    assert_eq!(summary(&frames), tshark("two-interfaces.pcapng"));
    // Interface 1: if_tsoffset 1e9 s, and 1/1024 s is 976562.5 ns, truncated (as tshark does).
    assert_eq!(frames[1].ts, Timestamp::new(1_700_000_000, 976_562));
    // The EPB with options yields its packet bytes, not the options.
    assert_eq!(frames[2].data.len(), 128);
    assert_eq!(frames[2].data[0], 12);
    // The simple packet block: interface 0 of the big-endian section, cut to its snaplen.
    assert_eq!(
        (frames[5].caplen, frames[5].origlen, frames[5].linktype),
        (64, 100, 0)
    );
    assert_eq!(frames[5].ts, Timestamp::default());
}

#[test]
fn undefined_interface_is_an_error() {
    let (frames, err) = open_all("undefined-interface.pcapng");
    assert_eq!(frames.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.frame, Some(2));
    assert!(err.message.contains("interface 3"), "{err}");
    assert!(err.message.contains("1 interface"), "{err}");
}

#[test]
fn truncated_record_after_all_complete_packets() {
    let (full, _) = open_all("ikev2four.pcap");
    let (frames, err) = open_all("truncated.pcap");
    assert_eq!(frames, full[..5]);
    let err = err.unwrap();
    assert_eq!(err.frame, Some(6));
    assert!(
        err.message.starts_with("truncated record: 20 of 188 bytes"),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "{}: frame 6: truncated record",
            path("truncated.pcap")
        )),
        "{err}"
    );

    let (frames, err) = open_all("truncated-header.pcap");
    assert_eq!(frames, full[..5]);
    let err = err.unwrap();
    assert_eq!(err.frame, Some(6));
    assert!(
        err.message
            .starts_with("truncated record header: 7 of 16 bytes"),
        "{err}"
    );
}

fn open_err(name: &str) -> CaptureError {
    match FileSource::open(&path(name)) {
        Ok(_) => panic!("{name} opened"),
        Err(e) => e,
    }
}

#[test]
fn not_a_capture_empty_and_short_files() {
    let e = open_err("not-a-capture.txt");
    assert_eq!(e.frame, None);
    assert!(e.to_string().starts_with(&path("not-a-capture.txt")), "{e}");
    assert!(
        e.message
            .starts_with("not a pcap or pcapng capture: it starts with 3c 21 44 4f"),
        "{e}"
    );
    assert!(open_err("empty.pcap").message.contains("empty"));
    let e = open_err("short-header.pcap");
    assert!(
        e.message
            .starts_with("truncated pcap file header: 10 of 24"),
        "{e}"
    );
    let e = open_err("no-such-file.pcap");
    assert!(e.message.starts_with("cannot open"), "{e}");
}

/// Hands out the input in small, uneven pieces, as a pipe does.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = self.step % 97 + 13;
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn from_reader_like_stdin() {
    for name in ["IKEv2.pcap", "ikev2_nat_t.pcapng", "two-interfaces.pcapng"] {
        let (expected, _) = open_all(name);
        let reader = Chunked {
            data: bytes(name),
            at: 0,
            step: 0,
        };
        let mut src = FileSource::from_reader("-", Box::new(reader)).unwrap();
        assert_eq!(src.name(), "-");
        let (frames, err) = read_all(&mut src);
        assert!(err.is_none());
        assert_eq!(frames, expected, "{name}");
    }
}

/// `open("-")` reads standard input: the test runs itself again as a child with a capture on
/// its stdin, and the child checks what it read.
#[test]
fn open_dash_reads_stdin() {
    if std::env::var_os("IKE_SNIFF_STDIN_CHILD").is_some() {
        let mut src = FileSource::open("-").unwrap();
        assert_eq!(src.name(), "-");
        let (frames, err) = read_all(&mut src);
        assert!(err.is_none());
        assert_eq!(summary(&frames), tshark("ikev2_nat_t.pcapng"));
        return;
    }
    let stdin = std::fs::File::open(path("ikev2_nat_t.pcapng")).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["open_dash_reads_stdin", "--exact", "--test-threads=1"])
        .env("IKE_SNIFF_STDIN_CHILD", "1")
        .stdin(stdin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// Cutting a file anywhere yields a prefix of its packets, then either a clean end (cut on a
/// record boundary) or an error naming the next frame.
#[test]
fn every_truncation_is_a_prefix_then_an_error() {
    for name in [
        "ikev2four.pcap",
        "esp.pcapng",
        "ikev2pI2-segfault.pcapng",
        "two-interfaces.pcapng",
        "be-usec.pcap",
    ] {
        let file = bytes(name);
        let (full, _) = open_all(name);
        let mut last_count = 0;
        for len in 0..=file.len() {
            let cut = file[..len].to_vec();
            let Ok(mut src) = FileSource::from_reader(name, Box::new(io::Cursor::new(cut))) else {
                assert!(len < 28, "{name} cut at {len} did not open");
                continue;
            };
            let (frames, err) = read_all(&mut src);
            assert_eq!(frames, full[..frames.len()], "{name} cut at {len}");
            assert!(frames.len() >= last_count, "{name} cut at {len}");
            last_count = frames.len();
            if let Some(e) = err {
                assert_eq!(
                    e.frame,
                    Some(frames.len() as u64 + 1),
                    "{name} cut at {len}"
                );
                assert!(
                    e.message.starts_with("truncated"),
                    "{name} cut at {len}: {e}"
                );
            }
        }
        assert_eq!(last_count, full.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Corrupted bytes (random values, or lengths set to 0xffffffff) never panic; frames stay
    /// numbered 1, 2, 3... and every packet's data is its caplen.
    #[test]
    fn corruption_never_panics(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..8),
    ) {
        let name = ["ikev2four.pcap", "esp.pcapng", "two-interfaces.pcapng", "be-nsec.pcap"][which];
        let mut file = bytes(name);
        for (at, value, big) in edits {
            let i = at.index(file.len());
            if big && i + 4 <= file.len() {
                file[i..i + 4].copy_from_slice(&[0xff; 4]);
            } else {
                file[i] = value;
            }
        }
        if let Ok(mut src) = FileSource::from_reader(name, Box::new(io::Cursor::new(file))) {
            let (frames, err) = read_all(&mut src);
            for (i, f) in frames.iter().enumerate() {
                prop_assert_eq!(f.frame, i as u64 + 1);
            }
            if let Some(e) = err {
                prop_assert_eq!(e.frame, Some(frames.len() as u64 + 1));
            }
        }
    }
}

/// A regular file is mapped, a stream is read: cut anywhere, both give the same packets and
/// the same error, word for word.
#[test]
fn a_mapped_file_and_a_stream_agree_at_every_cut() {
    let dir = std::env::temp_dir().join(format!("ike-sniff-cuts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["esp.pcapng", "be-usec.pcap", "two-interfaces.pcapng"] {
        let file = bytes(name);
        let cut_path = dir.join(name);
        let cut_name = cut_path.to_str().unwrap().to_string();
        for len in (0..=file.len()).step_by(3) {
            std::fs::write(&cut_path, &file[..len]).unwrap();
            let stream =
                FileSource::from_reader(&cut_name, Box::new(io::Cursor::new(file[..len].to_vec())));
            let mapped = FileSource::open(&cut_name);
            match (stream, mapped) {
                (Ok(mut s), Ok(mut m)) => {
                    let (sf, se) = read_all(&mut s);
                    let (mf, me) = read_all(&mut m);
                    assert_eq!(mf, sf, "{name} cut at {len}");
                    assert_eq!(
                        me.map(|e| e.to_string()),
                        se.map(|e| e.to_string()),
                        "{name} cut at {len}"
                    );
                }
                (Err(s), Err(m)) => assert_eq!(m.to_string(), s.to_string(), "{name} at {len}"),
                (s, m) => panic!(
                    "{name} cut at {len}: stream {:?}, mapped {:?}",
                    s.is_ok(),
                    m.is_ok()
                ),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
