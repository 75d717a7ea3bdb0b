//! `l2tpctl decode` run as a user would: on the committed sample capture, on a generated
//! pcapng with Linux SLL2 + IPv6 and VLAN-tagged Ethernet frames on a non-standard port, and
//! on hex from stdin.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use l2tp_wire::testdata;
use l2tp_wire::{encode_packet, ControlMessage, Header, Hello, SeqNum, SessionId, TunnelId};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

fn l2tpctl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_l2tpctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run l2tpctl");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout_lines(o: &Output) -> Vec<String> {
    assert!(
        o.status.success(),
        "l2tpctl failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/tunnel-setup.pcap")
}

#[test]
fn sample_capture_one_line_per_packet() {
    let lines = stdout_lines(&l2tpctl(&["decode", sample().to_str().unwrap()], None));
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(5).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "SCCRQ", "SCCRP", "SCCCN", "ZLB", "ICRQ", "ICRP", "ICCN", "ZLB", "DATA", "DATA",
            "HELLO", "ZLB", "CDN", "ZLB", "StopCCN", "ZLB"
        ]
    );
    assert!(
        lines[0].contains("192.0.2.1:1701 > 198.51.100.1:1701"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("tunnel=0 session=0 Ns=0 Nr=0"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(r#"Host Name="DESKTOP-7Q2L4KE""#),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("Receive Window Size=8"), "{}", lines[0]);
    assert!(
        lines[8].contains("PPP LCP Configure-Request"),
        "{}",
        lines[8]
    );
    assert!(lines[12].contains("Result Code=result 3"), "{}", lines[12]);
    // Without the secret the hidden Assigned Session ID stays hidden, and says why.
    assert!(
        lines[4].contains("Assigned Session ID(H)=<hidden 4 bytes>"),
        "{}",
        lines[4]
    );
    assert!(lines[4].contains("no shared secret"), "{}", lines[4]);
}

#[test]
fn secret_unhides_avps() {
    let out = l2tpctl(
        &[
            "decode",
            "--secret",
            "tunnel-secret",
            sample().to_str().unwrap(),
        ],
        None,
    );
    let lines = stdout_lines(&out);
    assert!(
        lines[4].contains("Assigned Session ID(H)=11"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].contains("Assigned Session ID(H)=22"),
        "{}",
        lines[5]
    );
    assert!(
        !lines[4].contains('!'),
        "no error with the right secret: {}",
        lines[4]
    );
}

#[test]
fn json_output_is_machine_readable() {
    let lines = stdout_lines(&l2tpctl(
        &["decode", "--json", sample().to_str().unwrap()],
        None,
    ));
    assert_eq!(lines.len(), 16);
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["kind"], "control");
    assert_eq!(v[0]["message"], "SCCRQ");
    assert_eq!(v[0]["message_type"], 1);
    assert_eq!(v[1]["tunnel_id"], 1001);
    assert_eq!(v[1]["nr"], 1);
    assert_eq!(v[3]["kind"], "zlb");
    assert_eq!(v[8]["kind"], "data");
    assert_eq!(v[8]["ppp"]["name"], "LCP");
    assert_eq!(v[8]["ppp"]["code_name"], "Configure-Request");
    let host = v[0]["avps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == 7)
        .unwrap();
    assert_eq!(host["name"], "Host Name");
    assert_eq!(host["mandatory"], true);
}

/// Linux SLL2 header for an IPv6 packet.
fn sll2_ipv6(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    f.extend_from_slice(ip);
    f
}

fn ipv6_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = (8 + payload.len()) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Ethernet frame with an 802.1Q tag around an IPv4 UDP datagram (built from testdata's frame).
fn vlan_ethernet(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    use std::net::{Ipv4Addr, SocketAddrV4};
    let plain = testdata::pcap::udp_frame(
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), sport),
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), dport),
        payload,
    );
    let mut f = plain[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]); // VLAN 100
    f.extend_from_slice(&plain[12..]);
    f
}

fn write_pcapng(path: &Path, interfaces: &[DataLink], packets: &[(u32, Vec<u8>)]) {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    for lt in interfaces {
        w.write_pcapng_block(InterfaceDescriptionBlock::new(*lt, 65535))
            .unwrap();
    }
    for (i, (iface, data)) in packets.iter().enumerate() {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: *iface,
            timestamp: Duration::from_millis(1000 + 5 * i as u64),
            original_len: data.len() as u32,
            data: Cow::Borrowed(data),
            options: vec![],
        })
        .unwrap();
    }
    std::fs::write(path, w.into_inner()).unwrap();
}

#[test]
fn pcapng_sll2_ipv6_vlan_and_extra_port() {
    let hello = encode_packet(
        &Header::control(TunnelId(9), SessionId(0), SeqNum(1), SeqNum(2)),
        &ControlMessage::from(Hello { unknown: vec![] }),
        None,
    )
    .unwrap();
    let data = testdata::data_with_all_options();
    let dns = [0u8; 12];
    let path = std::env::temp_dir().join(format!("l2tpctl-test-{}.pcapng", std::process::id()));
    write_pcapng(
        &path,
        &[DataLink::LINUX_SLL2, DataLink::ETHERNET],
        &[
            (0, sll2_ipv6(&ipv6_udp(1701, 1701, &hello))),
            (1, vlan_ethernet(40000, 1702, &data)),
            (1, vlan_ethernet(5353, 53, &dns)), // not L2TP: skipped
        ],
    );
    let file = path.to_str().unwrap();
    // Port 1702 is not L2TP unless asked for.
    let only_1701 = stdout_lines(&l2tpctl(&["decode", file], None));
    assert_eq!(only_1701.len(), 1);
    assert!(
        only_1701[0].contains("[2001:db8::1]:1701 > [2001:db8::2]:1701 HELLO tunnel=9"),
        "{}",
        only_1701[0]
    );
    let both = stdout_lines(&l2tpctl(&["decode", "--port", "1702", file], None));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(both.len(), 2);
    assert!(
        both[1].starts_with("   2 "),
        "frame numbers follow the capture: {}",
        both[1]
    );
    assert!(
        both[1].contains("10.0.0.1:40000 > 10.0.0.2:1702 DATA tunnel=2002 session=22 Ns=65535 Nr=0 offset=4 priority len=18 PPP LCP Configure-Request"),
        "{}",
        both[1]
    );
}

#[test]
fn hex_from_stdin() {
    let input = "# a ZLB and a HELLO\nc8 02 00 0c 00 07 00 00 00 03 00 09\n\nc8:02:00:14:03:e9:00:00:00:05:00:09:80:08:00:00:00:00:00:06\n0002\n";
    let lines = stdout_lines(&l2tpctl(&["decode", "--hex"], Some(input)));
    assert_eq!(
        lines,
        [
            "   2 ZLB tunnel=7 session=0 Ns=3 Nr=9",
            "   4 HELLO tunnel=1001 session=0 Ns=5 Nr=9",
            "   5 malformed: truncated header: need 6 bytes, have 2",
        ]
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let o = l2tpctl(&["decode", "/nonexistent/capture.pcap"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/capture.pcap"));
    let o = l2tpctl(&["decode", env!("CARGO_MANIFEST_DIR")], None);
    assert_eq!(o.status.code(), Some(1));
    let o = l2tpctl(&["decode", "--hex"], Some("zz\n"));
    assert_eq!(o.status.code(), Some(1));
    let o = l2tpctl(&["decode"], None);
    assert_eq!(o.status.code(), Some(2), "clap usage error");
}
