//! Decryption of IKEv1, IKEv2 SK/SKF and ESP with operator-supplied keys (issue 12).

pub mod cipher;
