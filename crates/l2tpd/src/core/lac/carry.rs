//! The relay's state in a snapshot (a hitless upgrade, `crate::core::snapshot`): every
//! PPPoE session of every access concentrator (SESSION_ID, MAC, VLAN tags, access line),
//! every subscriber at whatever stage (its LCP link and proxy capture while negotiating,
//! the call being placed with the LNSes left to try, the call relayed), our tunnels and
//! the calls in each, the LNS lockouts, the tunnel-switched calls and the counters. The
//! new process restores it into a relay built from its configuration, whose access
//! concentrators run on the PPPoE sockets handed over: no PADT, no new discovery, no LCP.
//!
//! Not carried: a backend (RADIUS) answer awaited (an upgrade waits for none to be in
//! flight), discovery half done (the cookie secret is fresh: a PADR answering an old PADO
//! is refused and the subscriber sends a PADI again), and the PADI rate limits.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use l2tp_proto::data::SessionKey;
use l2tp_wire::TunnelId;

use super::steer::{Lockouts, TunnelKey};
use super::{Lac, LacCounters, Stage, Subscriber, SubscriberId, TunnelUse};

/// [`Lac`]'s carried state, borrowed for a snapshot.
#[derive(serde::Serialize)]
pub(crate) struct LacStateRef<'a> {
    acs: Vec<Option<pppoe::ac::Carried>>,
    subscribers: &'a HashMap<SubscriberId, Subscriber>,
    by_call: &'a HashMap<SessionKey, SubscriberId>,
    tunnels: &'a HashMap<TunnelKey, Vec<TunnelId>>,
    tunnel_use: &'a HashMap<TunnelId, TunnelUse>,
    lockouts: &'a Lockouts,
    counters: LacCounters,
    next_auth_ticket: u64,
    switched: &'a HashMap<u16, SessionKey>,
    by_incoming: &'a HashMap<SessionKey, SubscriberId>,
    next_switched: u16,
    switch_early: &'a HashMap<SubscriberId, Vec<Vec<u8>>>,
}

/// [`LacStateRef`], owned (the same fields in the same order: postcard is positional).
#[derive(serde::Deserialize)]
pub(crate) struct LacState {
    acs: Vec<Option<pppoe::ac::Carried>>,
    subscribers: HashMap<SubscriberId, Subscriber>,
    by_call: HashMap<SessionKey, SubscriberId>,
    tunnels: HashMap<TunnelKey, Vec<TunnelId>>,
    tunnel_use: HashMap<TunnelId, TunnelUse>,
    lockouts: Lockouts,
    counters: LacCounters,
    next_auth_ticket: u64,
    switched: HashMap<u16, SessionKey>,
    by_incoming: HashMap<SessionKey, SubscriberId>,
    next_switched: u16,
    switch_early: HashMap<SubscriberId, Vec<Vec<u8>>>,
}

impl LacState {
    /// PPPoE subscribers and switched calls carried.
    pub fn subscribers(&self) -> usize {
        self.subscribers.len()
    }
}

