//! rtnetlink configuration of a real TUN device inside a private network namespace.
//! Needs root; skipped loudly otherwise (and failed under CI=true).

use l2tp_io::tun::{unshare_network_namespace, Tun};
use l2tpd::addr::IpCidr;
use l2tpd::netconf::{InterfaceSetup, NetConf};
use std::net::IpAddr;

fn in_netns(test: &str, body: impl FnOnce() + Send + 'static) {
    let root = l2tp_mgmt::is_root();
    let have_tun = std::path::Path::new("/dev/net/tun").exists();
    let have_ip = std::process::Command::new("ip").arg("-V").output().is_ok();
    if !root || !have_tun || !have_ip {
        let why = if !root {
            "needs root"
        } else if !have_tun {
            "needs /dev/net/tun"
        } else {
            "needs the ip command (iproute2) to check the result"
        };
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: cannot run under CI: {why}");
        }
        eprintln!("==== {test}: SKIPPED ({why}) ====");
        return;
    }
    // The namespace belongs to this thread only and vanishes with it and its TUN.
    std::thread::spawn(move || {
        unshare_network_namespace().expect("unshare(CLONE_NEWNET)");
        body();
    })
    .join()
    .expect("test body panicked");
}

fn ip(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cidr(s: &str) -> IpCidr {
    s.parse().unwrap()
}

#[test]
fn session_interface_gets_addresses_and_routes() {
    in_netns("session_interface_gets_addresses_and_routes", || {
        let tun = Tun::open(Some("l2tpn%d")).unwrap();
        assert_eq!(tun.name(), "l2tpn0");
        let mut nc = NetConf::new().unwrap();
        let setup = InterfaceSetup {
            name: tun.name().into(),
            mtu: Some(1400),
            ipv4_ptp: Some(("10.55.0.1".parse().unwrap(), "10.55.0.2".parse().unwrap())),
            ipv6: vec![("2001:db8:55::1".parse().unwrap(), 64)],
            routes: vec![cidr("10.66.0.0/16"), cidr("2001:db8:66::/48")],
        };
        let idx = nc.configure(&setup).unwrap();
        assert_eq!(idx, tun.ifindex().unwrap());

        let link = ip(&["link", "show", "dev", "l2tpn0"]);
        assert!(link.contains("mtu 1400") && link.contains("UP"), "{link}");
        let v4 = ip(&["-4", "addr", "show", "dev", "l2tpn0"]);
        assert!(v4.contains("inet 10.55.0.1 peer 10.55.0.2/32"), "{v4}");
        let v6 = ip(&["-6", "addr", "show", "dev", "l2tpn0"]);
        assert!(v6.contains("inet6 2001:db8:55::1/64"), "{v6}");
        let r4 = ip(&["-4", "route", "show"]);
        assert!(r4.contains("10.66.0.0/16 dev l2tpn0"), "{r4}");
        let r6 = ip(&["-6", "route", "show"]);
        assert!(r6.contains("2001:db8:66::/48 dev l2tpn0"), "{r6}");

        // Lookups agree with the kernel.
        let r = nc.route_get("10.66.1.1".parse().unwrap()).unwrap();
        assert_eq!(r.ifindex, Some(idx));
        assert_eq!(r.gateway, None);
        nc.add_route_via(cidr("192.0.2.99/32"), "10.55.0.2".parse().unwrap(), None)
            .unwrap();
        let r = nc.route_get("192.0.2.99".parse().unwrap()).unwrap();
        assert_eq!(r.gateway, Some("10.55.0.2".parse::<IpAddr>().unwrap()));

        // Kernel errors come back with their errno, naming the step.
        let e = nc
            .add_address_v4_ptp(
                idx,
                "10.55.0.1".parse().unwrap(),
                "10.55.0.2".parse().unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.source.raw_os_error(), Some(libc::EEXIST), "{e}");
        assert!(
            e.to_string()
                .contains("add address 10.55.0.1 peer 10.55.0.2"),
            "{e}"
        );
        assert!(nc.link_index("no-such-if").is_err());

        nc.del_route(idx, cidr("10.66.0.0/16")).unwrap();
        assert!(!ip(&["-4", "route", "show"]).contains("10.66.0.0/16"));
        assert!(
            nc.route_get("10.66.1.1".parse().unwrap()).is_err(),
            "no route left"
        );
        nc.del_address(idx, "2001:db8:55::1".parse().unwrap(), 64)
            .unwrap();
        assert!(!ip(&["-6", "addr", "show", "dev", "l2tpn0"]).contains("2001:db8:55::1"));

        nc.set_link(idx, false, None).unwrap();
        assert!(!ip(&["link", "show", "dev", "l2tpn0"]).contains(",UP"));
    });
}

/// Many session interfaces go away in one batch (`delete_links`), open TUN descriptors and
/// all; the others stay. Also the device-group primitives it is built on.
#[test]
fn many_session_interfaces_are_removed_in_one_batch() {
    in_netns("many_session_interfaces_are_removed_in_one_batch", || {
        let mut nc = NetConf::new().unwrap();
        let mut tuns = Vec::new();
        let mut idx = Vec::new();
        for _ in 0..50 {
            let tun = Tun::open(Some("l2tpg%d")).unwrap();
            idx.push(nc.link_index(tun.name()).unwrap());
            tuns.push(tun);
        }
        let count = || {
            ip(&["-o", "link", "show"])
                .lines()
                .filter(|l| l.contains("l2tpg"))
                .count()
        };
        assert_eq!(count(), 50);
        nc.delete_links(&idx[..40]).unwrap();
        assert_eq!(count(), 10);
        // Closing the descriptors afterwards is harmless; so is deleting what is gone.
        drop(tuns.drain(..40));
        nc.delete_links(&idx[..40]).unwrap();
        assert_eq!(count(), 10);
        nc.set_group(idx[45], 4242).unwrap();
        assert_eq!(
            ip(&["-o", "link", "show", "group", "4242"]).lines().count(),
            1
        );
        nc.delete_group(4242).unwrap();
        assert_eq!(count(), 9);
        nc.delete_group(4242).unwrap();
    });
}
