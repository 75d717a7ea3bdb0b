//! A real FreeRADIUS for the tests: a private copy of the system configuration in a temp
//! directory with our clients, users, site (loopback, high ports) and detail file, started
//! as `freeradius -X -d DIR` (in a network namespace when asked: the daemon's tests put it
//! next to the LNS) and stopped by pid. Needs root and the `freeradius` package:
//! otherwise the test says SKIPPED loudly, and fails under `CI=true`.
#![allow(dead_code)] // each test file uses a different subset

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "l2tp-radius-test-secret";
const SYSTEM_CONFIG: &str = "/etc/freeradius/3.0";

/// Returns false (after saying why, loudly) when the test cannot run; panics under CI=true.
pub fn can_run(test: &str) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let why = if !root {
        "needs root"
    } else if !Path::new("/usr/sbin/freeradius").exists() || !Path::new(SYSTEM_CONFIG).exists() {
        "needs the freeradius package"
    } else if Command::new("radclient").arg("-h").output().is_err() {
        "needs the freeradius-utils package (radclient)"
    } else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Who may log in, with what they get (FreeRADIUS `users` syntax).
const USERS: &str = r#"
alice	Cleartext-Password := "alice-pw"
	Framed-IP-Address = 192.0.2.10,
	Framed-IP-Netmask = 255.255.255.255,
	Framed-Route = "198.51.100.0/24 0.0.0.0 1",
	Framed-IPv6-Prefix = 2001:db8:1::/64,
	Delegated-IPv6-Prefix = 2001:db8:100::/56,
	MS-Primary-DNS-Server = 192.0.2.53,
	MS-Secondary-DNS-Server = 192.0.2.54,
	Session-Timeout = 3600,
	Idle-Timeout = 600,
	Acct-Interim-Interval = 300,
	Class = "gold-plan",
	Framed-MTU = 1400,
	Filter-Id = "rate=10M/2M"

bob	Cleartext-Password := "bob-pw"
	Framed-IP-Address = 255.255.255.254,
	Framed-Pool = "main"
"#;

/// One site: auth and acct on `ip`; every reply signed with a Message-Authenticator
/// (FreeRADIUS computes it when the reply holds one).
fn site(ip: Ipv4Addr, auth: u16, acct: u16) -> String {
    format!(
        r#"
server l2tp_radius_test {{
listen {{
	type = auth
	ipaddr = {ip}
	port = {auth}
}}
listen {{
	type = acct
	ipaddr = {ip}
	port = {acct}
}}
authorize {{
	Autz-Type Status-Server {{
		update reply {{
			&Message-Authenticator := 0x00
		}}
		ok
	}}
	preprocess
	chap
	mschap
	files
	pap
}}
authenticate {{
	Auth-Type PAP {{
		pap
	}}
	Auth-Type CHAP {{
		chap
	}}
	Auth-Type MS-CHAP {{
		mschap
	}}
}}
preacct {{
	preprocess
}}
accounting {{
	detail
	update reply {{
		&Message-Authenticator := 0x00
	}}
}}
post-auth {{
	update reply {{
		&Message-Authenticator := 0x00
	}}
	Post-Auth-Type REJECT {{
		update reply {{
			&Message-Authenticator := 0x00
		}}
	}}
}}
}}
"#
    )
}

/// A running FreeRADIUS.
pub struct FreeRadius {
    child: Option<Child>,
    netns: Option<String>,
    pub dir: PathBuf,
    pub auth: SocketAddr,
    pub acct: SocketAddr,
}

impl FreeRadius {
    /// Writes a configuration for fresh ports and starts the server.
    pub fn start(name: &str) -> FreeRadius {
        Self::start_with(name, USERS, None)
    }

