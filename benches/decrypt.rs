//! ESP decryption throughput (`decode::decrypt::cipher::open_esp`) on 1400-byte ESP packets:
//! AES-128-GCM-16, AES-128-CBC + HMAC-SHA1-96 and AES-128-CBC + HMAC-SHA2-256-128.
//!
//! The packets are built before timing with the same RustCrypto crates (encrypt side); each
//! bench checks once that its packet opens with integrity ok, so a bench that stops doing its
//! work fails instead of getting faster. Throughput is ESP bytes (SPI to ICV) per second, one
//! packet per iteration, on one core. Key schedules are part of each call (the function keeps no
//! state), as they will be in the decoder.
//!
//! `cargo bench --bench decrypt -- --test` runs each once.

use std::hint::black_box;

use aes::Aes128;
use aes::cipher::array::Array;
use aes::cipher::{BlockModeEncrypt, KeyInit, KeyIvInit, consts};
use aes_gcm::AeadInOut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};

use ike_sniff::decode::decrypt::cipher::{Integrity, open_esp};
use ike_sniff::keys::{Encr, Integ};

/// ESP packet size (SPI to the end of the ICV).
const PACKET: usize = 1400;
const SPI_SEQ: [u8; 8] = [0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 42];

/// An inner IPv4 packet of `len` bytes (the length field says so), then the ESP trailer padded
/// to `align` with next header 4.
fn plaintext(len: usize, align: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| i as u8).collect();
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    let pad = (align - (len + 2) % align) % align;
    p.extend((1..=pad).map(|i| i as u8));
    p.extend([pad as u8, 4]);
    p
}

fn gcm_packet(key: &[u8]) -> Vec<u8> {
    let iv = [7u8; 8];
    // 8 SPI/seq + 8 IV + payload + 16 tag = 1400
    let mut buf = plaintext(PACKET - 8 - 8 - 16 - 2, 4);
    let gcm = aes_gcm::AesGcm::<Aes128, consts::U12>::new_from_slice(&key[..16]).unwrap();
    let mut nonce = Array::<u8, consts::U12>::default();
    nonce[..4].copy_from_slice(&key[16..]);
    nonce[4..].copy_from_slice(&iv);
    let tag = gcm
        .encrypt_inout_detached(&nonce, &SPI_SEQ, buf.as_mut_slice().into())
        .unwrap();
    [&SPI_SEQ[..], &iv, &buf, &tag].concat()
}

fn cbc_hmac_packet<M: Mac + KeyInit>(key: &[u8], auth: &[u8], icv: usize) -> Vec<u8> {
    let iv = [9u8; 16];
    // 8 SPI/seq + 16 IV + ciphertext (a multiple of 16) + ICV ≤ 1400
    let ct_len = (PACKET - 8 - 16 - icv) / 16 * 16;
    let mut buf = plaintext(ct_len - 2, 16);
    assert_eq!(buf.len(), ct_len);
    let mut enc = cbc::Encryptor::<Aes128>::new_from_slices(key, &iv).unwrap();
    let (blocks, _) = Array::<u8, consts::U16>::slice_as_chunks_mut(&mut buf);
    enc.encrypt_blocks(blocks);
    let body = [&SPI_SEQ[..], &iv, &buf].concat();
    let mut m = <M as KeyInit>::new_from_slice(auth).unwrap();
    m.update(&body);
    let mac = m.finalize().into_bytes();
    [&body[..], &mac[..icv]].concat()
}

fn esp(c: &mut Criterion) {
    let gcm_key: Vec<u8> = (0u8..20).collect();
    let cbc_key: Vec<u8> = (0x10u8..0x20).collect();
    let sha1_key: Vec<u8> = (0x20u8..0x34).collect();
    let sha256_key: Vec<u8> = (0x40u8..0x60).collect();
    type Case<'a> = (&'a str, Encr, Integ, &'a [u8], &'a [u8], Vec<u8>);
    let cases: Vec<Case<'_>> = vec![
        (
            "aes128_gcm16",
            Encr::AesGcm { icv: 16 },
            Integ::None,
            &gcm_key,
            &[],
            gcm_packet(&gcm_key),
        ),
        (
            "aes128_cbc_hmac_sha1_96",
            Encr::AesCbc,
            Integ::HmacSha1_96,
            &cbc_key,
            &sha1_key,
            cbc_hmac_packet::<Hmac<sha1::Sha1>>(&cbc_key, &sha1_key, 12),
        ),
        (
            "aes128_cbc_hmac_sha256_128",
            Encr::AesCbc,
            Integ::HmacSha256_128,
            &cbc_key,
            &sha256_key,
            cbc_hmac_packet::<Hmac<sha2::Sha256>>(&cbc_key, &sha256_key, 16),
        ),
    ];
    let mut g = c.benchmark_group("esp_open_1400B");
    for (name, encr, integ, key, auth, pkt) in &cases {
        let mut out = Vec::with_capacity(PACKET);
        let r = open_esp(*encr, *integ, key, auth, pkt, None, &mut out);
        assert_eq!(r, Ok((Integrity::Ok, 4)), "{name}");
        assert!(
            pkt.len() <= PACKET && pkt.len() > PACKET - 16,
            "{name}: {}",
            pkt.len()
        );
        g.throughput(Throughput::Bytes(pkt.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| {
                open_esp(
                    *encr,
                    *integ,
                    key,
                    auth,
                    black_box(pkt),
                    None,
                    black_box(&mut out),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, esp);
criterion_main!(benches);
