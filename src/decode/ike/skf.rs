//! Reassembly of IKEv2 messages split with RFC 7383 fragmentation (SKF payloads).
