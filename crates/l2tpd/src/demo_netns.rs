//! `l2tpd demo --netns` (root): the same demonstration with real interfaces. Two network
//! namespaces joined by a veth pair, an `l2tpd lns` process in one and an `l2tpd client`
//! process in the other, each session on its own TUN device, and the system's `ping`
//! crossing the tunnel. Everything it creates (namespaces, processes) is removed at the end.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, Request, Response};

/// Namespaces and processes of the demo; removed on drop, pass or fail.
struct Lab {
    lns_ns: String,
    cli_ns: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.lns_ns])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.cli_ns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs the namespace demo with `sessions` sessions and `pings` echoes on each.
pub fn run(sessions: u32, pings: u16) -> Result<(), String> {
    if !l2tp_mgmt::is_root() {
        return Err("--netns needs root (network namespaces and TUN devices)".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let id = std::process::id();
    let mut lab = Lab {
        lns_ns: format!("l2tpdemo-lns-{id}"),
        cli_ns: format!("l2tpdemo-cli-{id}"),
        dir: std::env::temp_dir().join(format!("l2tpd-demo-{id}")),
        children: Vec::new(),
    };
    std::fs::create_dir_all(&lab.dir).map_err(|e| e.to_string())?;
    let (va, vb) = (
        format!("l2d{}a", id % 10_000),
        format!("l2d{}b", id % 10_000),
    );
    ip(&["netns", "add", &lab.lns_ns])?;
    ip(&["netns", "add", &lab.cli_ns])?;
    ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
    ip(&["link", "set", &va, "netns", &lab.lns_ns])?;
    ip(&["link", "set", &vb, "netns", &lab.cli_ns])?;
    ip(&["-n", &lab.lns_ns, "addr", "add", "192.0.2.1/24", "dev", &va])?;
    ip(&["-n", &lab.cli_ns, "addr", "add", "192.0.2.2/24", "dev", &vb])?;
    for (ns, dev) in [(&lab.lns_ns, &va), (&lab.cli_ns, &vb)] {
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    println!(
        "namespaces {} (LNS, 192.0.2.1) and {} (client, 192.0.2.2), joined by a veth pair",
        lab.lns_ns, lab.cli_ns
    );

    let lns_sock = lab.dir.join("lns.sock");
    let cli_sock = lab.dir.join("client.sock");
    let spawn = |ns: &str, args: &[&str], log: &str| -> Result<Child, String> {
        let f = std::fs::File::create(lab.dir.join(log)).map_err(|e| e.to_string())?;
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().map_err(|e| e.to_string())?)
            .stderr(f)
            .spawn()
            .map_err(|e| format!("spawn l2tpd: {e}"))
    };
    let lns = spawn(
        &lab.lns_ns,
        &[
            "lns",
            "--listen",
            "192.0.2.1:1701",
            "--pool",
            "203.0.113.10-203.0.113.60",
            "--local-ip",
            "198.51.100.1",
            "--user",
            "demo:demo-password",
            "--socket",
            lns_sock.to_str().ok_or("path")?,
        ],
        "lns.log",
    )?;
    lab.children.push(lns);
    wait(Duration::from_secs(10), || {
        Client::connect(&lns_sock).is_ok()
    })
    .map_err(|_| "the LNS did not start".to_string())?;
    println!(
        "LNS     l2tpd lns on 192.0.2.1:1701, one TUN per session, local address 198.51.100.1"
    );
    let n = sessions.to_string();
    let client = spawn(
        &lab.cli_ns,
        &[
            "client",
            "--server",
            "192.0.2.1",
            "--user",
            "demo",
            "--password",
            "demo-password",
            "--sessions",
            &n,
            "--socket",
            cli_sock.to_str().ok_or("path")?,
        ],
        "client.log",
    )?;
    lab.children.push(client);
    println!("client  l2tpd client dialing 192.0.2.1 with {sessions} session(s)");
    let cli_ns = lab.cli_ns.clone();
    let addrs = || -> Vec<(String, String)> {
        let out = Command::new("ip")
            .args(["-n", &cli_ns, "-o", "-4", "addr", "show"])
            .output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() > 3 && f[1].starts_with("l2tp"))
                        .then(|| (f[1].to_string(), f[3].to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
    };
    wait(Duration::from_secs(30), || {
        addrs().len() >= sessions as usize
    })
    .map_err(|_| format!("sessions did not come up; logs in {}", lab.dir.display()))?;
    let mut ok = true;
    for (ifname, addr) in addrs() {
        println!("\n$ ip netns exec {} ping -c {pings} -I {ifname} 198.51.100.1     # {ifname} has {addr}", lab.cli_ns);
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.cli_ns,
                "ping",
                "-c",
                &pings.to_string(),
                "-i",
                "0.2",
                "-W",
                "2",
            ])
            .args(["-I", &ifname, "198.51.100.1"])
            .output()
            .map_err(|e| format!("ping: {e}"))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        ok &= out.status.success();
    }
    if let Ok(Response::Sessions(v)) =
        Client::connect(&lns_sock).and_then(|mut c| c.request(&Request::ListSessions))
    {
        println!("\nLNS sessions (as `l2tpctl sessions` shows them):");
        println!(
            "{:<12} {:<8} {:<15} {:<10} {:>8} {:>8}",
            "SESSION", "USER", "ADDRESS", "INTERFACE", "RX_PKTS", "TX_PKTS"
        );
        for s in v {
            println!(
                "{:<12} {:<8} {:<15} {:<10} {:>8} {:>8}",
                format!("{}/{}", s.tunnel, s.session),
                s.user.unwrap_or_default(),
                s.ipv4.map(|a| a.to_string()).unwrap_or_default(),
                s.interface.unwrap_or_default(),
                s.stats.rx_packets,
                s.stats.tx_packets
            );
        }
    }
    println!("\nhanging up and removing the namespaces ...");
    drop(lab);
    if ok {
        println!("demo OK: real ping through every session");
        Ok(())
    } else {
        Err("demo FAILED: a ping did not get through".into())
    }
}

fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(())
}
