//! Typed control messages (RFC 2661 §6): one struct per message with the required AVPs as
//! plain fields and the optional ones as `Option`s, and [`ControlMessage`] over all of them.
//!
//! Decoding ([`ControlMessage::decode`]) takes the AVP area (the bytes after the control
//! header), checks that the Message Type AVP comes first, unhides hidden AVPs with the shared
//! secret and the latest preceding Random Vector (§4.3), and fails with
//! [`DecodeError::MissingAvp`] when a required AVP is absent. AVPs it does not recognise are
//! kept in `unknown` with their M bit: the state machine applies §4.1 (ignore when M = 0, tear
//! down when M = 1). Encoding writes the Message Type AVP first, then the AVPs in §6 order
//! (when hiding, a Random Vector right before the first hidden one), then the unknown ones.

use std::borrow::Cow;
use std::fmt;

use crate::avp::{
    encode_raw, header_bytes, AvpFlags, AvpIter, AvpType, UnknownAvp, AVP_HEADER_LEN, AVP_MAX_LEN,
    VENDOR_IETF,
};
use crate::error::{DecodeError, EncodeError};
use crate::hidden::{hide, unhide};
use crate::ids::{SessionId, TunnelId};
use crate::result::ResultCode;
use crate::values::{
    Accm, AvpValue, BearerCapabilities, BearerType, CallErrors, FramingCapabilities, FramingType,
    ProtocolVersion, ProxyAuthenType, Q931Cause,
};

/// A control message type (the value of the Message Type AVP; open enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MessageType(pub u16);

impl MessageType {
    /// 1: Start-Control-Connection-Request.
    pub const SCCRQ: MessageType = MessageType(1);
    /// 2: Start-Control-Connection-Reply.
    pub const SCCRP: MessageType = MessageType(2);
    /// 3: Start-Control-Connection-Connected.
    pub const SCCCN: MessageType = MessageType(3);
    /// 4: Stop-Control-Connection-Notification.
    pub const STOPCCN: MessageType = MessageType(4);
    /// 6: Hello.
    pub const HELLO: MessageType = MessageType(6);
    /// 7: Outgoing-Call-Request.
    pub const OCRQ: MessageType = MessageType(7);
    /// 8: Outgoing-Call-Reply.
    pub const OCRP: MessageType = MessageType(8);
    /// 9: Outgoing-Call-Connected.
    pub const OCCN: MessageType = MessageType(9);
    /// 10: Incoming-Call-Request.
    pub const ICRQ: MessageType = MessageType(10);
    /// 11: Incoming-Call-Reply.
    pub const ICRP: MessageType = MessageType(11);
    /// 12: Incoming-Call-Connected.
    pub const ICCN: MessageType = MessageType(12);
    /// 14: Call-Disconnect-Notify.
    pub const CDN: MessageType = MessageType(14);
    /// 15: WAN-Error-Notify.
    pub const WEN: MessageType = MessageType(15);
    /// 16: Set-Link-Info.
    pub const SLI: MessageType = MessageType(16);

    /// The RFC 2661 §3.2 abbreviation (and RFC 4951's FSQ/FSR), `None` for other types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SCCRQ",
            2 => "SCCRP",
            3 => "SCCCN",
            4 => "StopCCN",
            6 => "HELLO",
            7 => "OCRQ",
            8 => "OCRP",
            9 => "OCCN",
            10 => "ICRQ",
            11 => "ICRP",
            12 => "ICCN",
            14 => "CDN",
            15 => "WEN",
            16 => "SLI",
            21 => "FSQ",
            22 => "FSR",
            _ => return None,
        })
    }

    /// True for messages that belong to a session (call management, §3.2), whose Session ID
    /// in the header names the call; false for tunnel-level messages.
    pub fn is_session_message(self) -> bool {
        matches!(self.0, 7..=12 | 14..=16)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "message type {}", self.0),
        }
    }
}

