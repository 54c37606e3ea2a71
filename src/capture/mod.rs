//! Packet sources: capture files (classic pcap and pcapng, from a path or standard input, and
//! FortiGate sniffer text, `fortigate`) and live interfaces (`live`). Every source yields [`RawPacket`]s that borrow the reader's buffer
//! until the next call, so no packet is copied on the way in.

mod fault;
pub mod file;
pub mod filter;
pub mod fortigate;
pub mod live;

use std::fmt;

use crate::event::Timestamp;

/// One captured record, borrowed from the source's buffer until the next `next_packet` call.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// 1-based record number, counting only packet records (Wireshark's frame number).
    pub frame: u64,
    pub ts: Timestamp,
    /// Bytes present in `data`.
    pub caplen: u32,
    /// Length of the packet on the wire.
    pub origlen: u32,
    /// LINKTYPE_* value of the interface the packet was captured on.
    pub linktype: u32,
    pub data: &'a [u8],
}

/// A problem reading the capture itself (not a packet in it). `frame` is the number the next
/// packet would have had, so the message points at where reading stopped.
#[derive(Debug)]
pub struct CaptureError {
    pub source_name: String,
    pub frame: Option<u64>,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.frame {
            Some(frame) => write!(f, "{}: frame {frame}: {}", self.source_name, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Anything that yields packets in capture order.
pub trait PacketSource {
    /// The next packet, `Ok(None)` at a clean end. After an `Err` the source is finished: the
    /// caller reports it and keeps everything analysed so far.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError>;

    /// Name used in messages: the file path, `-` for standard input, or the interface.
    fn name(&self) -> &str;
}
