//! `l2tpd` library: the daemon, as a sans-IO core inside an I/O shell.
//!
//! The core decides, the shell does the syscalls: `core::Core::handle(now, Input)` then the
//! shell drains the core's outputs (datagrams, TUN writes, interface operations, replies).
//! One room per job:
//!
//! * [`core`]: the sans-IO core — `handle(now, Input)`, outputs drained after each batch;
//!   * `core::sessions`: the session table, one insert and one remove keeping every index in step;
//!   * `core::session`: one session's state, shaped by its stage (establishing, admitted);
//!   * `core::admission`: tunnel and call admission (limits, per-source rate, shutdown);
//!   * `core::aaa`: the authentication backend seam (local users; asynchronous backends);
//!   * `core::datapath`: the datapath backend seam (the userspace datapath);
//!   * `core::frames`: frames and packets between the datapath, the PPP links and the TUNs;
//!   * `core::events`: control-plane and PPP events turned into session life;
//!   * `core::dialler`: tunnels and calls we place, redial, name resolution requests;
//!   * `core::ip_policy`: addresses, routes, Router Advertisements as operations;
//!   * `core::manage`: management requests and replies;
//!   * `core::radius`, `core::deadlines`, `core::shaper`: RADIUS session state and accounting,
//!     session/idle/interim deadlines in one heap, per-session rate limits;
//!   * `core::lac`, `core::proxy_lns`: the LAC relay (PPPoE into L2TP with proxy AVPs) and
//!     an LNS's use of those AVPs;
//!   * `core::quality`: line quality per session (probe loss, round trip, traffic) for 24 h;
//!   * `core::settings`, `core::output`: what a core is built from, what it emits;
//! * [`node`]: the I/O shell — sockets, poller, the clock; `node::tuns` (TUN table, operations
//!   applied), `node::tunif` (TUN devices), [`netconf`] (rtnetlink), `node::resolver` (DNS
//!   on a thread of its own), `node::radius` (RADIUS sockets), `node::pppoe` (a LAC's raw
//!   sockets), `node::kernel_backend`, `node::pppd`, `node::tc` (the kernel datapath, pppd
//!   handoff, `tc` rate limits);
//! * [`ip`]: IP packets the daemon reads and writes itself (ICMP echo, Router Advertisements,
//!   in-process IP termination);
//! * [`config`]: the TOML configuration (roles LNS, LAC, client), validated with errors that
//!   name the field, and the quick-start command-line flags that map onto it;
//! * [`check`]: `l2tpd check`, every problem of a configuration and its users file at once;
//! * [`daemon`]: a validated configuration turned into a running node, signals, metrics;
//! * [`users`]: the PPP users file;
//! * [`secret`]: secrets in configuration that never print;
//! * [`pool`]: IPv4 and IPv6 address pools;
//! * [`leases`]: which session holds which IPv4 address (pool, fixed addresses, ours);
//! * [`logging`]: log lines as text or JSON, at a level a reload can change;
//! * [`reload`]: SIGHUP and `l2tpctl reload`, what changed and what needs a restart;
//! * [`mgmt_server`]: the management socket, handing requests to the event loop;
//! * [`metrics`]: Prometheus text exposition and its HTTP endpoint;
//! * [`runas`]: becoming `daemon.user` with only the capabilities still needed;
//! * [`sd_notify`]: systemd readiness, reload, stop and watchdog notifications;
//! * [`upgrade`]: hitless upgrade, the daemon handed over to a new process (SIGUSR2,
//!   `l2tpctl upgrade`);
//! * [`addr`]: typed address prefixes;
//! * [`demo`], [`demo_netns`], [`loadgen`]: the demo and the load generator.

pub mod addr;
pub mod check;
pub mod config;
pub mod core;
pub mod daemon;
pub mod demo;
pub mod demo_netns;
pub mod ip;
pub mod journal;
pub mod leases;
pub mod loadgen;
pub mod logging;
pub mod metrics;
pub mod mgmt_server;
pub mod node;
pub use node::netconf;
pub mod pool;
pub mod reload;
pub mod runas;
pub mod sd_notify;
pub mod secret;
pub mod upgrade;
pub mod users;
