//! Names for IKE code points, from the IANA registries.

/// Exchange type name: IKEv1 (RFC 2408 §3.1, RFC 2409) or IKEv2 (IANA "IKEv2 Exchange Types").
pub fn exchange_name(version: u8, exchange: u8) -> Option<&'static str> {
    let _ = (version, exchange);
    None
}
