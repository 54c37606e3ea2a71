//! Capture files: classic pcap (both byte orders, µs and ns) and pcapng, read in large blocks with
//! pcap-parser.
