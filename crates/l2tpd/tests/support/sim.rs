//! Daemon cores in virtual time: an LNS core and a client core wrapped as `l2tp_sim::Node`s,
//! their outputs collected after every input the way the I/O shell drains them (datagrams
//! into the simulated network; TUN writes, interface operations, replies and
//! authentication requests kept for the test to look at or answer).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use l2tp_proto::control::EndpointConfig;
use l2tp_proto::data::{DatapathConfig, SessionKey, SessionOptions};
use l2tp_sim::{Harness, Node};
use l2tpd::core::{
    AuthRequest, ClientSettings, Core, DialPeer, Input, IpMode, IpOp, LnsSettings, NodeConfig,
    Output, RoleSettings, TunTarget,
};
use l2tpd::leases::Ipv4Leases;
use l2tpd::pool::{Ipv4Pool, Ipv4PoolSpec};
use l2tpd::users::{User, Users};

/// The LNS's address in the simulation.
pub const LNS_ADDR: &str = "192.0.2.1:1701";
/// The client's address in the simulation.
pub const CLIENT_ADDR: &str = "192.0.2.2:40000";
/// The LNS's end of every PPP link.
pub const LNS_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The first pool address.
pub const POOL_FIRST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

/// One core and what it emitted.
pub struct SimCore {
    /// The core under test.
    pub core: Core,
    /// Its first address.
    pub addr: SocketAddr,
    /// Every address it owns (socket index = position).
    pub addrs: Vec<SocketAddr>,
    /// Host names it asked to resolve: (id, host, port).
    pub resolves: Vec<(u64, String, u16)>,
    tx: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Packets written to TUNs, in order.
    pub tun_writes: Vec<(TunTarget, Vec<u8>)>,
    /// Interface and route operations, in order.
    pub ops: Vec<IpOp>,
    /// Management replies by token.
    pub replies: Vec<(u64, l2tp_mgmt::Response)>,
    /// Authentication requests waiting for the test's answer.
    pub auth_requests: Vec<AuthRequest>,
    /// Authentication requests withdrawn (their session went away unanswered).
    pub auth_cancelled: Vec<AuthRequest>,
    /// RADIUS accounting records, in order.
    pub accounting: Vec<l2tp_radius::acct::AcctRecord>,
    /// Answers to dynamic authorization requests.
    pub dae_answers: Vec<(
        l2tp_radius::dae::DaeRequest,
        Result<(), l2tp_radius::dae::ErrorCause>,
    )>,
    /// Answer `OpenSessionTun` with `InterfaceUp` (as the shell does when it succeeds).
    pub interfaces_up: bool,
    /// Every datagram the core sent, in order: (virtual time, to, bytes).
    pub wire: Vec<(Instant, SocketAddr, Vec<u8>)>,
    /// PPPoE frames a LAC core sent: (interface, Ethernet frame), in order.
    pub pppoe_out: Vec<(usize, Vec<u8>)>,
    /// The crash journal, in memory (see [`SimCore::start_journal`]).
    pub journal: Option<MemJournal>,
    next_token: u64,
}

/// A crash journal kept in memory as the shell keeps it on disk: a base snapshot and the
/// records written after it, each step's before its datagrams leave; a new base once the
/// records outgrow the old one.
#[derive(Debug, Clone, Default)]
pub struct MemJournal {
    /// The base snapshot.
    pub base: Vec<u8>,
    /// Records since the base.
    pub records: Vec<Vec<u8>>,
    /// New bases written after the first.
    pub compactions: u32,
    /// Keep every record after the first base (a test of the records' replay alone).
    pub never_compact: bool,
}

impl MemJournal {
    /// The records as slices, for `Core::replay_journal`.
    pub fn slices(&self) -> Vec<&[u8]> {
        self.records.iter().map(Vec::as_slice).collect()
    }
}

impl SimCore {
    /// Wraps `core`, bound to `addr`.
    pub fn new(core: Core, addrs: Vec<SocketAddr>) -> SimCore {
        SimCore {
            core,
            addr: addrs[0],
            addrs,
            resolves: Vec::new(),
            tx: VecDeque::new(),
            tun_writes: Vec::new(),
            ops: Vec::new(),
            replies: Vec::new(),
            auth_requests: Vec::new(),
            auth_cancelled: Vec::new(),
            accounting: Vec::new(),
            dae_answers: Vec::new(),
            interfaces_up: true,
            wire: Vec::new(),
            pppoe_out: Vec::new(),
            journal: None,
            next_token: 1,
        }
    }