impl AvpValue for MessageType {
    fn decode_value(attr: AvpType, value: &[u8]) -> Result<Self, DecodeError> {
        u16::decode_value(attr, value).map(MessageType)
    }
    fn encode_value(&self, out: &mut Vec<u8>) {
        self.0.encode_value(out);
    }
}

/// How to hide AVPs when encoding (RFC 2661 §4.3). The Random Vector comes from the caller's
/// RNG (sans-IO); no padding is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hiding<'a> {
    /// The tunnel's shared secret.
    pub secret: &'a [u8],
    /// The Random Vector to send (at least 16 octets recommended by §4.4.1).
    pub random_vector: &'a [u8],
    /// Which AVP types to hide; `None` hides every type the RFC allows to be hidden. Types the
    /// RFC forbids hiding are never hidden, even when listed.
    pub only: Option<&'a [AvpType]>,
    /// Random octets that pad each Hidden AVP Subformat to a multiple of 16 octets (§4.3:
    /// "To mask the size of the data being hidden, the resulting subformat MAY be padded");
    /// up to 15 of them are used per AVP. Empty: no padding.
    pub padding: &'a [u8],
}

impl<'a> Hiding<'a> {
    /// Hides every AVP that may be hidden.
    pub const fn new(secret: &'a [u8], random_vector: &'a [u8]) -> Self {
        Hiding {
            secret,
            random_vector,
            only: None,
            padding: &[],
        }
    }

    /// Pads every hidden value to a multiple of 16 octets with octets from `random` (at least
    /// 15 of them needed for every length to be masked; fewer pad less).
    pub const fn padded(mut self, random: &'a [u8]) -> Self {
        self.padding = random;
        self
    }

    /// Restricts hiding to `types`.
    pub const fn only(mut self, types: &'a [AvpType]) -> Self {
        self.only = Some(types);
        self
    }

    fn applies(&self, attr: AvpType) -> bool {
        attr.may_be_hidden() && self.only.is_none_or(|o| o.contains(&attr))
    }
}

/// Writes AVPs of one message, hiding where asked.
struct Enc<'o, 'h> {
    out: &'o mut Vec<u8>,
    hiding: Option<Hiding<'h>>,
    scratch: Vec<u8>,
    /// Whether the Random Vector AVP has been written (once, before the first hidden AVP).
    rv_written: bool,
}

impl Enc<'_, '_> {
    fn put<T: AvpValue>(&mut self, attr: AvpType, v: &T) -> Result<(), EncodeError> {
        let flags = AvpFlags {
            mandatory: attr.rfc_mandatory(),
            hidden: false,
            reserved: 0,
        };
        match self.hiding {
            Some(h) if h.applies(attr) => self.put_hidden(attr, v, flags, h),
            _ => {
                // Cleartext: value written in place, then the header patched in front of it.
                let start = self.out.len();
                self.out.extend_from_slice(&[0; AVP_HEADER_LEN]);
                v.encode_value(self.out);
                let value_len = self.out.len() - start - AVP_HEADER_LEN;
                if value_len + AVP_HEADER_LEN > AVP_MAX_LEN {
                    self.out.truncate(start);
                    return Err(EncodeError::AvpTooLong {
                        avp: attr,
                        len: value_len,
                    });
                }
                let header = header_bytes(flags, VENDOR_IETF, attr, value_len);
                self.out[start..start + AVP_HEADER_LEN].copy_from_slice(&header);
                Ok(())
            }
        }
    }

