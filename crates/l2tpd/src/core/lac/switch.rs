//! Tunnel switching (an L2TP Tunnel Switch, LTS): a call that arrives from another LAC is
//! relayed, like a PPPoE subscriber, into a new call toward an LNS chosen the same way (the
//! realm of the user its proxy authentication names, else the default group; preference,
//! weight, lockout and failover as for subscribers). The proxy LCP and authentication AVPs
//! of the incoming ICCN are passed on in ours; PPP frames are relayed both ways untouched.
//! A CDN on either side clears the other.
//!
//! A switched call is a [`super::Subscriber`] whose id names no PPPoE interface
//! ([`SWITCHED`]); its incoming call is kept in `switched`.

use std::time::Instant;

use l2tp_proto::control::{CallParams, ProxyInfo};
use l2tp_proto::data::{SessionConfig, SessionKey};
use l2tp_wire::result::ResultCode;
use l2tp_wire::{SessionId, TunnelId};
use pppoe::MacAddr;

use super::{Stage, Subscriber, SubscriberId};
use crate::core::Core;

/// The "interface" of switched calls in a [`SubscriberId`]: never a PPPoE interface's index.
pub(crate) const SWITCHED: usize = usize::MAX;

/// Frames of a switched call kept while its call toward the LNS is being placed.
const EARLY_FRAMES: usize = 8;

impl Core {
    /// An incoming call is up on a switching LAC: its datapath session, then the call toward
    /// the LNS. False when this node does not switch calls (the event is not ours).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn switch_call_up(
        &mut self,
        now: Instant,
        key: SessionKey,
        (peer_tunnel, peer_session): (TunnelId, SessionId),
        peer: std::net::SocketAddr,
        sequencing_required: bool,
        proxy: Option<Box<ProxyInfo>>,
    ) -> bool {
        if !self.lac.as_deref().is_some_and(|l| l.settings.switching) {
            return false;
        }
        self.admission.call_settled(key);
        let mut opts = self.session_options;
        opts.lns_mode = true;
        opts.send_seq |= sequencing_required;
        let cfg = SessionConfig::new(key.tunnel, key.session, peer_tunnel, peer_session, peer)
            .with_options(opts);
        if let Err(e) = self.datapath.create_session(cfg) {
            tracing::error!(session = %key, "datapath session: {e}");
            let rc = ResultCode::with_error(
                ResultCode::CDN_GENERAL_ERROR,
                ResultCode::ERROR_NO_RESOURCES,
                None,
            );
            let _ = self
                .endpoint
                .close_session(now, key.tunnel, key.session, rc);
            return true;
        }
        let lac = self.lac.as_deref_mut().expect("checked above");
        // A free id among the switched calls.
        let start = lac.next_switched;
        let Some(n) = (0..=u16::MAX)
            .map(|i| start.wrapping_add(i))
            .find(|n| !lac.subscribers.contains_key(&(SWITCHED, *n)))
        else {
            tracing::error!(session = %key, "no free switched-call id: CDN");
            let rc = ResultCode::with_error(ResultCode::CDN_NO_FACILITIES_TEMPORARY, 0, None);
            let _ = self
                .endpoint
                .close_session(now, key.tunnel, key.session, rc);
            self.datapath.remove_session(key);
            return true;
        };
        lac.next_switched = n.wrapping_add(1);
        let sid = (SWITCHED, n);
        // RFC 2661 §4.4.5 Proxy Authen Name: the user, whose realm picks the LNS.
        let user = proxy
            .as_ref()
            .and_then(|p| p.authen_name.as_ref())
            .map(|n| String::from_utf8_lossy(n).into_owned());
        lac.switched.insert(sid.1, key);
        lac.by_incoming.insert(key, sid);
        lac.subscribers.insert(
            sid,
            Subscriber {
                mac: MacAddr([0; 6]),
                user: user.clone(),
                auth: None,
                lns: None,
                // Replaced by the call placed below.
                stage: Stage::Relaying { call: key },
                since: now,
                up_frames: 0,
                down_frames: 0,
                up_bytes: 0,
                down_bytes: 0,
            },
        );
        let user = user.unwrap_or_default();
        tracing::info!(session = %key, %user, "switching the incoming call");
        let group = lac.settings.steering.group(&user);
        if group.is_empty() {
            lac.counters.no_lns += 1;
            tracing::warn!(%user, "no LNS for this user's realm: CDN");
            self.subscriber_gone(now, sid, "no LNS for this realm", true);
            return true;
        }
        let ordered = super::steer::order(group, &mut self.rng);
        let lac = self.lac.as_deref_mut().expect("checked above");
        let candidates = lac.lockouts.arrange(ordered, now);
        let params = CallParams {
            framing_type: 1,
            bearer_type: 1,
            connect_speed: 10_000_000,
            proxy,
            ..CallParams::default()
        };
        self.try_candidates(now, sid, params, candidates);
        // Frames of the incoming call that came before its ICCN was seen: kept for it.
        self.replay_early_frames(now, key);
        true
    }

    /// A frame of an incoming (switched) call: toward its LNS once that call is up. False
    /// when `key` is not a switched call.
    pub(super) fn switch_frame_in(&mut self, key: SessionKey, frame: &[u8]) -> bool {
        let Some(lac) = self.lac.as_deref_mut() else {
            return false;
        };
        let Some(sid) = lac.by_incoming.get(&key).copied() else {
            return false;
        };
        let Some(sub) = lac.subscribers.get_mut(&sid) else {
            return true;
        };
        match sub.stage {
            Stage::Relaying { call } if call != key => {
                sub.up_frames += 1;
                sub.up_bytes += frame.len() as u64;
                self.send_frame(call, &[], frame);
            }
            _ => {
                let q = lac.switch_early.entry(sid).or_default();
                if q.len() < EARLY_FRAMES {
                    q.push(frame.to_vec());
                } else {
                    lac.counters.dropped_while_calling += 1;
                }
            }
        }
        true
    }

    /// A switched call's call toward the LNS is up: the frames that waited go first.
    pub(super) fn switch_flush_early(&mut self, sid: SubscriberId, call: SessionKey) {
        let Some(q) = self
            .lac
            .as_deref_mut()
            .and_then(|l| l.switch_early.remove(&sid))
        else {
            return;
        };
        for f in q {
            self.send_frame(call, &[], &f);
        }
    }

    /// Sends a PPP frame from the LNS to a switched call's LAC.
    pub(super) fn switch_frame_out(&mut self, sid: SubscriberId, frame: &[u8]) {
        let Some(key) = self
            .lac
            .as_deref()
            .and_then(|l| l.switched.get(&sid.1).copied())
        else {
            return;
        };
        self.send_frame(key, &[], frame);
    }

    /// A switched call is over (`why`): its incoming call is cleared with a CDN unless it is
    /// already gone.
    pub(super) fn switch_gone(&mut self, now: Instant, sid: SubscriberId, why: &str, cdn: bool) {
        let Some(lac) = self.lac.as_deref_mut() else {
            return;
        };
        let Some(key) = lac.switched.remove(&sid.1) else {
            return;
        };
        lac.by_incoming.remove(&key);
        lac.switch_early.remove(&sid);
        if cdn {
            let rc = ResultCode::with_error(ResultCode::CDN_LOST_CARRIER, 0, Some(why));
            let _ = self
                .endpoint
                .close_session(now, key.tunnel, key.session, rc);
        }
        self.datapath.remove_session(key);
        self.frames.forget(key);
    }
}
