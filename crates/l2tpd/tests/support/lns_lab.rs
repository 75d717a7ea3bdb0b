//! A lab for the daemon-surviving tests with real processes, as root: an `l2tpd` LNS in one
//! network namespace, its peers (`l2tpd loadgen`, an `l2tpd` client with a TUN, a `ping`)
//! in another, joined by a veth pair; and what those tests read back (session sets, the
//! peers' life events, ping replies, metrics, session interfaces).
//!
//! Addresses: veth 192.0.2.1 (LNS) / 192.0.2.2 (peers); LNS end of PPP 198.51.100.1; pool
//! 203.0.113.10-250. Namespaces and processes are removed by name / pid when the lab drops.

use super::{ok, sessions, sh, wait_for};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::Client;

/// The binary under test.
pub const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// Whether this test can run here (root, `ip`, `ping`); says so loudly when not.
pub fn privileged(test: &str) -> bool {
    super::requires(
        test,
        &[
            ("root", l2tp_mgmt::is_root()),
            ("iproute2", super::have_tool("ip")),
            ("ping", super::have_tool("ping")),
        ],
    )
}

/// Two namespaces joined by a veth pair; removed on drop, with every process registered.
pub struct Lab {
    /// The LNS's namespace.
    pub lns: String,
    /// The peers' namespace.
    pub peers: String,
    dir: PathBuf,
    /// Processes to end (by pid) when the test ends.
    pids: Vec<u32>,
    /// Processes started by the lab (the first is the first LNS).
    pub children: Vec<Child>,
    /// Whether the LNS keeps a `daemon.state_dir` (in the lab's directory).
    pub state_dir: bool,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let lab = Lab {
            lns: format!("labl-{id}"),
            peers: format!("labc-{id}"),
            dir: std::env::temp_dir().join(format!("l2tpd-lab-{id}")),
            pids: Vec::new(),
            children: Vec::new(),
            state_dir: false,
        };
        let _ = std::fs::remove_dir_all(&lab.dir);
        std::fs::create_dir_all(&lab.dir).expect("temp dir");
        ok(&["ip", "netns", "add", &lab.lns]);
        ok(&["ip", "netns", "add", &lab.peers]);
        let (a, b) = (format!("v{id}a"), format!("v{id}b"));
        ok(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        ok(&["ip", "link", "set", &a, "netns", &lab.lns]);
        ok(&["ip", "link", "set", &b, "netns", &lab.peers]);
        ok(&[
            "ip",
            "-n",
            &lab.lns,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            &a,
        ]);
        ok(&[
            "ip",
            "-n",
            &lab.peers,
            "addr",
            "add",
            "192.0.2.2/24",
            "dev",
            &b,
        ]);
        for (ns, dev) in [(&lab.lns, &a), (&lab.peers, &b)] {
            ok(&["ip", "-n", ns, "link", "set", dev, "up"]);
            ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Starts `BIN ARGS` in namespace `ns`, output in `WHO.log`; ended when the lab drops.
    pub fn spawn(&mut self, ns: &str, who: &str, bin: &str, args: &[&str]) -> u32 {
        let f = std::fs::File::create(self.path(&format!("{who}.log"))).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, bin])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    pub fn log(&self, who: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{who}.log"))).unwrap_or_default()
    }

    /// The LNS's configuration (TUN per session, LCP echoes every second, metrics, and a
    /// state directory when [`Lab::state_dir`] is set).
    pub fn lns_config(&self) -> PathBuf {
        let p = self.path("lns.toml");
        let text = format!(
            r#"role = "lns"
[daemon]
management_socket = "{sock}"
metrics_listen = "192.0.2.1:9108"
{state}[tunnel]
hello_interval = 5
[ppp]
lcp_echo_interval = 1
[lns]
listen = ["192.0.2.1:1701"]
ipv4_pool = "203.0.113.10-203.0.113.250"
local_ipv4 = "198.51.100.1"
allowed_peers = ["192.0.2.0/24"]
[[lns.users]]
name = "alice"
password = "secret"
"#,
            sock = self.path("lns.sock").display(),
            state = if self.state_dir {
                format!("state_dir = \"{}\"\n", self.path("state").display())
            } else {
                String::new()
            }
        );
        std::fs::write(&p, text).expect("config");
        p
    }

    /// Starts the LNS (logging to `who`.log) and waits for its management socket.
    pub fn start_lns(&mut self, who: &str) -> u32 {
        let cfg = self.lns_config();
        let ns = self.lns.clone();
        let pid = self.spawn(&ns, who, L2TPD, &["run", "--config", cfg.to_str().unwrap()]);
        let sock = self.path("lns.sock");
        wait_for(
            Duration::from_secs(10),
            "the LNS's management socket",
            || Client::connect(&sock).is_ok(),
        );
        pid
    }

    pub fn start_client(&mut self) {
        let sock = self.path("client.sock");
        let ns = self.peers.clone();
        #[rustfmt::skip]
        let args = [
            "client", "--server", "192.0.2.1", "--user", "alice", "--password", "secret",
            "--sessions", "1", "--socket", sock.to_str().unwrap(),
        ];
        self.spawn(&ns, "client", L2TPD, &args);
    }

    /// The pid of a process that is not our child (a new LNS), ended with the lab.
    pub fn adopt_pid(&mut self, pid: u32) {
        self.pids.push(pid);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let kill = |sig: &str, pid: u32| {
            let _ = Command::new("kill")
                .args([sig, &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        };
        for pid in &self.pids {
            kill("-TERM", *pid);
        }
        for c in &mut self.children {
            super::stop(c);
        }
        // The adopted processes are not our children: wait (bounded) until they are gone.
        let deadline = Instant::now() + Duration::from_secs(8);
        for pid in &self.pids {
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                kill("-KILL", *pid);
            }
        }
        let _ = sh(&["ip", "netns", "del", &self.lns]);
        let _ = sh(&["ip", "netns", "del", &self.peers]);
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// (tunnel, session, address, state) of every session, sorted.
pub fn session_set(sock: &Path) -> Vec<(u16, u16, Option<std::net::Ipv4Addr>, String)> {
    let mut v: Vec<_> = sessions(sock)
        .into_iter()
        .map(|s| (s.tunnel, s.session, s.ipv4, s.state))
        .collect();
    v.sort();
    v
}

pub fn count(text: &str, what: &str) -> usize {
    text.lines().filter(|l| l.contains(what)).count()
}

/// The lines a peer logs when a session or tunnel goes down or PPP comes up.
pub fn life_events(log: &str) -> (usize, usize, usize) {
    (
        count(log, "session down"),
        count(log, "tunnel down"),
        count(log, "IPCP up"),
    )
}

/// ping -D output: (timestamps of replies, sequence numbers).
pub fn ping_replies(text: &str) -> Vec<(f64, u64)> {
    text.lines()
        .filter_map(|l| {
            let ts = l.strip_prefix('[')?.split(']').next()?.parse().ok()?;
            let seq = l
                .split("icmp_seq=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            Some((ts, seq))
        })
        .collect()
}

/// A GET of the metrics endpoint from inside the LNS's namespace (bash's /dev/tcp).
pub fn metrics(ns: &str) -> String {
    let script = "exec 3<>/dev/tcp/192.0.2.1/9108; \
                  printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; timeout 5 cat <&3";
    let o = sh(&["ip", "netns", "exec", ns, "bash", "-c", script]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The session interfaces (`l2tpN`) in namespace `ns`.
pub fn session_links(ns: &str) -> usize {
    let o = sh(&["ip", "-n", ns, "-o", "link", "show"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.split(": ").nth(1).is_some_and(|n| n.starts_with("l2tp")))
        .count()
}

/// The interface indexes of the session interfaces (`l2tpN`) in namespace `ns` (an index
/// is never reused while the namespace lives: a removed interface's index stays gone).
pub fn session_link_indexes(ns: &str) -> Vec<u32> {
    let o = sh(&["ip", "-n", ns, "-o", "link", "show"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.split(": ").nth(1).is_some_and(|n| n.starts_with("l2tp")))
        .filter_map(|l| l.split(':').next()?.trim().parse().ok())
        .collect()
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
