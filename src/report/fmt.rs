//! How the report writes SPIs, byte strings and times: the one place that decides it, for text
//! (`Display`) and for JSON (`Serialize`). The stages before the report keep SPIs as integers
//! and times as [`Timestamp`]s; they wrap them here at the moment of writing.
//!
//! The wrappers write straight into the formatter or serializer, so a line costs no
//! intermediate `String` per field.

use std::fmt;
use std::net::IpAddr;

pub use crate::event::text::ipv4_text;

use serde::{Serialize, Serializer};

use crate::event::Timestamp;

/// A 4-byte SPI (ESP, AH, Child SA), 8 hex digits as `ip xfrm state` prints it; `{:#}` adds
/// `0x`. In JSON a string without the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex32(pub u32);

impl fmt::Display for Hex32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str("0x")?;
        }
        write!(f, "{:08x}", self.0)
    }
}

impl Serialize for Hex32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 8];
        s.serialize_str(hex_fixed(u64::from(self.0), &mut buf))
    }
}

/// An 8-byte IKE SPI or IKEv1 cookie, 16 hex digits; `{:#}` adds `0x`. In JSON a string
/// without the prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hex64(pub u64);

impl fmt::Display for Hex64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str("0x")?;
        }
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Hex64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 16];
        s.serialize_str(hex_fixed(self.0, &mut buf))
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

// `collect_str` runs the formatting machinery and then serde_json's escaping adapter for each
// piece; an SPI is on nearly every JSON line, so its digits are laid out here and handed over
// as one string.
/// The low `buf.len()` nibbles of `n` as lowercase hex, zero-padded to the buffer's width.
pub fn hex_fixed(mut n: u64, buf: &mut [u8]) -> &str {
    for b in buf.iter_mut().rev() {
        *b = HEX_DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(buf).unwrap_or_default()
}

/// An SPI whose width the wire does not fix (a Delete payload folds 4-, 8- and 16-byte SPIs
/// into one integer), in as few hex digits as it needs; `{:#}` adds `0x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexNum(pub u64);

impl fmt::Display for HexNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str("0x")?;
        }
        write!(f, "{:x}", self.0)
    }
}

impl Serialize for HexNum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let digits = (16 - self.0.leading_zeros() as usize / 4).max(1);
        let mut buf = [0u8; 16];
        s.serialize_str(hex_fixed(self.0, &mut buf[..digits]))
    }
}

/// A byte string as lowercase hex, two digits a byte, no separators (proposal and notify SPIs,
/// notify data, vendor IDs, NAT-D hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexBytes<'a>(pub &'a [u8]);

impl fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A `write!` per byte costs a formatter call each; vendor IDs and notify data are
        // printed on every IKE line, so the digits go out in stack-buffered chunks.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 128];
        for chunk in self.0.chunks(64) {
            for (i, b) in chunk.iter().enumerate() {
                buf[2 * i] = DIGITS[usize::from(b >> 4)];
                buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
            }
            let text = std::str::from_utf8(&buf[..2 * chunk.len()]).map_err(|_| fmt::Error)?;
            f.write_str(text)?;
        }
        Ok(())
    }
}

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Vendor IDs, NAT-D hashes and most notify data fit on the stack; longer data (a
        // certificate request, a cookie of odd size) goes through the formatter.
        let mut buf = [0u8; 128];
        if self.0.len() > buf.len() / 2 {
            return s.collect_str(self);
        }
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = HEX_DIGITS[usize::from(b & 0x0f)];
        }
        s.serialize_str(std::str::from_utf8(&buf[..2 * self.0.len()]).unwrap_or_default())
    }
}

/// RFC 3339 in UTC with microseconds, like `tcpdump -tttt` but unambiguous: the finding blocks'
/// `when`, which has to stand alone without the capture's date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub Timestamp);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Capture times are 32-bit seconds (pcap) or 64-bit (pcapng); the latter can reach
        // past the years jiff represents, and then the epoch seconds stand in.
        match jiff::Timestamp::new(self.0.secs, 0) {
            Ok(t) => {
                let dt = jiff::tz::Offset::UTC.to_datetime(t);
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                    dt.year(),
                    dt.month(),
                    dt.day(),
                    dt.hour(),
                    dt.minute(),
                    dt.second(),
                    self.0.nanos / 1000
                )
            }
            Err(_) => write!(f, "@{}.{:06}", self.0.secs, self.0.nanos / 1000),
        }
    }
}

// Two JSON forms of epoch seconds are in the schema, and both stay: packet and summary lines
// have always written the `f64` (shortest form, `1700000000.5`), finding and tunnel lines the
// decimal text with six places (`1700000000.500000`). Programs read both as the same number,
// but the bytes differ, and the lines are a contract.

/// Epoch seconds as a JSON `f64` rounded to the microsecond (`ts` of packet lines, the ESP SA
/// times of the summary line). Microseconds keep jq and spreadsheets happy; nanoseconds would
/// not survive an `f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochF64(pub Timestamp);

impl EpochF64 {
    pub fn seconds(self) -> f64 {
        let ts = self.0;
        let micros = ts.secs as f64 + f64::from(ts.nanos / 1000) / 1e6;
        (micros * 1e6).round() / 1e6
    }
}

impl Serialize for EpochF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.seconds())
    }
}

