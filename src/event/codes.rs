//! IKE code points as open newtypes: a value the registry does not know survives as its number
//! (rusticata's `IkeExchangeType(pub u8)` is the model), the constants the stages reason about
//! are named once here with the registry that assigns them, and `.name()` / `.label()` come
//! from the IANA tables in [`super::names`].
//!
//! IKEv1 and IKEv2 share the header's fields but not all registries: exchange types and
//! payload types do not overlap (IKEv1 uses 0–33 and 128+, IKEv2 34 and up), so one constant
//! set serves both, with `V1_` marking the IKEv1 payload types; notify types overlap with
//! different meanings above the common errors, so their names take the version.

use std::fmt;

use serde::Serialize;

use super::names;

macro_rules! code {
    ($(#[$doc:meta])* $name:ident($int:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $int);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        /// The number, as the registry writes it; `.name()` gives the name.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                $name(v)
            }
        }
    };
}

code!(
    /// Exchange type (IKEv1: RFC 2408 §4.1, RFC 2409 §5; IKEv2: RFC 7296 §3.1, IANA "IKEv2
    /// Exchange Types").
    ExchangeType(u8)
);

impl ExchangeType {
    /// IKEv1 Identity Protection (Main Mode), RFC 2409 §5.
    pub const MAIN: Self = Self(2);
    /// IKEv1 Aggressive Mode, RFC 2409 §5.
    pub const AGGRESSIVE: Self = Self(4);
    /// IKEv1 Informational, RFC 2408 §4.8.
    pub const INFORMATIONAL_V1: Self = Self(5);
    /// IKEv1 Transaction (Mode Config), draft-dukes-ike-mode-cfg.
    pub const TRANSACTION: Self = Self(6);
    /// IKEv1 Quick Mode, RFC 2409 §5.5.
    pub const QUICK: Self = Self(32);
    /// RFC 7296 §1.2.
    pub const IKE_SA_INIT: Self = Self(34);
    /// RFC 7296 §1.2.
    pub const IKE_AUTH: Self = Self(35);
    /// RFC 7296 §1.3.
    pub const CREATE_CHILD_SA: Self = Self(36);
    /// RFC 7296 §1.4.
    pub const INFORMATIONAL: Self = Self(37);

    pub fn name(self, version: u8) -> Option<&'static str> {
        names::exchange_name(version, self.0)
    }

    /// The name, or "exchange N" for an unassigned value.
    pub fn label(self, version: u8) -> String {
        self.name(version)
            .map_or_else(|| format!("exchange {}", self.0), str::to_string)
    }

    /// The exchange that creates an IKE SA: IKE_SA_INIT, Main or Aggressive Mode.
    pub fn is_phase1(self) -> bool {
        matches!(self, Self::IKE_SA_INIT | Self::MAIN | Self::AGGRESSIVE)
    }
}

code!(
    /// Payload type (IKEv1: RFC 2408 §3.1, RFC 3947; IKEv2: RFC 7296 §3.2, RFC 7383).
    PayloadType(u8)
);

