//! Attribute and vendor numbers (RFC 2865 §5, RFC 2866 §5, RFC 2868 §3, RFC 2869 §5,
//! RFC 3162, RFC 4818, RFC 5176 §3.5, RFC 2548 §2) as an open enum: unknown types are kept.

/// A RADIUS attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrType(pub u8);

macro_rules! attrs {
    ($($name:ident = $v:expr, $doc:expr;)*) => {
        impl AttrType { $( #[doc = $doc] pub const $name: AttrType = AttrType($v); )* }
    };
}

attrs! {
    USER_NAME = 1, "User-Name";
    USER_PASSWORD = 2, "User-Password (hidden, RFC 2865 §5.2)";
    CHAP_PASSWORD = 3, "CHAP-Password: ident + 16-octet response";
    NAS_IP_ADDRESS = 4, "NAS-IP-Address";
    NAS_PORT = 5, "NAS-Port";
    SERVICE_TYPE = 6, "Service-Type";
    FRAMED_PROTOCOL = 7, "Framed-Protocol";
    FRAMED_IP_ADDRESS = 8, "Framed-IP-Address";
    FRAMED_IP_NETMASK = 9, "Framed-IP-Netmask";
    FILTER_ID = 11, "Filter-Id";
    FRAMED_MTU = 12, "Framed-MTU";
    REPLY_MESSAGE = 18, "Reply-Message";
    FRAMED_ROUTE = 22, "Framed-Route";
    STATE = 24, "State";
    CLASS = 25, "Class";
    VENDOR_SPECIFIC = 26, "Vendor-Specific";
    SESSION_TIMEOUT = 27, "Session-Timeout";
    IDLE_TIMEOUT = 28, "Idle-Timeout";
    CALLED_STATION_ID = 30, "Called-Station-Id";
    CALLING_STATION_ID = 31, "Calling-Station-Id";
    NAS_IDENTIFIER = 32, "NAS-Identifier";
    PROXY_STATE = 33, "Proxy-State";
    ACCT_STATUS_TYPE = 40, "Acct-Status-Type";
    ACCT_DELAY_TIME = 41, "Acct-Delay-Time";
    ACCT_INPUT_OCTETS = 42, "Acct-Input-Octets";
    ACCT_OUTPUT_OCTETS = 43, "Acct-Output-Octets";
    ACCT_SESSION_ID = 44, "Acct-Session-Id";
    ACCT_AUTHENTIC = 45, "Acct-Authentic";
    ACCT_SESSION_TIME = 46, "Acct-Session-Time";
    ACCT_INPUT_PACKETS = 47, "Acct-Input-Packets";
    ACCT_OUTPUT_PACKETS = 48, "Acct-Output-Packets";
    ACCT_TERMINATE_CAUSE = 49, "Acct-Terminate-Cause";
    ACCT_INPUT_GIGAWORDS = 52, "Acct-Input-Gigawords";
    ACCT_OUTPUT_GIGAWORDS = 53, "Acct-Output-Gigawords";
    EVENT_TIMESTAMP = 55, "Event-Timestamp";
    CHAP_CHALLENGE = 60, "CHAP-Challenge";
    NAS_PORT_TYPE = 61, "NAS-Port-Type";
    TUNNEL_TYPE = 64, "Tunnel-Type (tagged)";
    TUNNEL_MEDIUM_TYPE = 65, "Tunnel-Medium-Type (tagged)";
    TUNNEL_CLIENT_ENDPOINT = 66, "Tunnel-Client-Endpoint (tagged)";
    TUNNEL_SERVER_ENDPOINT = 67, "Tunnel-Server-Endpoint (tagged)";
    TUNNEL_PASSWORD = 69, "Tunnel-Password (tagged, salt-encrypted)";
    MESSAGE_AUTHENTICATOR = 80, "Message-Authenticator (RFC 2869 §5.14)";
    TUNNEL_PRIVATE_GROUP_ID = 81, "Tunnel-Private-Group-ID (tagged)";
    TUNNEL_ASSIGNMENT_ID = 82, "Tunnel-Assignment-ID (tagged)";
    TUNNEL_PREFERENCE = 83, "Tunnel-Preference (tagged)";
    ACCT_INTERIM_INTERVAL = 85, "Acct-Interim-Interval";
    NAS_PORT_ID = 87, "NAS-Port-Id";
    FRAMED_POOL = 88, "Framed-Pool";
    TUNNEL_CLIENT_AUTH_ID = 90, "Tunnel-Client-Auth-ID (tagged)";
    TUNNEL_SERVER_AUTH_ID = 91, "Tunnel-Server-Auth-ID (tagged)";
    NAS_IPV6_ADDRESS = 95, "NAS-IPv6-Address (RFC 3162)";
    FRAMED_IPV6_PREFIX = 97, "Framed-IPv6-Prefix (RFC 3162)";
    ERROR_CAUSE = 101, "Error-Cause (RFC 5176 §3.5)";
    DELEGATED_IPV6_PREFIX = 123, "Delegated-IPv6-Prefix (RFC 4818)";
    DNS_SERVER_IPV6_ADDRESS = 169, "DNS-Server-IPv6-Address (RFC 6911)";
}

/// Vendor-Id of Microsoft (RFC 2548).
pub const VENDOR_MICROSOFT: u32 = 311;

/// Microsoft vendor attribute types (RFC 2548 §2).
pub mod ms {
    /// MS-CHAP-Error: ident + "E=eeeeeeeeee R=r C=cccc V=vvvv M=..." (§2.1.5).
    pub const CHAP_ERROR: u8 = 2;
    /// MS-CHAP-Challenge: the authenticator's challenge (§2.3.2).
    pub const CHAP_CHALLENGE: u8 = 11;
    /// MS-CHAP2-Response: ident, flags, peer challenge, reserved, NT-Response (§2.3.2).
    pub const CHAP2_RESPONSE: u8 = 25;
    /// MS-CHAP2-Success: ident + "S=" + 40 hex digits (§2.3.3).
    pub const CHAP2_SUCCESS: u8 = 26;
    /// MS-Primary-DNS-Server (§2.7.5).
    pub const PRIMARY_DNS_SERVER: u8 = 28;
    /// MS-Secondary-DNS-Server (§2.7.6).
    pub const SECONDARY_DNS_SERVER: u8 = 29;
}

/// Service-Type = Framed (RFC 2865 §5.6).
pub const SERVICE_TYPE_FRAMED: u32 = 2;
/// Service-Type = Authorize-Only (RFC 5176 §3.2).
pub const SERVICE_TYPE_AUTHORIZE_ONLY: u32 = 17;
/// Framed-Protocol = PPP (RFC 2865 §5.7).
pub const FRAMED_PROTOCOL_PPP: u32 = 1;
/// NAS-Port-Type = Virtual (RFC 2865 §5.41).
pub const NAS_PORT_TYPE_VIRTUAL: u32 = 5;
/// Tunnel-Type = L2TP (RFC 2868 §3.1).
pub const TUNNEL_TYPE_L2TP: u32 = 3;
/// Tunnel-Medium-Type = IPv4 (RFC 2868 §3.2).
pub const TUNNEL_MEDIUM_IPV4: u32 = 1;
/// Tunnel-Medium-Type = IPv6.
pub const TUNNEL_MEDIUM_IPV6: u32 = 2;

/// Whether RFC 2868 §3 gives this attribute a Tag octet that may be left out (string
/// attributes: a first octet 0x01..=0x1F is a tag, anything else is data).
pub fn has_optional_tag(t: AttrType) -> bool {
    matches!(
        t,
        AttrType::TUNNEL_CLIENT_ENDPOINT
            | AttrType::TUNNEL_SERVER_ENDPOINT
            | AttrType::TUNNEL_PRIVATE_GROUP_ID
            | AttrType::TUNNEL_ASSIGNMENT_ID
            | AttrType::TUNNEL_CLIENT_AUTH_ID
            | AttrType::TUNNEL_SERVER_AUTH_ID
    )
}