/// Epoch seconds as a JSON number with exactly six decimals (`first_ts`/`last_ts` of finding
/// and tunnel lines). serde_json would print an `f64` in its shortest form, so the number's
/// text goes out as a raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochMicros(pub Timestamp);

impl Serialize for EpochMicros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Laid out on the stack and borrowed as a raw value: a finding or tunnel line has two,
        // and a `format!` plus an owned `RawValue` cost an allocation each.
        let mut buf = [0u8; 28];
        let mut secs = itoa::Buffer::new();
        let secs = secs.format(self.0.secs).as_bytes();
        let n = secs.len();
        buf[..n].copy_from_slice(secs);
        buf[n] = b'.';
        let mut micros = self.0.nanos / 1000;
        if micros >= 1_000_000 {
            // Not a valid timestamp; written as it always was.
            let text = format!("{}.{micros:06}", self.0.secs);
            return serde_json::value::RawValue::from_string(text)
                .map_err(serde::ser::Error::custom)?
                .serialize(s);
        }
        for i in (n + 1..n + 7).rev() {
            buf[i] = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        let text = std::str::from_utf8(&buf[..n + 7]).map_err(serde::ser::Error::custom)?;
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// A value written as a JSON string through its `Display` (no intermediate `String`).
pub struct Shown<T>(pub T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// An address as a JSON string, as `Display` writes it. IPv4 (the common case on every line)
/// is laid out by hand: `Ipv4Addr`'s `Display` formats each octet through the formatting
/// machinery, which was a tenth of a `--json` run on IKE-heavy traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr(pub IpAddr);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            IpAddr::V4(a) => {
                let mut buf = [0u8; 15];
                s.serialize_str(ipv4_text(a, &mut buf))
            }
            IpAddr::V6(a) => s.collect_str(&a),
        }
    }
}

/// `a` as `Display` writes it, IPv4 laid out by hand (see [`Addr`]).
pub fn addr_string(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => ipv4_text(a, &mut [0u8; 15]).to_string(),
        IpAddr::V6(a) => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &impl Serialize) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn hand_laid_json_text_matches_display() {
        for n in [
            0u64,
            1,
            0xf,
            0x10,
            0x7ff,
            0x800,
            0xabc,
            0x1000,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(json(&HexNum(n)), format!("\"{}\"", HexNum(n)));
            assert_eq!(json(&Hex64(n)), format!("\"{}\"", Hex64(n)));
            assert_eq!(json(&Hex32(n as u32)), format!("\"{}\"", Hex32(n as u32)));
        }
        for len in [0, 1, 63, 64, 65, 200] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 5) as u8).collect();
            assert_eq!(json(&HexBytes(&bytes)), format!("\"{}\"", HexBytes(&bytes)));
        }
        for octets in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 9, 100, 99],
            [1, 20, 203, 0],
        ] {
            let a = IpAddr::from(octets);
            assert_eq!(json(&Addr(a)), format!("\"{a}\""));
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(json(&Addr(v6)), "\"2001:db8::1\"");
    }

    #[test]
    fn spis_have_fixed_widths() {
        assert_eq!(Hex32(0xc1).to_string(), "000000c1");
        assert_eq!(format!("{:#}", Hex32(0xc1)), "0x000000c1");
        assert_eq!(json(&Hex32(0xc1)), "\"000000c1\"");
        assert_eq!(Hex64(0x1111).to_string(), "0000000000001111");
        assert_eq!(format!("{:#}", Hex64(u64::MAX)), "0xffffffffffffffff");
        assert_eq!(json(&Some(Hex64(1))), "\"0000000000000001\"");
        assert_eq!(json(&None::<Hex64>), "null");
        assert_eq!(HexNum(0xabc).to_string(), "abc");
        assert_eq!(format!("{:#}", HexNum(0)), "0x0");
    }

    #[test]
    fn bytes_past_one_chunk() {
        let b: Vec<u8> = (0..=200).collect();
        let want: String = b.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(HexBytes(&b).to_string(), want);
        assert_eq!(HexBytes(&[]).to_string(), "");
        assert_eq!(json(&HexBytes(&[0, 0xff])), "\"00ff\"");
    }

    #[test]
    fn times() {
        let ts = Timestamp::new(1_700_000_002, 500_000_999);
        assert_eq!(Rfc3339(ts).to_string(), "2023-11-14T22:13:22.500000Z");
        assert_eq!(
            Rfc3339(Timestamp::new(951_782_400, 0)).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp::new(-1, 0)).to_string(),
            "1969-12-31T23:59:59.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp::new(i64::MAX, 0)).to_string(),
            format!("@{}.000000", i64::MAX)
        );
        assert_eq!(json(&EpochF64(ts)), "1700000002.5");
        assert_eq!(json(&EpochMicros(ts)), "1700000002.500000");
        for t in [
            Timestamp::new(0, 0),
            Timestamp::new(-5, 100_000),
            Timestamp::new(i64::MAX, 999_999_999),
            Timestamp::new(i64::MIN, 1_000),
            Timestamp::new(7, 2_000_000_000),
        ] {
            let micros = t.nanos / 1000;
            assert_eq!(json(&EpochMicros(t)), format!("{}.{micros:06}", t.secs));
        }
        assert_eq!(json(&EpochF64(Timestamp::new(1, 5_000))), "1.000005");
    }
}