impl Lac {
    /// The state a snapshot carries.
    pub(crate) fn carried(&self) -> LacStateRef<'_> {
        LacStateRef {
            acs: self
                .acs
                .iter()
                .map(|ac| ac.as_ref().map(|a| a.carried()))
                .collect(),
            subscribers: &self.subscribers,
            by_call: &self.by_call,
            tunnels: &self.tunnels,
            tunnel_use: &self.tunnel_use,
            lockouts: &self.lockouts,
            counters: self.counters,
            next_auth_ticket: self.next_auth_ticket,
            switched: &self.switched,
            by_incoming: &self.by_incoming,
            next_switched: self.next_switched,
            switch_early: &self.switch_early,
        }
    }

    /// Whether `state` fits this relay (as many PPPoE interfaces, each one open here where
    /// it was there); why not.
    pub(crate) fn check_carried(&self, state: &LacState) -> Result<(), String> {
        if state.acs.len() != self.acs.len() {
            return Err(format!(
                "the snapshot has {} PPPoE interfaces, this relay {}",
                state.acs.len(),
                self.acs.len()
            ));
        }
        if let Some(i) =
            (0..self.acs.len()).find(|&i| state.acs[i].is_some() && self.acs[i].is_none())
        {
            return Err(format!(
                "PPPoE interface {} is not open in this process",
                self.settings.interfaces[i]
            ));
        }
        Ok(())
    }

    /// Replaces the relay's state with `state` (checked with [`Lac::check_carried`]): the
    /// access concentrators take their sessions back, negotiating links get this relay's
    /// PPP settings again, and their timers are queued.
    pub(crate) fn carry_on(&mut self, state: LacState) {
        for (ac, carried) in self.acs.iter_mut().zip(state.acs) {
            if let (Some(ac), Some(c)) = (ac.as_mut(), carried) {
                ac.carry_on(c);
            }
        }
        self.subscribers = state.subscribers;
        self.by_call = state.by_call;
        self.tunnels = state.tunnels;
        self.tunnel_use = state.tunnel_use;
        self.lockouts = state.lockouts;
        self.counters = state.counters;
        self.next_auth_ticket = state.next_auth_ticket;
        self.switched = state.switched;
        self.by_incoming = state.by_incoming;
        self.next_switched = state.next_switched;
        self.switch_early = state.switch_early;
        self.timers.clear();
        for (&(iface, id), s) in self.subscribers.iter_mut() {
            let Stage::Negotiating { link, timer, .. } = &mut s.stage else {
                continue;
            };
            // As `subscriber_up` built it: the MRU follows the session's PPPoE payload.
            let mru = self
                .acs
                .get(iface)
                .and_then(Option::as_ref)
                .and_then(|ac| ac.session(id))
                .map(|i| i.max_mru());
            let mut cfg = self.link_config.clone();
            if let Some(mru) = mru.filter(|m| *m != cfg.mru) {
                let mut c = (*cfg).clone();
                c.mru = mru;
                cfg = Arc::new(c);
            }
            link.reattach(cfg);
            if let Some(t) = *timer {
                self.timers.push(Reverse((t, (iface, id))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use l2tp_wire::SessionId;

    use super::*;
    use crate::core::lac::{LacSettings, RealmTable};

    fn settings(interfaces: usize) -> LacSettings {
        LacSettings {
            interfaces: (0..interfaces).map(|i| format!("eth{i}")).collect(),
            ac_name: "ac".into(),
            services: Vec::new(),
            steering: RealmTable::default(),
            lockout: Duration::from_secs(60),
            radius: false,
            switching: true,
            send_proxy: Vec::new(),
            auth_methods: vec![ppp::AuthMethod::ChapMd5],
            max_sessions: 10,
            max_sessions_per_mac: 2,
            max_payload: None,
            padi_rate: 10,
            vlan_trunk: false,
        }
    }

    fn carried(lac: &Lac, now: Instant) -> Vec<u8> {
        l2tp_snap::with_clock(now, || postcard::to_allocvec(&lac.carried())).expect("encodes")
    }

    fn read(bytes: &[u8], now: Instant) -> LacState {
        l2tp_snap::with_clock(now, || postcard::from_bytes(bytes)).expect("decodes")
    }

    #[test]
    fn lockouts_switched_calls_and_counters_are_carried_with_their_remaining_time() {
        let now = Instant::now();
        let mut lac = Lac::new(settings(1));
        lac.open_interface(0, [2, 0, 0, 0, 0, 1], b"secret", now);
        let dead: SocketAddr = "192.0.2.7:1701".parse().expect("addr");
        lac.lockouts.lock(dead, now, Duration::from_secs(60));
        lac.counters.lockouts = 1;
        let incoming = SessionKey::new(TunnelId(3), SessionId(4));
        lac.switched.insert(9, incoming);
        lac.by_incoming
            .insert(incoming, (super::super::switch::SWITCHED, 9));
        lac.next_switched = 10;
        let bytes = carried(&lac, now);

        // Restored 10 s later (a slow new process): 60 s of lockout still ahead.
        let later = now + Duration::from_secs(10);
        let mut fresh = Lac::new(settings(1));
        fresh.open_interface(0, [2, 0, 0, 0, 0, 1], b"another", later);
        let state = read(&bytes, later);
        fresh.check_carried(&state).expect("fits");
        fresh.carry_on(state);
        let locked = |l: &Lac, at| l.lockouts.locked(at).collect::<Vec<_>>();
        assert_eq!(locked(&fresh, later + Duration::from_secs(59)), vec![dead]);
        assert!(locked(&fresh, later + Duration::from_secs(61)).is_empty());
        assert_eq!(fresh.counters.lockouts, 1);
        assert_eq!(fresh.switched.get(&9), Some(&incoming));
        assert_eq!(fresh.by_incoming.get(&incoming), Some(&(usize::MAX, 9)));
        assert_eq!(fresh.next_switched, 10);
    }

    #[test]
    fn a_relay_with_other_interfaces_refuses_the_state() {
        let now = Instant::now();
        let mut lac = Lac::new(settings(2));
        lac.open_interface(0, [2, 0, 0, 0, 0, 1], b"s", now);
        lac.open_interface(1, [2, 0, 0, 0, 0, 2], b"s", now);
        let bytes = carried(&lac, now);
        let fewer = Lac::new(settings(1));
        let e = fewer.check_carried(&read(&bytes, now)).unwrap_err();
        assert!(e.contains("2 PPPoE interfaces"), "{e}");
        let mut closed = Lac::new(settings(2));
        closed.open_interface(0, [2, 0, 0, 0, 0, 1], b"s", now);
        let e = closed.check_carried(&read(&bytes, now)).unwrap_err();
        assert!(e.contains("eth1"), "{e}");
    }
}
