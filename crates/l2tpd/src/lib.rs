//! `l2tpd` library: everything around the daemon's event loop.
//!
//! * [`config`]: the TOML configuration (roles LNS, LAC, client), validated with errors that
//!   name the field, and the quick-start command-line flags that map onto it;
//! * [`check`]: `l2tpd check`, every problem of a configuration and its users file at once;
//! * [`users`]: the PPP users file;
//! * [`secret`]: secrets in configuration that never print;
//! * [`pool`]: IPv4 and IPv6 address pools;
//! * [`leases`]: which session holds which IPv4 address (pool, fixed addresses, ours);
//! * [`mgmt_server`]: the management socket, handing requests to the event loop;
//! * [`metrics`]: Prometheus text exposition and its HTTP endpoint;
//! * [`runas`]: becoming `daemon.user` with only the capabilities still needed;
//! * [`sd_notify`]: systemd readiness, reload, stop and watchdog notifications;
//! * [`netconf`]: interface addresses and routes over rtnetlink;
//! * [`addr`]: typed address prefixes.

pub mod addr;
pub mod check;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod demo_netns;
pub mod leases;
pub mod loadgen;
pub mod metrics;
pub mod mgmt_server;
pub mod netconf;
pub mod node;
pub mod pool;
pub mod runas;
pub mod sd_notify;
pub mod secret;
pub mod users;