    /// Starts keeping a crash journal (before the first input).
    pub fn start_journal(&mut self, now: Instant) {
        self.core.enable_journal();
        let base = self.core.journal_base(now).expect("journal base");
        self.journal = Some(MemJournal {
            base,
            ..MemJournal::default()
        });
    }

    /// Feeds one input and collects what it caused.
    pub fn input(&mut self, now: Instant, input: Input<'_>) {
        self.core.handle(now, input);
        self.collect(now);
    }

    /// A management request; its reply (if the core answered at once).
    pub fn manage(
        &mut self,
        now: Instant,
        request: l2tp_mgmt::Request,
    ) -> Option<l2tp_mgmt::Response> {
        let token = self.next_token;
        self.next_token += 1;
        self.input(now, Input::Manage { token, request });
        self.replies
            .iter()
            .position(|(t, _)| *t == token)
            .map(|i| self.replies.remove(i).1)
    }

    fn collect(&mut self, now: Instant) {
        self.core.end_batch();
        if let Some(j) = self.journal.as_mut() {
            self.core.journal_records(now, &mut j.records);
            let logged: usize = j.records.iter().map(|r| r.len() + 8).sum();
            if !j.never_compact && logged > j.base.len() {
                j.base = self.core.journal_base(now).expect("journal base");
                j.records.clear();
                j.compactions += 1;
            }
        }
        let mut feedback = Vec::new();
        let out = self.core.outputs();
        for (t, bytes) in out.transmits() {
            self.tx
                .push_back((self.addrs[t.socket], t.to, bytes.to_vec()));
            self.wire.push((now, t.to, bytes.to_vec()));
        }
        for (w, bytes) in out.tun_writes() {
            self.tun_writes.push((w.target, bytes.to_vec()));
        }
        out.clear_packets();
        self.pppoe_out.extend(
            self.core
                .pppoe_frames()
                .map(|(iface, f)| (iface, f.to_vec())),
        );
        self.core.clear_pppoe_frames();
        while let Some(o) = self.core.outputs().pop() {
            match o {
                Output::Ip(op) => {
                    if let (IpOp::OpenSessionTun { key, .. }, true) = (&op, self.interfaces_up) {
                        feedback.push((*key, format!("l2tp{}", key.session.0)));
                    }
                    self.ops.push(op);
                }
                Output::Reply { token, response } => self.replies.push((token, *response)),
                Output::Resolve { id, host, port } => self.resolves.push((id, host, port)),
                Output::Auth(req) => self.auth_requests.push(req),
                Output::AuthCancel(req) => self.auth_cancelled.push(req),
                Output::Accounting(rec) => self.accounting.push(*rec),
                Output::DaeAnswer { request, result } => self.dae_answers.push((*request, result)),
            }
        }
        for (key, ifname) in feedback {
            self.input(now, Input::InterfaceUp { key, ifname });
        }
    }
}

impl l2tp_sim::Node for SimCore {
    fn owns(&self, addr: SocketAddr) -> bool {
        self.addrs.contains(&addr)
    }
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        let socket = self.addrs.iter().position(|a| *a == local).unwrap_or(0);
        self.input(
            now,
            Input::Datagram {
                socket,
                from,
                bytes: data,
            },
        );
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.input(now, Input::Tick);
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        self.tx.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
}

/// An LNS core: user alice/secret (MS-CHAPv2), pool 203.0.113.10-20, one shared TUN.
pub fn lns_core(seed: u64, now: Instant) -> SimCore {
    lns_core_with(seed, now, None)
}

/// [`lns_core`], offering IPv6CP and a prefix per session from `ipv6_prefix` when given.
pub fn lns_core_with(seed: u64, now: Instant, ipv6_prefix: Option<&str>) -> SimCore {
    lns_core_from(lns_config(seed, ipv6_prefix), now)
}

/// [`lns_core`] asking for `methods`, with user `user` (password `secret`) and `proxy` as
/// its use of a LAC's proxy AVPs.
pub fn lns_core_for_lac(
    seed: u64,
    now: Instant,
    methods: Vec<ppp::AuthMethod>,
    user: &str,
    proxy: l2tpd::core::proxy_lns::ProxyMode,
) -> SimCore {
    let mut cfg = lns_config(seed, None);
    if let RoleSettings::Lns(l) = &mut cfg.role {
        l.auth_methods = methods;
        l.proxy = proxy;
        l.users.insert(User {
            name: user.into(),
            password: "secret".into(),
            ipv4: None,
        });
    }
    lns_core_from(cfg, now)
}

