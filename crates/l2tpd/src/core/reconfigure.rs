//! A reload applied to a running core: what can change without touching an established
//! session — users, the address pool grown, limits, allowed peers, session timeouts, the use
//! of proxy AVPs, a LAC's realm table, and
//! the tunnel secret for tunnels set up from now on. Sessions and tunnels already up keep
//! their addresses, ids and secrets.

use super::{Core, NodeConfig, RoleSettings};
use crate::users::Users;

impl Core {
    /// Applies the reloadable settings of `new` (a validated configuration) and `users`.
    /// Returns false when the pool could not be moved to `new`'s, which must then include
    /// the whole current range (shrinking or moving it needs a restart); everything else is
    /// applied in any case.
    pub fn reconfigure(&mut self, new: &NodeConfig, users: Option<Users>) -> bool {
        let cfg = &new.endpoint;
        self.endpoint
            .set_tunnel_auth(cfg.auth.clone(), cfg.peers.clone());
        self.endpoint.set_peer_rules(cfg.peer_rules.clone());
        let mut pool_ok = true;
        let mut timeouts_changed = false;
        if let (RoleSettings::Lns(l), RoleSettings::Lns(n)) = (&mut self.role, &new.role) {
            l.max_sessions = n.max_sessions;
            l.max_tunnels = n.max_tunnels;
            l.allowed_peers = n.allowed_peers.clone();
            timeouts_changed =
                (l.session_timeout, l.idle_timeout) != (n.session_timeout, n.idle_timeout);
            l.session_timeout = n.session_timeout;
            l.idle_timeout = n.idle_timeout;
            l.proxy = n.proxy;
            l.peer_policies = n.peer_policies.clone();
            let (want, have) = (n.pool.spec(), l.pool.spec());
            if want != have {
                pool_ok = l.pool.grow(want);
            }
        }
        if timeouts_changed {
            // The sessions' deadlines follow the new timeouts (one pass, at the reload).
            self.rearm_all_timeouts();
        }
        if let (Some(lac), RoleSettings::Lac(n)) = (self.lac.as_deref_mut(), &new.role) {
            // Calls placed from now on; calls up keep their LNS.
            lac.settings.steering = n.steering.clone();
            lac.settings.lockout = n.lockout;
            lac.settings.send_proxy = n.send_proxy.clone();
        }
        if let Some(u) = users {
            self.replace_users(u);
        }
        pool_ok
    }
}
