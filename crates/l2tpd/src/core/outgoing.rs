//! Outgoing calls (RFC 2661 §5.2, §7.5): an LNS places one on an operator's request
//! (`l2tpctl call out TID NUMBER`: OCRQ, then OCRP and OCCN from the LAC), and a LAC or
//! client answers one according to its configuration ([`OutgoingCalls`]). Also which
//! direction of call each role takes at all: an LNS takes incoming calls (ICRQ) only, a LAC
//! or client outgoing calls (OCRQ) only.
//!
//! §7.5: "The LAC MUST respond to the Outgoing-Call-Request message with an
//! Outgoing-Call-Reply message once the LAC determines that the proper facilities exist to
//! place the call and the call is administratively authorized." A call not authorized by the
//! configuration is refused with a CDN, result code 3 (administrative reasons).
//!
//! An accepted outgoing call on a dialling LAC or client is answered by a local PPP endpoint,
//! exactly like the calls it places itself: its PPP client authenticates with `[dial]`'s
//! user and password, the LNS assigns it an address, and it gets its own interface. A
//! relaying LAC (`[lac]`) has no local PPP identity and no subscriber to connect an outgoing
//! call to: it refuses every OCRQ.

use std::time::Instant;

use l2tp_proto::control::{CallKind, CallParams};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};

use super::{Core, RoleSettings};

/// What a dialling LAC or client does with an outgoing call (OCRQ) from its LNS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutgoingCalls {
    /// Refuse it: CDN with result code 3 (the default).
    #[default]
    Refuse,
    /// Accept it (OCRP, OCCN) and run our PPP client on it, as on the calls we place.
    Accept,
}

impl Core {
    /// Whether a call of `kind` may be taken here; the CDN result that refuses it if not.
    pub(super) fn call_direction_allowed(&self, kind: CallKind) -> Result<(), ResultCode> {
        let refuse = |why: &'static str| {
            Err(ResultCode::with_error(
                ResultCode::CDN_ADMINISTRATIVE,
                0,
                Some(why),
            ))
        };
        match (&self.role, kind) {
            (RoleSettings::Lns(_), CallKind::LnsIncoming) => Ok(()),
            (RoleSettings::Lns(_), _) => refuse("an LNS places no outgoing call for its peer"),
            (RoleSettings::Client(c), CallKind::LacOutgoing) => match c.outgoing_calls {
                OutgoingCalls::Accept => Ok(()),
                OutgoingCalls::Refuse => refuse("outgoing calls are not authorized here"),
            },
            // A switching LAC takes calls from other LACs (and relays them).
            (RoleSettings::Lac(l), CallKind::LnsIncoming) if l.switching => Ok(()),
            (RoleSettings::Lac(_), CallKind::LacOutgoing) => {
                refuse("a relaying LAC answers no outgoing call")
            }
            (RoleSettings::Client(_) | RoleSettings::Lac(_), _) => {
                refuse("a LAC takes no incoming call")
            }
        }
    }

    /// Refuses call `session` of `tunnel` with `result`, with a log line.
    pub(super) fn refuse_call(
        &mut self,
        now: Instant,
        tunnel: TunnelId,
        session: SessionId,
        kind: CallKind,
        result: ResultCode,
    ) {
        self.counters.sessions_refused += 1;
        if let Some(suppressed) = self.log_limit.allow(now, "call refused") {
            tracing::warn!(
                node = %self.name, %tunnel, %session, ?kind, suppressed,
                "call refused: {}", result.describe_cdn()
            );
        }
        let _ = self.endpoint.reject_call(now, tunnel, session, result);
    }

    /// `l2tpctl call out TID NUMBER` on an LNS: an OCRQ in tunnel `tunnel`.
    pub(super) fn call_out_cmd(
        &mut self,
        now: Instant,
        tunnel: u16,
        number: String,
    ) -> l2tp_mgmt::Response {
        if !matches!(self.role, RoleSettings::Lns(_)) {
            return l2tp_mgmt::Response::error(
                "call out: only an LNS places outgoing calls (RFC 2661 §7.5)",
            );
        }
        if number.is_empty() {
            return l2tp_mgmt::Response::error("call out: a number to dial is needed");
        }
        let params = CallParams {
            called_number: Some(number.clone()),
            // RFC 2661 §6.9: Bearer Type and Framing Type MUST be present; a digital,
            // synchronous call (what a PPP-over-anything LAC of ours places).
            bearer_type: 1,
            framing_type: 1,
            ..CallParams::default()
        };
        match self
            .endpoint
            .place_outgoing_call(now, TunnelId(tunnel), params)
        {
            Ok(session) => {
                tracing::info!(
                    node = %self.name, tunnel, %session, number = %number,
                    "outgoing call placed (OCRQ)"
                );
                l2tp_mgmt::Response::Dialing {
                    tunnel,
                    session: session.0,
                }
            }
            Err(e) => l2tp_mgmt::Response::error(format!("call out: {e}")),
        }
    }
}