impl PayloadType {
    pub const NONE: Self = Self(0);
    pub const V1_SA: Self = Self(1);
    pub const V1_PROPOSAL: Self = Self(2);
    pub const V1_TRANSFORM: Self = Self(3);
    pub const V1_KE: Self = Self(4);
    pub const V1_ID: Self = Self(5);
    pub const V1_CERT: Self = Self(6);
    pub const V1_CR: Self = Self(7);
    pub const V1_HASH: Self = Self(8);
    pub const V1_SIG: Self = Self(9);
    pub const V1_NONCE: Self = Self(10);
    pub const V1_N: Self = Self(11);
    pub const V1_D: Self = Self(12);
    pub const V1_VID: Self = Self(13);
    pub const V1_ATTR: Self = Self(14);
    /// RFC 3947 §3.1.
    pub const V1_NAT_D: Self = Self(20);
    /// RFC 3947 §5.1.
    pub const V1_NAT_OA: Self = Self(21);
    /// draft-ietf-ipsec-nat-t-ike-02/03, still sent by older peers.
    pub const V1_NAT_D_DRAFT: Self = Self(130);
    pub const V1_NAT_OA_DRAFT: Self = Self(131);
    /// Cisco's IKEv1 fragmentation payload (draft-ietf-ipsecme-ikev1-fragmentation).
    pub const V1_FRAGMENT: Self = Self(132);
    pub const SA: Self = Self(33);
    pub const KE: Self = Self(34);
    pub const IDI: Self = Self(35);
    pub const IDR: Self = Self(36);
    pub const CERT: Self = Self(37);
    pub const CERTREQ: Self = Self(38);
    pub const AUTH: Self = Self(39);
    pub const NONCE: Self = Self(40);
    pub const NOTIFY: Self = Self(41);
    pub const DELETE: Self = Self(42);
    pub const VENDOR_ID: Self = Self(43);
    pub const TSI: Self = Self(44);
    pub const TSR: Self = Self(45);
    pub const SK: Self = Self(46);
    pub const CP: Self = Self(47);
    pub const EAP: Self = Self(48);
    /// RFC 7383 §2.5.
    pub const SKF: Self = Self(53);

    /// The short name the packet line prints (`SA`, `KE`, `N`…).
    pub fn name(self, version: u8) -> Option<&'static str> {
        names::payload_name(version, self.0)
    }
}

code!(
    /// Notify message type (IKEv1: RFC 2408 §3.14.1; IKEv2: RFC 7296 §3.10.1 and IANA
    /// "IKEv2 Notify Message Error/Status Types").
    NotifyType(u16)
);

impl NotifyType {
    pub const INVALID_IKE_SPI: Self = Self(4);
    pub const INVALID_MAJOR_VERSION: Self = Self(5);
    pub const INVALID_SYNTAX: Self = Self(7);
    pub const INVALID_SPI: Self = Self(11);
    pub const NO_PROPOSAL_CHOSEN: Self = Self(14);
    pub const INVALID_KE_PAYLOAD: Self = Self(17);
    pub const INVALID_ID_INFORMATION: Self = Self(18);
    pub const INVALID_HASH_INFORMATION: Self = Self(23);
    pub const AUTHENTICATION_FAILED: Self = Self(24);
    pub const TS_UNACCEPTABLE: Self = Self(38);
    pub const TEMPORARY_FAILURE: Self = Self(43);
    pub const NAT_DETECTION_SOURCE_IP: Self = Self(16388);
    pub const NAT_DETECTION_DESTINATION_IP: Self = Self(16389);
    pub const COOKIE: Self = Self(16390);
    /// RFC 5685 §4.
    pub const REDIRECT: Self = Self(16407);
    /// RFC 7383 §2.3.
    pub const IKEV2_FRAGMENTATION_SUPPORTED: Self = Self(16430);
    /// RFC 3706 §5 (IKEv1 DPD).
    pub const R_U_THERE: Self = Self(36136);
    pub const R_U_THERE_ACK: Self = Self(36137);

    pub fn name(self, version: u8) -> Option<&'static str> {
        names::notify_name(version, self.0)
    }

    /// The name, or "notify N" for an unassigned value.
    pub fn label(self, version: u8) -> String {
        self.name(version)
            .map_or_else(|| format!("notify {}", self.0), str::to_string)
    }

    /// An error type (below 16384 in both versions; 0 is reserved).
    pub fn is_error(self) -> bool {
        names::is_error_notify(2, self.0)
    }

    /// A status type (16384 and up). Not the same as `!is_error()`: 0 is neither.
    pub fn is_status(self) -> bool {
        self.0 >= 16384
    }
}

code!(
    /// IKEv2 transform type (RFC 7296 §3.3.2, RFC 9370).
    TransformType(u8)
);