    fn put_hidden<T: AvpValue>(
        &mut self,
        attr: AvpType,
        v: &T,
        mut flags: AvpFlags,
        h: Hiding<'_>,
    ) -> Result<(), EncodeError> {
        self.scratch.clear();
        v.encode_value(&mut self.scratch);
        // Hiding adds the 2-byte original-length prefix.
        if self.scratch.len() + 2 + AVP_HEADER_LEN > AVP_MAX_LEN {
            return Err(EncodeError::AvpTooLong {
                avp: attr,
                len: self.scratch.len() + 2,
            });
        }
        if !self.rv_written {
            // §4.3: the Random Vector "MUST precede the first AVP having an H bit of 1".
            // Written only when something is hidden, so a message with nothing to hide is
            // encoded exactly as without hiding.
            let rv_flags = AvpFlags {
                mandatory: true,
                hidden: false,
                reserved: 0,
            };
            encode_raw(
                self.out,
                rv_flags,
                VENDOR_IETF,
                AvpType::RANDOM_VECTOR,
                h.random_vector,
            )?;
            self.rv_written = true;
        }
        flags.hidden = true;
        // Subformat = 2-octet original length + value + padding, padded to 16-octet blocks
        // (the MD5 stream's block size) so the AVP's length says only how many blocks.
        let unpadded = 2 + self.scratch.len();
        let room = AVP_MAX_LEN - AVP_HEADER_LEN - unpadded;
        let pad = ((16 - unpadded % 16) % 16).min(h.padding.len()).min(room);
        let hidden = hide(
            attr,
            h.secret,
            h.random_vector,
            &self.scratch,
            &h.padding[..pad],
        );
        encode_raw(self.out, flags, VENDOR_IETF, attr, &hidden)
    }

    fn flag(&mut self, attr: AvpType) -> Result<(), EncodeError> {
        let flags = AvpFlags {
            mandatory: attr.rfc_mandatory(),
            hidden: false,
            reserved: 0,
        };
        encode_raw(self.out, flags, VENDOR_IETF, attr, &[])
    }

    fn unknown(&mut self, avps: &[UnknownAvp]) -> Result<(), EncodeError> {
        avps.iter().try_for_each(|u| u.encode(self.out))
    }
}

/// One AVP after unhiding, as the message builders see it.
enum Item<'a> {
    Known { attr: AvpType, value: Cow<'a, [u8]> },
    Unknown(UnknownAvp),
}

/// Splits off and checks the Message Type AVP, then unhides the remaining AVPs.
fn decode_items<'a>(
    avp_bytes: &'a [u8],
    secret: Option<&[u8]>,
) -> Result<(MessageType, bool, Vec<Item<'a>>), DecodeError> {
    let mut iter = AvpIter::new(avp_bytes);
    let first = match iter.next() {
        None => return Err(DecodeError::NoMessageType),
        Some(r) => r?,
    };
    // RFC 2661 §4.4.1: the Message Type AVP "MUST be the first AVP in a message"; it "may not
    // be hidden".
    if first.vendor != VENDOR_IETF
        || first.attr != AvpType::MESSAGE_TYPE
        || first.hidden
        || first.reserved != 0
    {
        return Err(DecodeError::MessageTypeNotFirst {
            vendor: first.vendor,
            attr: first.attr,
        });
    }
    let message_type = MessageType::decode_value(first.attr, first.value)?;
    let mut items = Vec::new();
    let mut random_vector: Option<&[u8]> = None;
    for raw in iter {
        let raw = raw?;
        if !raw.is_recognised() {
            items.push(Item::Unknown(UnknownAvp::from_raw(&raw)));
            continue;
        }
        if raw.attr == AvpType::RANDOM_VECTOR && !raw.hidden {
            // §4.3: "the random vector is taken from the last Random Vector AVP encountered in
            // the message prior to the AVP to be unhidden."
            random_vector = Some(raw.value);
            continue;
        }
        // Leniency (docs/wire-leniency.md): an AVP that §4.4 says MUST NOT be hidden is
        // unhidden like any other; the M bit of a recognised AVP is not checked (§4.1 applies
        // it to unrecognised AVPs only).
        let value = if raw.hidden {
            let secret = secret.ok_or(DecodeError::HiddenWithoutSecret { avp: raw.attr })?;
            let rv =
                random_vector.ok_or(DecodeError::HiddenWithoutRandomVector { avp: raw.attr })?;
            Cow::Owned(unhide(raw.attr, secret, rv, raw.value)?)
        } else {
            Cow::Borrowed(raw.value)
        };
        items.push(Item::Known {
            attr: raw.attr,
            value,
        });
    }
    Ok((message_type, first.mandatory, items))
}