/// An LNS core built from `cfg` (see [`lns_config`]).
pub fn lns_core_from(cfg: NodeConfig, now: Instant) -> SimCore {
    let addrs = cfg.listen.clone();
    SimCore::new(Core::new(cfg, addrs.clone(), now).expect("LNS core"), addrs)
}

/// The simulated LNS's settings: alice, MS-CHAPv2, a pool of 11 addresses, a shared TUN, and
/// an IPv6 prefix pool when `ipv6_prefix` is given.
pub fn lns_config(seed: u64, ipv6_prefix: Option<&str>) -> NodeConfig {
    let ipv6_pool = ipv6_prefix
        .map(|p| l2tpd::pool::Ipv6Pool::new(p.parse().expect("IPv6 prefix")).expect("IPv6 pool"));
    let mut users = Users::new();
    users.insert(User {
        name: "alice".into(),
        password: "secret".into(),
        ipv4: None,
    });
    let pool = Ipv4PoolSpec::Range {
        first: POOL_FIRST,
        last: Ipv4Addr::new(203, 0, 113, 20),
    };
    NodeConfig {
        name: "lns".into(),
        listen: vec![LNS_ADDR.parse().expect("addr")],
        endpoint: EndpointConfig {
            host_name: "sim-lns".into(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: Some(Duration::from_secs(10)),
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        role: RoleSettings::Lns(Box::new(LnsSettings {
            auth_methods: vec![ppp::AuthMethod::MsChapV2],
            local_ipv4: LNS_IP,
            dns: [None, None],
            users,
            pool: Ipv4Leases::new(Ipv4Pool::new(pool), LNS_IP, []),
            max_sessions: 0,
            ipv6: ipv6_pool.is_some(),
            ipv6_pool,
            allowed_peers: Vec::new(),
            max_tunnels: 0,
            session_timeout: None,
            idle_timeout: None,
            proxy: Default::default(),
            peer_policies: Vec::new(),
        })),
        seed: Some(seed),
        ip_mode: IpMode::Shared {
            name: "l2tp-lns".into(),
            mtu: 1400,
        },
    }
}

/// A client core dialling [`LNS_ADDR`] as alice, `sessions` calls, one TUN per session.
pub fn client_core(seed: u64, now: Instant, sessions: u32) -> SimCore {
    let lns = DialPeer::Addr(LNS_ADDR.parse().expect("addr"));
    let listen = vec![CLIENT_ADDR.parse().expect("addr")];
    client_core_with(seed, now, sessions, vec![lns], listen)
}

/// A client core dialling `peers` from `listen` (its addresses in the simulation).
pub fn client_core_with(
    seed: u64,
    now: Instant,
    sessions: u32,
    peers: Vec<DialPeer>,
    listen: Vec<SocketAddr>,
) -> SimCore {
    client_core_from(client_config(seed, sessions, peers, listen), now)
}

/// A client core built from `cfg` (see [`client_config`]).
pub fn client_core_from(cfg: NodeConfig, now: Instant) -> SimCore {
    let addrs = cfg.listen.clone();
    SimCore::new(
        Core::new(cfg, addrs.clone(), now).expect("client core"),
        addrs,
    )
}

/// The settings of [`client_core_with`].
pub fn client_config(
    seed: u64,
    sessions: u32,
    peers: Vec<DialPeer>,
    listen: Vec<SocketAddr>,
) -> NodeConfig {
    NodeConfig {
        name: "client".into(),
        listen,
        endpoint: EndpointConfig {
            host_name: "sim-client".into(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: Some(Duration::from_secs(10)),
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        role: RoleSettings::Client(ClientSettings {
            peers,
            username: "alice".into(),
            password: "secret".into(),
            retry_password: None,
            tunnels: 1,
            sessions,
            redial_initial: Duration::from_secs(1),
            redial_max: Duration::from_secs(10),
            redial: true,
            auth_methods: Vec::new(),
            default_route: false,
            local_port: None,
            outgoing_calls: Default::default(),
        }),
        seed: Some(seed ^ 0x5eed),
        ip_mode: IpMode::PerSession {
            name: "l2tp%d".into(),
            mtu: 1400,
            routes: Vec::new(),
        },
    }
}

/// Sessions of `c` whose PPP network phase is up, with their IPv4 parameters.
pub fn up_sessions(c: &SimCore, now: Instant) -> Vec<(SessionKey, ppp::Ipv4Params)> {
    c.core
        .sessions(now)
        .into_iter()
        .filter_map(|s| s.ipv4.map(|p| (s.key, p)))
        .collect()
}

/// An ICMPv4 echo request from `src` to `dst` (checksums right).
pub fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"virtual time");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The LAC's address in the simulation.
pub const LAC_ADDR: &str = "192.0.2.3:40001";
/// The LAC's PPPoE interface address.
pub const LAC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// A relaying LAC core (one PPPoE interface, open) steering `realms` and everyone else to
/// `default`, asking subscribers for `methods`.
pub fn lac_core(
    seed: u64,
    now: Instant,
    default: Option<SocketAddr>,
    realms: Vec<(String, SocketAddr)>,
    methods: Vec<ppp::AuthMethod>,
) -> SimCore {
    let cfg = lac_config(seed, default, realms, methods);
    let addrs = cfg.listen.clone();
    let mut core = Core::new(cfg, addrs.clone(), now).expect("LAC core");
    core.open_pppoe_interface(0, LAC_MAC, now);
    SimCore::new(core, addrs)
}

/// The settings of [`lac_core`].
pub fn lac_config(
    seed: u64,
    default: Option<SocketAddr>,
    realms: Vec<(String, SocketAddr)>,
    methods: Vec<ppp::AuthMethod>,
) -> NodeConfig {
    let settings = l2tpd::core::lac::LacSettings {
        interfaces: vec!["eth-sim".into()],
        ac_name: "sim-lac".into(),
        services: Vec::new(),
        steering: l2tpd::core::lac::RealmTable::simple(realms, default),
        lockout: Duration::from_secs(60),
        radius: false,
        switching: false,
        send_proxy: Vec::new(),
        auth_methods: methods,
        max_sessions: 100,
        max_sessions_per_mac: 2,
        max_payload: None,
        padi_rate: 200,
        vlan_trunk: false,
    };
    NodeConfig {
        name: "lac".into(),
        listen: vec![LAC_ADDR.parse().expect("addr")],
        endpoint: EndpointConfig {
            host_name: "sim-lac".into(),
            ..EndpointConfig::default()
        },
        datapath: DatapathConfig::default(),
        session_options: SessionOptions::default(),
        ppp_echo_interval: None,
        ppp_mru: ppp::DEFAULT_LINK_MRU,
        ppp_echo_failures: 4,
        ppp_quality_interval: None,
        ppp_establish_timeout: Some(Duration::from_secs(60)),
        role: RoleSettings::Lac(Box::new(settings)),
        seed: Some(seed ^ 0x1ac),
        ip_mode: IpMode::App,
    }
}

/// Runs an LNS and a client core until `done` holds or `limit` of virtual time passed (and
/// at most 400,000 steps): whether `done` held.
pub fn run_until(
    h: &mut Harness,
    lns: &mut SimCore,
    client: &mut SimCore,
    limit: Duration,
    mut done: impl FnMut(&SimCore, &SimCore, Instant) -> bool,
) -> bool {
    let deadline = h.now + limit;
    for _ in 0..400_000 {
        if done(lns, client, h.now) {
            return true;
        }
        let mut nodes: [&mut dyn Node; 2] = [lns, client];
        if !h.step(&mut nodes, deadline) {
            return done(lns, client, h.now);
        }
    }
    done(lns, client, h.now)
}

/// A ping each way on every session the client has up, a few tries each (the network may be
/// lossy): true when there is a session and every ping got through.
pub fn ping_each_way(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, seq: u16) -> bool {
    let sessions = up_sessions(client, h.now);
    let far: Ipv4Addr = "192.0.2.99".parse().unwrap();
    !sessions.is_empty()
        && sessions.iter().all(|(key, p)| {
            let out = icmp_echo(p.local, far, seq);
            let back = icmp_echo(far, p.local, seq);
            (0..6).any(|_| {
                let now = h.now;
                client.input(
                    now,
                    Input::TunPacket {
                        source: TunTarget::Session(*key),
                        packet: &out,
                        segment: false,
                    },
                );
                lns.input(
                    now,
                    Input::TunPacket {
                        source: TunTarget::Shared,
                        packet: &back,
                        segment: false,
                    },
                );
                run_until(h, lns, client, Duration::from_secs(3), |l, c, _| {
                    l.tun_writes.iter().any(|(_, b)| *b == out)
                        && c.tun_writes
                            .iter()
                            .any(|(t, b)| *t == TunTarget::Session(*key) && *b == back)
                })
            })
        })
}

/// A control message that ends a tunnel or a session.
pub fn is_teardown(m: &l2tp_wire::ControlMessage) -> bool {
    matches!(
        m,
        l2tp_wire::ControlMessage::StopCcn(_) | l2tp_wire::ControlMessage::Cdn(_)
    )
}
