//! ESP (RFC 4303 §2) and AH (RFC 4302 §2) headers: the SPI and sequence number that identify
//! an SA and show loss, replay and reordering. The rest is ciphertext.

use crate::event::{
    AhInfo, DecodeError, ErrorKind, EspInfo, Layer, LenError, LenSource, LenSubject,
};

/// `data` starts at the SPI; `len` is the ESP length on the wire (it may exceed `data` when the
/// snap length cut the packet).
pub fn decode_esp(data: &[u8], len: u32, udp_encapsulated: bool) -> Result<EspInfo, DecodeError> {
    let layer = if udp_encapsulated {
        Layer::EspInUdp
    } else {
        Layer::Esp
    };
    let Some(h) = data.get(..8) else {
        return Err(LenError {
            need: 8,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::EspHeader,
        }
        .at(layer, 0));
    };
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    // SPIs 1–255 are reserved by IANA and 0 is never an SA (RFC 4303 §2.1); on UDP 4500 a zero
    // SPI is the non-ESP marker and is handled before this point.
    if spi == 0 {
        return Err(ErrorKind::ReservedSpi { spi }.at(layer, 0));
    }
    Ok(EspInfo {
        spi,
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        len,
        udp_encapsulated,
    })
}

pub fn decode_ah(data: &[u8]) -> Result<AhInfo, DecodeError> {
    let Some(h) = data.get(..12) else {
        return Err(LenError {
            need: 12,
            have: data.len(),
            source: LenSource::Captured,
            what: LenSubject::Header,
        }
        .at(Layer::Ah, 0));
    };
    Ok(AhInfo {
        next_header: h[0],
        spi: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        seq: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// AH header length: the Payload Length field counts 32-bit words, minus 2 (RFC 4302 §2.2).
pub fn ah_header_len(data: &[u8]) -> usize {
    data.get(1).map_or(0, |&l| (usize::from(l) + 2) * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_header_fields() {
        // First bytes of frame 1 of tcpdump's 02-sunrise-sunset-esp.pcap: SPI 0x12345678, seq 1.
        let d = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0xaa];
        let e = decode_esp(&d, 116, false).unwrap();
        assert_eq!((e.spi, e.seq, e.len), (0x1234_5678, 1, 116));
        assert!(decode_esp(&d[..7], 7, false).is_err());
        assert!(decode_esp(&[0; 8], 8, true).is_err());
    }

    #[test]
    fn ah_header_fields() {
        let d = [4, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 9];
        let a = decode_ah(&d).unwrap();
        assert_eq!((a.next_header, a.spi, a.seq), (4, 0x1001, 9));
    }
}