    /// The same with these users (FreeRADIUS `users` syntax), inside network namespace
    /// `netns` when given (its loopback must be up; the ports are picked on ours, which
    /// is free enough in a fresh namespace).
    pub fn start_with(name: &str, users: &str, netns: Option<&str>) -> FreeRadius {
        Self::start_on(name, users, netns, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
    }

    /// The same listening on `ip` (an address of `netns`, or of ours), for one client at
    /// `client` (a guest on the far side of a link, say).
    pub fn start_on(
        name: &str,
        users: &str,
        netns: Option<&str>,
        ip: Ipv4Addr,
        client: Ipv4Addr,
    ) -> FreeRadius {
        let dir = std::env::temp_dir().join(format!("l2tp-radius-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let raddb = dir.join("raddb");
        let ok = Command::new("cp")
            .args(["-a", SYSTEM_CONFIG])
            .arg(&raddb)
            .status()
            .expect("cp");
        assert!(ok.success(), "copying {SYSTEM_CONFIG}");
        let auth = free_udp_port();
        let acct = free_udp_port();
        // Our own site, clients, users and detail file; nothing else listening.
        for d in ["sites-enabled"] {
            for e in fs::read_dir(raddb.join(d)).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
        }
        // EAP needs the inner-tunnel site and certificates: not used here.
        let _ = fs::remove_file(raddb.join("mods-enabled/eap"));
        fs::write(
            raddb.join("sites-enabled/l2tp_radius_test"),
            site(ip, auth, acct),
        )
        .unwrap();
        fs::write(
            raddb.join("clients.conf"),
            format!(
                "client nas {{\n\tipaddr = {client}\n\tsecret = {SECRET}\n\trequire_message_authenticator = yes\n}}\n"
            ),
        )
        .unwrap();
        fs::write(raddb.join("mods-config/files/authorize"), users).unwrap();
        let _ = fs::remove_file(raddb.join("mods-enabled/detail"));
        fs::write(
            raddb.join("mods-enabled/detail"),
            format!(
                "detail {{\n\tfilename = {}\n\tescape_filenames = no\n\tpermissions = 0600\n\theader = \"%t\"\n}}\n",
                dir.join("detail").display()
            ),
        )
        .unwrap();
        // Stay root (the temp dir is ours), keep logs and the pid file in the temp dir.
        let conf = fs::read_to_string(raddb.join("radiusd.conf")).unwrap();
        let conf = conf
            .replace("\tuser = freerad", "\t#user = freerad")
            .replace("\tgroup = freerad", "\t#group = freerad")
            // Rejects are delayed 1 s by default; the tests' timeouts are shorter.
            .replace("reject_delay = 1", "reject_delay = 0")
            .replace(
                "logdir = /var/log/freeradius",
                &format!("logdir = {}", dir.display()),
            )
            .replace(
                "run_dir = ${localstatedir}/run/${name}",
                &format!("run_dir = {}", dir.display()),
            );
        fs::write(raddb.join("radiusd.conf"), conf).unwrap();
        let mut fr = FreeRadius {
            child: None,
            netns: netns.map(str::to_string),
            dir,
            auth: SocketAddr::from((ip, auth)),
            acct: SocketAddr::from((ip, acct)),
        };
        fr.run();
        fr
    }

    fn log(&self) -> PathBuf {
        self.dir.join("freeradius.log")
    }

    fn run(&mut self) {
        let log = fs::File::create(self.log()).unwrap();
        // `ip netns exec` execs freeradius: the pid stays the server's own.
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "freeradius"]);
                c
            }
            None => Command::new("freeradius"),
        };
        let child = cmd
            .arg("-X")
            .arg("-d")
            .arg(self.dir.join("raddb"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn freeradius");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let text = fs::read_to_string(self.log()).unwrap_or_default();
            if text.contains("Ready to process requests") {
                return;
            }
            if let Ok(Some(st)) = self.child.as_mut().unwrap().try_wait() {
                panic!("freeradius exited ({st}):\n{text}");
            }
            if Instant::now() > end {
                self.stop();
                panic!("freeradius not ready after 20 s:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it (SIGTERM, then SIGKILL), by the pid we started.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same ports.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The accounting detail file (empty until the first record).
    pub fn detail(&self) -> String {
        fs::read_to_string(self.dir.join("detail")).unwrap_or_default()
    }

    /// The detail records (blank-line separated), each as (attribute, value) pairs.
    pub fn detail_records(&self) -> Vec<Vec<(String, String)>> {
        self.detail()
            .split("\n\n")
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                r.lines()
                    .skip(1) // the timestamp header
                    .filter_map(|l| l.trim().split_once(" = "))
                    .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                    .collect()
            })
            .collect()
    }

    /// The server's debug log, for failure messages.
    pub fn log_text(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
