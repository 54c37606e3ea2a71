//! The four bytes that open every IKE payload and every structure nested in one: the generic
//! payload header (RFC 7296 §3.2, RFC 2408 §3.2), IKEv2 proposal and transform substructures
//! (RFC 7296 §3.3.1, §3.3.2), IKEv1 proposal and transform payloads (RFC 2408 §3.5, §3.6) and
//! IKEv2 traffic selectors (RFC 7296 §3.13.1) all start with two one-byte fields and a 16-bit
//! length that counts these four bytes.
//!
//! [`frame`] checks that length strictly; [`frame_lax`] also returns a frame that runs past the
//! input, cut at its end, because IKEv2 keeps such a payload (an SK payload still marks the
//! message encrypted). What a structure's fields mean and how its errors read is left to `v1`
//! and `v2`.

use nom::Parser;
use nom::number::complete::{be_u8, be_u16};

use crate::event::{LenError, LenField, LenSource, LenSubject};

/// Size of the shared header.
pub const HEADER_LEN: usize = 4;

/// One framed structure.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Next payload (generic header), last/more (IKEv2 proposal and transform) or TS type.
    pub first: u8,
    /// Reserved, the IKEv2 critical bit, or the TS IP protocol.
    pub second: u8,
    pub length: u16,
    /// The bytes after the header up to `length`.
    pub body: &'a [u8],
}

/// Why a structure could not be framed. `have` counts the bytes from the structure's start to
/// the end of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Header { have: usize },
    /// The length field is below the structure's minimum.
    BelowMin { length: usize, min: usize },
    /// The length field runs past the input.
    Overrun { length: usize, have: usize },
}

impl FrameError {
    /// As a length error. A length below the minimum is the structure's own field (`own`) at
    /// fault; an overrun or a short header is bounded by what encloses it (`enclosing`). How a
    /// short header reads differs per caller: `short` and `short_need` word it.
    pub fn len_error(
        self,
        own: LenField,
        enclosing: LenSource,
        short: LenSubject,
        short_need: usize,
    ) -> LenError {
        match self {
            FrameError::Header { have } => LenError {
                need: short_need,
                have,
                source: enclosing,
                what: short,
            },
            FrameError::BelowMin { length, min } => LenError {
                need: min,
                have: length,
                source: LenSource::Field(own),
                what: LenSubject::LengthBelowMin,
            },
            FrameError::Overrun { length, have } => LenError {
                need: length,
                have,
                source: enclosing,
                what: LenSubject::LengthLeft,
            },
        }
    }
}

/// Frames the structure at the start of `input`, whose length must be at least `min_len`.
#[inline]
pub fn frame(input: &[u8], min_len: usize) -> Result<Frame<'_>, FrameError> {
    match frame_lax(input, min_len)? {
        (f, None) => Ok(f),
        (_, Some(e)) => Err(e),
    }
}

/// As [`frame`], but a length past the end of `input` still yields the frame, its body cut at
/// the end, beside the error.
#[inline]
pub fn frame_lax(
    input: &[u8],
    min_len: usize,
) -> Result<(Frame<'_>, Option<FrameError>), FrameError> {
    let Ok((rest, (first, second, length))) =
        (be_u8::<_, nom::error::Error<&[u8]>>, be_u8, be_u16).parse(input)
    else {
        return Err(FrameError::Header { have: input.len() });
    };
    let len = usize::from(length);
    let min = min_len.max(HEADER_LEN);
    if len < min {
        return Err(FrameError::BelowMin { length: len, min });
    }
    let want = len - HEADER_LEN;
    let (body, overrun) = match rest.get(..want) {
        Some(body) => (body, None),
        None => (
            rest,
            Some(FrameError::Overrun {
                length: len,
                have: input.len(),
            }),
        ),
    };
    Ok((
        Frame {
            first,
            second,
            length,
            body,
        },
        overrun,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_their_faults() {
        // A Vendor ID payload: next payload 0, length 8, body "abcd", then the next payload.
        let b = [0, 0, 0, 8, b'a', b'b', b'c', b'd', 43];
        let f = frame(&b, 4).unwrap();
        assert_eq!(
            (f.first, f.second, f.length, f.body),
            (0, 0, 8, &b"abcd"[..])
        );
        assert_eq!(
            frame(&b[..3], 4).unwrap_err(),
            FrameError::Header { have: 3 }
        );
        // A zero length must not pass: the walk would not advance.
        assert_eq!(
            frame(&[0, 0, 0, 0], 4).unwrap_err(),
            FrameError::BelowMin { length: 0, min: 4 }
        );
        assert_eq!(
            frame(&b[..6], 8).unwrap_err(),
            FrameError::Overrun { length: 8, have: 6 }
        );
        let (f, e) = frame_lax(&b[..6], 8).unwrap();
        assert_eq!((f.length, f.body), (8, &b"ab"[..]));
        assert_eq!(e, Some(FrameError::Overrun { length: 8, have: 6 }));
    }
}
