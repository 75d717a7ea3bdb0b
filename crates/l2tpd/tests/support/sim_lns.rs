//! An LNS core in virtual time for scripted peers that run step by step (send, then wait for
//! an answer): the daemon's core built from an operator's TOML configuration, a simulated
//! network between it and any number of client addresses, management requests answered at
//! once, and its log lines kept in memory. Waiting for a datagram advances virtual time to
//! the next delivery or LNS timer, so seconds of keepalives and retransmissions take
//! microseconds, and a run replays from its seed.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Request, Response};

/// The LNS's core in virtual time: a simulated network (no loss: loopback loses nothing)
/// between it and the clients' addresses, its log lines kept in memory.
pub struct SimLns {
    /// The seed of the core and the network.
    pub seed: u64,
    state: RefCell<SimState>,
    log: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _log_guard: tracing::subscriber::DefaultGuard,
}

struct SimState {
    core: l2tpd::core::Core,
    net: l2tp_sim::Network,
    now: Instant,
    server: SocketAddr,
    /// Datagrams the LNS sent, by destination, not read yet.
    inbox: HashMap<SocketAddr, VecDeque<Vec<u8>>>,
    replies: HashMap<u64, Response>,
    next_token: u64,
    next_port: u16,
}

/// Log lines into a shared buffer.
#[derive(Clone)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SimLns {
    /// The core of `config` (an LNS's TOML, listening on `server`), from `seed`.
    pub fn new(seed: u64, server: SocketAddr, config: &str) -> SimLns {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let buf = LogBuf(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || buf.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let cfg = l2tpd::config::Config::from_toml_str(config).expect("configuration");
        let mut node = cfg.node_config().expect("valid configuration");
        node.seed = Some(seed);
        let t0 = Instant::now();
        let mut core = l2tpd::core::Core::new(node, vec![server], t0).expect("LNS core");
        // `interface_mode = "none"`: the daemon answers ICMP echo itself.
        core.set_ip_app(Box::new(l2tpd::ip::ipterm::EchoResponder::default()));
        let net = l2tp_sim::Network::new(
            seed,
            l2tp_sim::NetConfig::perfect(Duration::from_micros(50)),
        );
        SimLns {
            seed,
            state: RefCell::new(SimState {
                core,
                net,
                now: t0,
                server,
                inbox: HashMap::new(),
                replies: HashMap::new(),
                next_token: 1,
                next_port: 50_000,
            }),
            log,
            _log_guard: guard,
        }
    }

    /// The LNS's address.
    pub fn server(&self) -> SocketAddr {
        self.state.borrow().server
    }

    /// The LNS's counters (`Stats`).
    pub fn stats(&self) -> l2tp_mgmt::DaemonStats {
        match self.request(Request::Stats) {
            Response::Stats(s) => s,
            other => panic!("Stats: {other:?}"),
        }
    }

    /// Virtual time.
    pub fn now(&self) -> Instant {
        self.state.borrow().now
    }

    /// What the core logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().expect("log")).into_owned()
    }

    /// A client address of its own (127.0.0.1, a high port).
    pub fn fresh_addr(&self) -> SocketAddr {
        let mut st = self.state.borrow_mut();
        st.next_port += 1;
        SocketAddr::from(([127, 0, 0, 1], st.next_port))
    }

    /// A datagram from a client into the network.
    pub fn send(&self, from: SocketAddr, to: SocketAddr, d: &[u8]) {
        let mut st = self.state.borrow_mut();
        let now = st.now;
        st.net.send(now, from, to, d.to_vec());
    }

    /// The next datagram for `at`, waiting at most `wait` of virtual time.
    pub fn recv(&self, at: SocketAddr, wait: Duration) -> Option<Vec<u8>> {
        let mut st = self.state.borrow_mut();
        let end = st.now + wait;
        for _ in 0..1_000_000 {
            if let Some(d) = st.inbox.get_mut(&at).and_then(VecDeque::pop_front) {
                return Some(d);
            }
            if st.now >= end {
                return None;
            }
            st.step(end);
        }
        panic!("virtual time does not advance");
    }

    /// Lets `d` of virtual time pass.
    pub fn run_for(&self, d: Duration) {
        let mut st = self.state.borrow_mut();
        let end = st.now + d;
        for _ in 0..1_000_000 {
            if st.now >= end {
                return;
            }
            st.step(end);
        }
        panic!("virtual time does not advance");
    }

    /// A management request, answered at once.
    pub fn request(&self, request: Request) -> Response {
        let mut st = self.state.borrow_mut();
        let token = st.next_token;
        st.next_token += 1;
        let now = st.now;
        st.core
            .handle(now, l2tpd::core::Input::Manage { token, request });
        st.drain();
        st.replies
            .remove(&token)
            .expect("the core answers management requests at once")
    }
}

impl SimState {
    /// Advances to the next delivery or LNS timer no later than `deadline` and handles it.
    fn step(&mut self, deadline: Instant) {
        let next = [self.core.poll_timeout(), self.net.next_delivery()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= deadline => self.now = self.now.max(t),
            _ => {
                self.now = self.now.max(deadline);
                return;
            }
        }
        let now = self.now;
        while let Some(d) = self.net.pop_due(now) {
            if d.to == self.server {
                self.core.handle(
                    now,
                    l2tpd::core::Input::Datagram {
                        socket: 0,
                        from: d.from,
                        bytes: &d.payload,
                    },
                );
                self.drain();
            } else {
                self.inbox.entry(d.to).or_default().push_back(d.payload);
            }
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle(now, l2tpd::core::Input::Tick);
            self.drain();
        }
    }

    /// What the core emitted: datagrams into the network, replies kept.
    fn drain(&mut self) {
        let now = self.now;
        self.core.end_batch();
        let out = self.core.outputs();
        for (t, bytes) in out.transmits() {
            self.net.send(now, self.server, t.to, bytes.to_vec());
        }
        out.clear_packets();
        while let Some(o) = self.core.outputs().pop() {
            if let l2tpd::core::Output::Reply { token, response } = o {
                self.replies.insert(token, *response);
            }
        }
    }
}

/// A client's UDP socket in the simulation: an address of its own on the LNS's network.
pub struct SimSocket {
    /// The LNS.
    pub lns: Rc<SimLns>,
    /// Our address.
    pub addr: SocketAddr,
}

impl SimSocket {
    /// A socket at `addr`.
    pub fn bind(lns: &Rc<SimLns>, addr: SocketAddr) -> SimSocket {
        SimSocket {
            lns: lns.clone(),
            addr,
        }
    }

    /// A socket on 127.0.0.1 with a port of its own.
    pub fn any(lns: &Rc<SimLns>) -> SimSocket {
        SimSocket::bind(lns, lns.fresh_addr())
    }

    /// Sends `d` to `to`.
    pub fn send_to(&self, d: &[u8], to: SocketAddr) {
        self.lns.send(self.addr, to, d);
    }

    /// The next datagram for us, waiting at most `wait` of virtual time.
    pub fn recv(&self, wait: Duration) -> Option<Vec<u8>> {
        self.lns.recv(self.addr, wait)
    }
}

/// The last 40 lines of a log.
pub fn tail(log: &str) -> String {
    let l: Vec<&str> = log.lines().collect();
    l[l.len().saturating_sub(40)..].join("\n")
}
