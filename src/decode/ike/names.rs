//! Names for IKE code points, from the IANA registries.

/// Exchange type name: IKEv1 (RFC 2408 §3.1, RFC 2409) or IKEv2 (IANA "IKEv2 Exchange Types").
pub fn exchange_name(version: u8, exchange: u8) -> Option<&'static str> {
    let _ = (version, exchange);
    None
}

// Placeholders until the full tables land from their branch.
pub fn payload_name(_version: u8, _payload_type: u8) -> Option<&'static str> {
    None
}
pub fn notify_name(_version: u8, _notify_type: u16) -> Option<&'static str> {
    None
}
pub fn is_error_notify(version: u8, notify_type: u16) -> bool {
    if version == 2 {
        notify_type < 16384
    } else {
        notify_type < 8192
    }
}
pub fn transform_id_name(_transform_type: u8, _id: u16) -> Option<&'static str> {
    None
}
pub fn v1_transform_id_name(_protocol: u8, _id: u16) -> Option<&'static str> {
    None
}
pub fn v1_attribute_name(_phase: u8, _attr_type: u16) -> Option<&'static str> {
    None
}
pub fn v1_attribute_value_name(_phase: u8, _attr_type: u16, _value: u64) -> Option<&'static str> {
    None
}
pub fn protocol_name(_version: u8, _protocol: u8) -> Option<&'static str> {
    None
}
pub fn dh_group_name(_group: u16) -> Option<&'static str> {
    None
}
pub fn vendor_id_name(_vid: &[u8]) -> Option<String> {
    None
}
pub fn id_type_name(_version: u8, _id_type: u8) -> Option<&'static str> {
    None
}
pub fn cert_encoding_name(_enc: u8) -> Option<&'static str> {
    None
}
pub fn auth_method_name(_method: u8) -> Option<&'static str> {
    None
}
