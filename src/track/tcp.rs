//! What a peer pair's RFC 8229 connections showed: who opened them and whether the other side
//! answered, resets, TCP's own resends, stream bytes lost before the capture point, zero
//! windows, and the IKE and ESP they carried. Counts only; the rules judge them.

use crate::event::{Body, Event, TcpInfo, Timestamp};

/// Where something was seen: its time and frame.
pub type Seen = (Timestamp, u64);

#[derive(Clone, Debug, Default)]
pub struct TcpEncap {
    /// The port the connections were opened to (the last one seen).
    pub port: u16,
    /// SYNs (without ACK) each side sent, resent ones included, and the first of them.
    pub syns: [u32; 2],
    pub first_syn: [Option<Seen>; 2],
    pub last_syn: [Option<Seen>; 2],
    /// SYN-ACKs each side sent.
    pub syn_acks: [u32; 2],
    /// Resets each side sent in answer to the other side's SYN: the port is closed there.
    pub refused: [u32; 2],
    pub first_refused: [Option<Seen>; 2],
    /// Resets each side sent on a connection that was up, and the last one.
    pub resets: [u32; 2],
    pub last_reset: [Option<Seen>; 2],
    /// Segments whose data TCP resent, per sending side.
    pub resent: [u64; 2],
    /// The longest run of resends without the receiver acknowledging anything new, and where
    /// it reached its length.
    pub max_resends_unacked: [u16; 2],
    pub stall: [Option<Seen>; 2],
    /// Times each side's receive window closed (zero window), and the first.
    pub zero_windows: [u32; 2],
    pub first_zero_window: [Option<Seen>; 2],
    /// Stream bytes from each side never captured (or skipped to find the next message).
    pub lost_bytes: [u64; 2],
    pub first_loss: [Option<Seen>; 2],
    /// Messages each side sent in TCP.
    pub ike: [u64; 2],
    pub esp: [u64; 2],
    /// The first IKE message carried in TCP.
    pub first_ike: Option<Seen>,
    /// A SYN from this side waits for its SYN-ACK.
    syn_pending: [bool; 2],
}

impl TcpEncap {
    pub fn messages(&self) -> u64 {
        self.ike[0] + self.ike[1] + self.esp[0] + self.esp[1]
    }

    /// Whether any segment of a connection was seen.
    pub fn seen(&self) -> bool {
        self.syns != [0; 2] || self.syn_acks != [0; 2] || self.messages() > 0
    }

    /// A TCP fact from `side`'s segment.
    pub(super) fn segment(&mut self, ev: &Event, t: &TcpInfo, side: usize) {
        let at = (ev.pkt.ts, ev.pkt.frame);
        let other = 1 - side;
        if t.syn() && !t.ack_flag() {
            self.port = ev.flow.dport;
            self.syns[side] += 1;
            self.first_syn[side].get_or_insert(at);
            self.last_syn[side] = Some(at);
            self.syn_pending[side] = true;
        } else if t.syn() {
            self.syn_acks[side] += 1;
            self.syn_pending[other] = false;
        }
        if t.rst() {
            if self.syn_pending[other] {
                self.syn_pending[other] = false;
                self.refused[side] += 1;
                self.first_refused[side].get_or_insert(at);
            } else {
                self.resets[side] += 1;
                self.last_reset[side] = Some(at);
            }
        }
        if t.resent {
            self.resent[side] += 1;
            if t.resends_unacked > self.max_resends_unacked[side] {
                self.max_resends_unacked[side] = t.resends_unacked;
                self.stall[side] = Some(at);
            }
        }
        if t.zero_window == Some(true) {
            self.zero_windows[side] += 1;
            self.first_zero_window[side].get_or_insert(at);
        }
        if t.lost > 0 {
            self.lost_bytes[side] += u64::from(t.lost);
            self.first_loss[side].get_or_insert(at);
        }
    }

    /// An IKE or ESP message carried in TCP, from `side`.
    pub(super) fn message(&mut self, ev: &Event, side: usize) {
        match ev.body {
            Body::Ike(ref m) => {
                self.ike[side] += 1;
                self.first_ike.get_or_insert((ev.pkt.ts, ev.pkt.frame));
                // No SYN seen (the capture began later): the port is the one the requests go to.
                if self.port == 0 {
                    self.port = if m.is_response() {
                        ev.flow.sport
                    } else {
                        ev.flow.dport
                    };
                }
            }
            Body::Esp(_) => self.esp[side] += 1,
            _ => {}
        }
    }
}