impl TransformType {
    pub const ENCR: Self = Self(1);
    pub const PRF: Self = Self(2);
    pub const INTEG: Self = Self(3);
    /// Diffie-Hellman group; "Key Exchange Method" since RFC 9370.
    pub const KE: Self = Self(4);
    pub const ESN: Self = Self(5);

    pub fn name(self) -> Option<&'static str> {
        names::transform_type_name(self.0)
    }
}

code!(
    /// Diffie-Hellman group / key exchange method (IANA "Transform Type 4"; IKEv1 phase-1
    /// attribute 4 uses the same numbers).
    DhGroup(u16)
);

impl DhGroup {
    /// strongSwan's short name (`MODP_2048`, `ECP_256`…).
    pub fn name(self) -> Option<&'static str> {
        names::dh_group_name(self.0)
    }

    /// "MODP_1024 (group 2)": the name and the number operators configure.
    pub fn label(self) -> String {
        match self.name() {
            Some(n) => format!("{n} (group {})", self.0),
            None => format!("group {}", self.0),
        }
    }
}

code!(
    /// Identification type (IKEv1: RFC 2407 §4.6.2.1; IKEv2: RFC 7296 §3.5).
    IdType(u8)
);

impl IdType {
    pub fn name(self, version: u8) -> Option<&'static str> {
        names::id_type_name(version, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_survive_and_fall_back_to_numbers() {
        assert_eq!(ExchangeType(200).label(2), "exchange 200");
        assert_eq!(ExchangeType::IKE_AUTH.label(2), "IKE_AUTH");
        assert_eq!(NotifyType(9999).label(2), "notify 9999");
        assert_eq!(
            NotifyType::NO_PROPOSAL_CHOSEN.label(1),
            "NO_PROPOSAL_CHOSEN"
        );
        assert_eq!(DhGroup(14).label(), "MODP_2048 (group 14)");
        assert_eq!(DhGroup(999).label(), "group 999");
        assert!(NotifyType::TS_UNACCEPTABLE.is_error());
        assert!(!NotifyType::COOKIE.is_error());
        assert!(ExchangeType::MAIN.is_phase1() && !ExchangeType::QUICK.is_phase1());
        assert_eq!(
            serde_json::to_string(&ExchangeType::IKE_SA_INIT).unwrap(),
            "34"
        );
        assert_eq!(format!("{:?}", PayloadType::SKF), "PayloadType(53)");
    }

    /// The constants name what the registries say they are.
    #[test]
    fn constants_agree_with_the_iana_tables() {
        for (x, v, name) in [
            (ExchangeType::MAIN, 1, "Identity Protection (Main Mode)"),
            (ExchangeType::AGGRESSIVE, 1, "Aggressive"),
            (ExchangeType::INFORMATIONAL_V1, 1, "Informational"),
            (ExchangeType::QUICK, 1, "Quick Mode"),
            (ExchangeType::IKE_SA_INIT, 2, "IKE_SA_INIT"),
            (ExchangeType::CREATE_CHILD_SA, 2, "CREATE_CHILD_SA"),
            (ExchangeType::INFORMATIONAL, 2, "INFORMATIONAL"),
        ] {
            assert_eq!(x.name(v), Some(name));
        }
        for (n, name) in [
            (NotifyType::INVALID_KE_PAYLOAD, "INVALID_KE_PAYLOAD"),
            (NotifyType::AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED"),
            (NotifyType::TS_UNACCEPTABLE, "TS_UNACCEPTABLE"),
            (NotifyType::REDIRECT, "REDIRECT"),
            (
                NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
                "IKEV2_FRAGMENTATION_SUPPORTED",
            ),
            (NotifyType::COOKIE, "COOKIE"),
        ] {
            assert_eq!(n.name(2), Some(name));
        }
        assert_eq!(NotifyType::R_U_THERE.name(1), Some("R_U_THERE"));
        assert_eq!(PayloadType::SKF.name(2), Some("SKF"));
        assert_eq!(PayloadType::V1_NAT_D.name(1), Some("NAT-D"));
        assert_eq!(TransformType::KE.name(), Some("KE"));
    }
}
