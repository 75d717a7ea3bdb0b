//! Wireshark judges what the real daemon puts on the wire (issue 7, item 4): `l2tpd demo`
//! (LNS + client on loopback, 3 sessions, PPP CHAP + IPCP, ICMP, StopCCN) runs while `tshark`
//! captures its UDP port; then tshark must find no malformed packet and no error-level expert
//! info, and we check what tshark does not: L and S bits on every control message, Message Type
//! as first AVP, per-direction Ns/Nr discipline, the expected message and PPP types, and the
//! RFC 4951 Failover Capability AVP both ends offer in SCCRQ and SCCRP.
//! Needs root and tshark (CI has both): otherwise SKIPPED loudly, and failed under CI=true.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const L2TPD: &str = env!("CARGO_BIN_EXE_l2tpd");

/// Kills (by pid, only the processes started here) and removes the files, pass or fail.
struct Cleanup(Vec<Child>, Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        for f in &self.1 {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn wireshark_judges_demo_traffic() {
    let root = l2tp_mgmt::is_root();
    let have_tshark = Command::new("tshark").arg("-v").output().is_ok();
    if !(root && have_tshark) {
        let why = format!("root={root} tshark={have_tshark}");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "wire_judge cannot run under CI=true ({why}): it needs root and tshark"
        );
        eprintln!("\n*** SKIPPED: wire_judge needs root and tshark ({why}) ***\n");
        return;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let tmp = |ext: &str| std::env::temp_dir().join(format!("wire_judge-{port}.{ext}"));
    let (pcap, demo_out, cap_err) = (tmp("pcapng"), tmp("out"), tmp("err"));
    let files = vec![pcap.clone(), demo_out.clone(), cap_err.clone()];
    let mut guard = Cleanup(Vec::new(), files);

    // Capture first; dumpcap writes the file header once the interface is open.
    let filter = format!("udp port {port}");
    let cap = Command::new("tshark")
        .args(["-i", "lo", "-Q", "-f", &filter, "-w"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&cap_err).expect("tshark stderr file"))
        .spawn()
        .expect("start tshark");
    let cap_pid = cap.id();
    guard.0.push(cap);
    let until = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&pcap).map_or(0, |m| m.len()) == 0 {
        assert!(
            Instant::now() < until,
            "tshark did not start capturing in 10 s: {}",
            std::fs::read_to_string(&cap_err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));

    let listen = format!("127.0.0.1:{port}");
    let mut demo = Command::new(L2TPD)
        .args(["demo", "--sessions", "3", "--timeout", "15"])
        .args(["--lns-listen", &listen])
        .stdout(std::fs::File::create(&demo_out).expect("demo output file"))
        .spawn()
        .expect("start l2tpd demo");
    let status = wait_bounded(&mut demo, Duration::from_secs(30));
    guard.0.push(demo);
    std::thread::sleep(Duration::from_millis(300)); // let the last datagrams be captured
    let pid = cap_pid.to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let stopped = wait_bounded(&mut guard.0[0], Duration::from_secs(10));
    assert!(stopped.is_some(), "tshark {pid} did not stop on SIGINT");
    let out = std::fs::read_to_string(&demo_out).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "demo: {status:?}\n{out}"
    );

    // 1. Wireshark's own verdict.
    let decode = format!("udp.port=={port},l2tp");
    let r = pcap.to_str().expect("utf-8 path");
    let judge = "_ws.malformed || _ws.expert.severity >= error";
    let bad = tshark(&["-r", r, "-d", &decode, "-Y", judge]);
    assert!(bad.trim().is_empty(), "tshark: bad packets:\n{bad}");

    // 2. Our checks, on the dissected fields (comma-separated when repeated).
    let fields = "frame.number udp.srcport udp.length l2tp.flags l2tp.length l2tp.Ns l2tp.Nr \
        l2tp.avp.type l2tp.avp.vendor_id l2tp.avp.message_type ppp.protocol icmp.type";
    let mut targs = vec!["-r", r, "-d", &decode, "-T", "fields", "-E", "separator=|"];
    for f in fields.split_whitespace() {
        targs.extend(["-e", f]);
    }
    let text = tshark(&targs);
    let (mut msg_types, mut ppp, mut icmp) = (Vec::new(), BTreeSet::new(), BTreeSet::new());
    // Per direction (UDP source port): next Ns, Ns -> message type sent with it, last Nr.
    let mut dirs: HashMap<&str, (u16, HashMap<u16, u16>, u16)> = HashMap::new();
    let mut failover_offers = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 12, "bad tshark line {line:?}");
        let (frame, first) = (f[0], |i: usize| f[i].split(',').next().unwrap_or(""));
        let num = |s: &str| -> u16 {
            match s.strip_prefix("0x") {
                Some(hex) => u16::from_str_radix(hex, 16),
                None => s.parse(),
            }
            .unwrap_or_else(|e| panic!("frame {frame}: {s:?}: {e} in {line}"))
        };
        let flags = num(f[3]);
        assert_eq!(flags & 0x000f, 2, "frame {frame}: not L2TPv2: {line}");
        if flags & 0x8000 == 0 {
            ppp.extend(f[10].split(',').filter(|p| !p.is_empty()));
            icmp.extend(f[11].split(',').filter(|p| !p.is_empty()));
            continue;
        }
        // Control message: RFC 2661 3.1 requires L and S, forbids O and P.
        let tlsop = flags & 0xcb00;
        assert_eq!(
            tlsop, 0xc800,
            "frame {frame}: flags {flags:#06x}: want T,L,S, no O,P"
        );
        let (len, udp_len) = (num(f[4]), num(f[2]));
        assert_eq!(len + 8, udp_len, "frame {frame}: L2TP Length vs UDP");
        let (ns, nr) = (num(f[5]), num(f[6]));
        let d = dirs.entry(f[1]).or_insert((0, HashMap::new(), 0));
        let (next, last_nr) = (d.0, d.2);
        assert!(
            nr.wrapping_sub(last_nr) < 0x8000,
            "frame {frame}: Nr {nr} < {last_nr}"
        );
        d.2 = nr;
        if f[7].is_empty() {
            assert_eq!(ns, next, "frame {frame}: ZLB Ns {ns}, next Ns is {next}");
            continue;
        }
        let mt_first = (first(7), first(8));
        assert_eq!(
            mt_first,
            ("0", "0"),
            "frame {frame}: AVP 1 not Message Type"
        );
        let mt = num(first(9));
        if mt == 1 || mt == 2 {
            // RFC 4951 §4.1: both ends offer failover, by default, in SCCRQ and SCCRP.
            assert!(
                f[7].split(',').any(|t| t == "76"),
                "frame {frame}: no Failover Capability AVP (76) in message type {mt}: {line}"
            );
            failover_offers += 1;
        }
        if ns == d.0 {
            d.1.insert(ns, mt);
            d.0 = ns.wrapping_add(1);
        } else {
            // Only a retransmission may reuse an Ns, and it carries the same message.
            let why = format!("Ns {ns} (type {mt}) is a gap or step back; next Ns {next}");
            assert_eq!(d.1.get(&ns), Some(&mt), "frame {frame}: {why}");
        }
        msg_types.push(mt);
    }
    assert_eq!(dirs.len(), 2, "control messages not from exactly 2 ports");
    assert!(failover_offers >= 2, "SCCRQ and SCCRP: {failover_offers}");
    let expected = "1 SCCRQ 1, 2 SCCRP 1, 3 SCCCN 1, 10 ICRQ 3, 11 ICRP 3, 12 ICCN 3, 4 StopCCN 1";
    for spec in expected.split(", ") {
        let [mt, name, n]: [&str; 3] = spec.split(' ').collect::<Vec<_>>().try_into().unwrap();
        let (mt, n): (u16, usize) = (mt.parse().unwrap(), n.parse().unwrap());
        let seen = msg_types.iter().filter(|&&t| t == mt).count();
        assert!(seen >= n, "{name} sent {seen}x, want >= {n}: {msg_types:?}");
    }
    let want = "0xc021 LCP, 0xc223 CHAP, 0x8021 IPCP, 0x0021 IP, 8 ICMP-echo, 0 ICMP-reply";
    for (i, spec) in want.split(", ").enumerate() {
        let (code, name) = spec.split_once(' ').unwrap();
        let seen = if i < 4 {
            ppp.contains(code)
        } else {
            icmp.contains(code)
        };
        assert!(
            seen,
            "no {name} in data messages: PPP {ppp:?}, ICMP {icmp:?}"
        );
    }
    eprintln!("wire_judge: control types {msg_types:?}, PPP protocols {ppp:?}");
}