macro_rules! messages {
    ($(
        $(#[$doc:meta])*
        $name:ident = $mt:ident {
            required { $( $(#[$rdoc:meta])* $rf:ident : $rt:ty = $ra:ident ),* $(,)? }
            optional { $( $(#[$odoc:meta])* $of:ident : $ot:ty = $oa:ident ),* $(,)? }
            flags { $( $(#[$fdoc:meta])* $ff:ident = $fa:ident ),* $(,)? }
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub struct $name {
                $( $(#[$rdoc])* pub $rf: $rt, )*
                $( $(#[$odoc])* pub $of: Option<$ot>, )*
                $( $(#[$fdoc])* pub $ff: bool, )*
                /// AVPs this codec does not recognise (vendor, unknown type, reserved bits),
                /// in arrival order, M bit included.
                pub unknown: Vec<UnknownAvp>,
            }

            #[allow(clippy::new_without_default)]
            impl $name {
                /// The Message Type of this message.
                pub const MESSAGE_TYPE: MessageType = MessageType::$mt;

                /// A message with its required AVPs only (optional ones `None`/`false`).
                #[allow(clippy::too_many_arguments)]
                pub fn new($( $rf: $rt ),*) -> Self {
                    $name {
                        $( $rf, )*
                        $( $of: None, )*
                        $( $ff: false, )*
                        unknown: Vec::new(),
                    }
                }

                #[allow(unused_mut, unused_variables)]
                fn from_items(items: Vec<Item<'_>>) -> Result<Self, DecodeError> {
                    $( let mut $rf: Option<$rt> = None; )*
                    $( let mut $of: Option<$ot> = None; )*
                    $( let mut $ff = false; )*
                    let mut unknown = Vec::new();
                    for item in items {
                        let (attr, value) = match item {
                            Item::Unknown(u) => {
                                unknown.push(u);
                                continue;
                            }
                            Item::Known { attr, value } => (attr, value),
                        };
                        // Leniency (docs/wire-leniency.md): a repeated AVP keeps its first
                        // value; a recognised AVP that §6 does not list for this message is
                        // ignored.
                        $( if attr == AvpType::$ra {
                            if $rf.is_none() {
                                $rf = Some(<$rt as AvpValue>::decode_value(attr, &value)?);
                            }
                            continue;
                        } )*
                        $( if attr == AvpType::$oa {
                            if $of.is_none() {
                                $of = Some(<$ot as AvpValue>::decode_value(attr, &value)?);
                            }
                            continue;
                        } )*
                        $( if attr == AvpType::$fa {
                            $ff = true;
                            continue;
                        } )*
                    }
                    Ok($name {
                        $( $rf: $rf.ok_or(DecodeError::MissingAvp {
                            message: MessageType::$mt,
                            avp: AvpType::$ra,
                        })?, )*
                        $( $of, )*
                        $( $ff, )*
                        unknown,
                    })
                }

                fn encode_avps(&self, enc: &mut Enc<'_, '_>) -> Result<(), EncodeError> {
                    $( enc.put(AvpType::$ra, &self.$rf)?; )*
                    $( if let Some(v) = &self.$of { enc.put(AvpType::$oa, v)?; } )*
                    $( if self.$ff { enc.flag(AvpType::$fa)?; } )*
                    enc.unknown(&self.unknown)
                }
            }

            impl From<$name> for ControlMessage {
                fn from(m: $name) -> Self {
                    ControlMessage::$name(m)
                }
            }
        )*

        /// Any L2TPv2 control message (a ZLB, which has no AVPs, is not a `ControlMessage`).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ControlMessage {
            $( $(#[$doc])* $name($name), )*
            /// A message type this codec does not define. The state machine applies §4.1 to
            /// the Message Type AVP's M bit.
            Unknown {
                /// The message type.
                message_type: MessageType,
                /// M bit of the Message Type AVP.
                mandatory: bool,
                /// Every AVP after the Message Type AVP, as received (hidden ones stay hidden).
                avps: Vec<UnknownAvp>,
            },
        }

        impl ControlMessage {
            /// The message's type.
            pub fn message_type(&self) -> MessageType {
                match self {
                    $( ControlMessage::$name(_) => MessageType::$mt, )*
                    ControlMessage::Unknown { message_type, .. } => *message_type,
                }
            }

            /// The unrecognised AVPs the message carried.
            pub fn unknown_avps(&self) -> &[UnknownAvp] {
                match self {
                    $( ControlMessage::$name(m) => &m.unknown, )*
                    ControlMessage::Unknown { avps, .. } => avps,
                }
            }

            /// Decodes the AVP area of a control message (the bytes after the header).
            ///
            /// `secret` is the tunnel's shared secret, needed only if the peer hides AVPs.
            pub fn decode(avp_bytes: &[u8], secret: Option<&[u8]>) -> Result<Self, DecodeError> {
                let (message_type, mandatory, items) = decode_items(avp_bytes, secret)?;
                match message_type {
                    $( MessageType::$mt => $name::from_items(items).map(ControlMessage::$name), )*
                    _ => {
                        // Unknown message: everything after the Message Type AVP is kept raw.
                        let avps = AvpIter::new(avp_bytes)
                            .skip(1)
                            .map(|r| r.map(|raw| UnknownAvp::from_raw(&raw)))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(ControlMessage::Unknown { message_type, mandatory, avps })
                    }
                }
            }

            /// Appends the AVP area of the message to `out`: Message Type AVP first, then the
            /// message's AVPs; with `hiding`, a Random Vector AVP precedes the first hidden one.
            pub fn encode(&self, out: &mut Vec<u8>, hiding: Option<Hiding<'_>>) -> Result<(), EncodeError> {
                let mandatory = match self {
                    ControlMessage::Unknown { mandatory, .. } => *mandatory,
                    _ => true,
                };
                let mt = self.message_type();
                encode_raw(out, AvpFlags { mandatory, hidden: false, reserved: 0 },
                    VENDOR_IETF, AvpType::MESSAGE_TYPE, &mt.0.to_be_bytes())?;
                let mut enc = Enc { out, hiding, scratch: Vec::new(), rv_written: false };
                match self {
                    $( ControlMessage::$name(m) => m.encode_avps(&mut enc), )*
                    ControlMessage::Unknown { avps, .. } => enc.unknown(avps),
                }
            }
        }
    };
}

messages! {
    /// Start-Control-Connection-Request (RFC 2661 §6.1).
    Sccrq = SCCRQ {
        required {
            /// Protocol Version (1.0).
            protocol_version: ProtocolVersion = PROTOCOL_VERSION,
            /// Host Name of the sender.
            host_name: Vec<u8> = HOST_NAME,
            /// Framing Capabilities.
            framing_capabilities: FramingCapabilities = FRAMING_CAPABILITIES,
            /// The sender's tunnel id (the id the receiver must put in headers it sends).
            assigned_tunnel_id: TunnelId = ASSIGNED_TUNNEL_ID,
        }
        optional {
            /// Bearer Capabilities.
            bearer_capabilities: BearerCapabilities = BEARER_CAPABILITIES,
            /// Receive Window Size (default 4 when absent, §5.8).
            receive_window_size: u16 = RECEIVE_WINDOW_SIZE,
            /// Challenge for tunnel authentication.
            challenge: Vec<u8> = CHALLENGE,
            /// Tie Breaker.
            tie_breaker: [u8; 8] = TIE_BREAKER,
            /// Firmware Revision.
            firmware_revision: u16 = FIRMWARE_REVISION,
            /// Vendor Name.
            vendor_name: Vec<u8> = VENDOR_NAME,
        }
        flags {}
    }

    /// Start-Control-Connection-Reply (RFC 2661 §6.2).
    Sccrp = SCCRP {
        required {
            /// Protocol Version (1.0).
            protocol_version: ProtocolVersion = PROTOCOL_VERSION,
            /// Framing Capabilities.
            framing_capabilities: FramingCapabilities = FRAMING_CAPABILITIES,
            /// Host Name of the sender.
            host_name: Vec<u8> = HOST_NAME,
            /// The sender's tunnel id.
            assigned_tunnel_id: TunnelId = ASSIGNED_TUNNEL_ID,
        }
        optional {
            /// Bearer Capabilities.
            bearer_capabilities: BearerCapabilities = BEARER_CAPABILITIES,
            /// Firmware Revision.
            firmware_revision: u16 = FIRMWARE_REVISION,
            /// Vendor Name.
            vendor_name: Vec<u8> = VENDOR_NAME,
            /// Receive Window Size.
            receive_window_size: u16 = RECEIVE_WINDOW_SIZE,
            /// Challenge for tunnel authentication.
            challenge: Vec<u8> = CHALLENGE,
            /// Response to the SCCRQ's Challenge: `challenge_response(2, secret, challenge)`.
            challenge_response: [u8; 16] = CHALLENGE_RESPONSE,
        }
        flags {}
    }

    /// Start-Control-Connection-Connected (RFC 2661 §6.3).
    Scccn = SCCCN {
        required {}
        optional {
            /// Response to the SCCRP's Challenge: `challenge_response(3, secret, challenge)`.
            challenge_response: [u8; 16] = CHALLENGE_RESPONSE,
        }
        flags {}
    }

    /// Stop-Control-Connection-Notification (RFC 2661 §6.4).
    StopCcn = STOPCCN {
        required {
            /// The sender's tunnel id.
            assigned_tunnel_id: TunnelId = ASSIGNED_TUNNEL_ID,
            /// Why the tunnel is being closed.
            result_code: ResultCode = RESULT_CODE,
        }
        optional {}
        flags {}
    }

    /// Hello keepalive (RFC 2661 §6.5).
    Hello = HELLO {
        required {}
        optional {}
        flags {}
    }

    /// Outgoing-Call-Request (RFC 2661 §6.9).
    Ocrq = OCRQ {
        required {
            /// The sender's session id.
            assigned_session_id: SessionId = ASSIGNED_SESSION_ID,
            /// Call Serial Number.
            call_serial_number: u32 = CALL_SERIAL_NUMBER,
            /// Minimum BPS.
            minimum_bps: u32 = MINIMUM_BPS,
            /// Maximum BPS.
            maximum_bps: u32 = MAXIMUM_BPS,
            /// Bearer Type.
            bearer_type: BearerType = BEARER_TYPE,
            /// Framing Type.
            framing_type: FramingType = FRAMING_TYPE,
            /// Called Number.
            called_number: Vec<u8> = CALLED_NUMBER,
        }
        optional {
            /// Sub-Address.
            sub_address: Vec<u8> = SUB_ADDRESS,
        }
        flags {}
    }

    /// Outgoing-Call-Reply (RFC 2661 §6.10).
    Ocrp = OCRP {
        required {
            /// The sender's session id.
            assigned_session_id: SessionId = ASSIGNED_SESSION_ID,
        }
        optional {
            /// Physical Channel ID.
            physical_channel_id: u32 = PHYSICAL_CHANNEL_ID,
        }
        flags {}
    }

    /// Outgoing-Call-Connected (RFC 2661 §6.11).
    Occn = OCCN {
        required {
            /// (Tx) Connect Speed in bits per second.
            tx_connect_speed: u32 = TX_CONNECT_SPEED,
            /// Framing Type.
            framing_type: FramingType = FRAMING_TYPE,
        }
        optional {
            /// Rx Connect Speed.
            rx_connect_speed: u32 = RX_CONNECT_SPEED,
        }
        flags {
            /// Sequencing Required AVP present: data messages must carry sequence numbers.
            sequencing_required = SEQUENCING_REQUIRED,
        }
    }

    /// Incoming-Call-Request (RFC 2661 §6.6).
    Icrq = ICRQ {
        required {
            /// The sender's session id.
            assigned_session_id: SessionId = ASSIGNED_SESSION_ID,
            /// Call Serial Number.
            call_serial_number: u32 = CALL_SERIAL_NUMBER,
        }
        optional {
            /// Bearer Type.
            bearer_type: BearerType = BEARER_TYPE,
            /// Physical Channel ID.
            physical_channel_id: u32 = PHYSICAL_CHANNEL_ID,
            /// Calling Number.
            calling_number: Vec<u8> = CALLING_NUMBER,
            /// Called Number.
            called_number: Vec<u8> = CALLED_NUMBER,
            /// Sub-Address.
            sub_address: Vec<u8> = SUB_ADDRESS,
        }
        flags {}
    }

    /// Incoming-Call-Reply (RFC 2661 §6.7).
    Icrp = ICRP {
        required {
            /// The sender's session id.
            assigned_session_id: SessionId = ASSIGNED_SESSION_ID,
        }
        optional {}
        flags {}
    }

    /// Incoming-Call-Connected (RFC 2661 §6.8).
    Iccn = ICCN {
        required {
            /// (Tx) Connect Speed in bits per second.
            tx_connect_speed: u32 = TX_CONNECT_SPEED,
            /// Framing Type.
            framing_type: FramingType = FRAMING_TYPE,
        }
        optional {
            /// Initial Received LCP CONFREQ (proxy LCP).
            initial_received_lcp_confreq: Vec<u8> = INITIAL_RECEIVED_LCP_CONFREQ,
            /// Last Sent LCP CONFREQ (proxy LCP).
            last_sent_lcp_confreq: Vec<u8> = LAST_SENT_LCP_CONFREQ,
            /// Last Received LCP CONFREQ (proxy LCP).
            last_received_lcp_confreq: Vec<u8> = LAST_RECEIVED_LCP_CONFREQ,
            /// Proxy Authen Type.
            proxy_authen_type: ProxyAuthenType = PROXY_AUTHEN_TYPE,
            /// Proxy Authen Name.
            proxy_authen_name: Vec<u8> = PROXY_AUTHEN_NAME,
            /// Proxy Authen Challenge.
            proxy_authen_challenge: Vec<u8> = PROXY_AUTHEN_CHALLENGE,
            /// Proxy Authen ID (2 octets, the high one 0; kept whole).
            proxy_authen_id: u16 = PROXY_AUTHEN_ID,
            /// Proxy Authen Response.
            proxy_authen_response: Vec<u8> = PROXY_AUTHEN_RESPONSE,
            /// Private Group ID.
            private_group_id: Vec<u8> = PRIVATE_GROUP_ID,
            /// Rx Connect Speed.
            rx_connect_speed: u32 = RX_CONNECT_SPEED,
        }
        flags {
            /// Sequencing Required AVP present: data messages must carry sequence numbers.
            sequencing_required = SEQUENCING_REQUIRED,
        }
    }

    /// Call-Disconnect-Notify (RFC 2661 §6.12).
    Cdn = CDN {
        required {
            /// Why the call is being disconnected.
            result_code: ResultCode = RESULT_CODE,
            /// The sender's session id.
            assigned_session_id: SessionId = ASSIGNED_SESSION_ID,
        }
        optional {
            /// Q.931 Cause Code.
            q931_cause: Q931Cause = Q931_CAUSE_CODE,
        }
        flags {}
    }

    /// WAN-Error-Notify (RFC 2661 §6.13).
    Wen = WEN {
        required {
            /// Cumulative error counters.
            call_errors: CallErrors = CALL_ERRORS,
        }
        optional {}
        flags {}
    }

    /// Set-Link-Info (RFC 2661 §6.14).
    Sli = SLI {
        required {
            /// ACCM negotiated by the LNS.
            accm: Accm = ACCM,
        }
        optional {}
        flags {}
    }
}

impl fmt::Display for ControlMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message_type())
    }
}
