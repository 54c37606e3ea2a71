//! Where decoding a packet stopped and why: the layer, the byte, and what was wrong.

use std::fmt;

/// Where decoding stopped and why. `offset` is relative to the start of `layer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub layer: &'static str,
    pub offset: usize,
    pub message: String,
}

impl DecodeError {
    pub fn new(layer: &'static str, offset: usize, message: impl Into<String>) -> Self {
        DecodeError {
            layer,
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {:#x}: {}",
            self.layer, self.offset, self.message
        )
    }
}

impl std::error::Error for DecodeError {}
