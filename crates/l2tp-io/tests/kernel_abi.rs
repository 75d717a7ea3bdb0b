//! `l2tp_io::pppol2tp::sys` against the kernel's own headers: a C program compiled with the
//! system's `cc` prints the sizes, offsets and ioctl numbers of `linux/if_pppol2tp.h`,
//! `linux/if_pppox.h` and `linux/ppp-ioctl.h`, and they must equal ours. Needs `cc` and the
//! kernel headers (package linux-libc-dev, which every Rust toolchain's libc6-dev pulls in):
//! without them the test says so loudly, and fails under `CI=true`.

// `c_ulong` is u64 here but u32 on 32-bit targets: the casts are needed there.
#![allow(clippy::unnecessary_cast)]

use std::mem::{offset_of, size_of};
use std::process::Command;

use l2tp_io::pppol2tp::sys;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_pppox.h>
#include <linux/if_pppol2tp.h>
#include <linux/ppp-ioctl.h>
int main(void) {
    printf("sockaddr_pppol2tp %zu\n", sizeof(struct sockaddr_pppol2tp));
    printf("sockaddr_pppol2tpin6 %zu\n", sizeof(struct sockaddr_pppol2tpin6));
    printf("pppol2tp_addr.addr %zu\n", offsetof(struct pppol2tp_addr, addr));
    printf("pppol2tp_addr.s_tunnel %zu\n", offsetof(struct pppol2tp_addr, s_tunnel));
    printf("pppol2tpin6_addr.s_tunnel %zu\n", offsetof(struct pppol2tpin6_addr, s_tunnel));
    printf("pppol2tpin6_addr.addr %zu\n", offsetof(struct pppol2tpin6_addr, addr));
    printf("sockaddr_pppol2tp.pppol2tp %zu\n", offsetof(struct sockaddr_pppol2tp, pppol2tp));
    printf("pppol2tp_ioc_stats %zu\n", sizeof(struct pppol2tp_ioc_stats));
    printf("pppol2tp_ioc_stats.tx_packets %zu\n", offsetof(struct pppol2tp_ioc_stats, tx_packets));
    printf("pppol2tp_ioc_stats.rx_errors %zu\n", offsetof(struct pppol2tp_ioc_stats, rx_errors));
    printf("AF_PPPOX %d\n", AF_PPPOX);
    printf("PX_PROTO_OL2TP %d\n", PX_PROTO_OL2TP);
    printf("SOL_PPPOL2TP %d\n", SOL_PPPOL2TP);
    printf("PPPOL2TP_SO_DEBUG %d\n", PPPOL2TP_SO_DEBUG);
    printf("PPPOL2TP_SO_RECVSEQ %d\n", PPPOL2TP_SO_RECVSEQ);
    printf("PPPOL2TP_SO_SENDSEQ %d\n", PPPOL2TP_SO_SENDSEQ);
    printf("PPPOL2TP_SO_LNSMODE %d\n", PPPOL2TP_SO_LNSMODE);
    printf("PPPOL2TP_SO_REORDERTO %d\n", PPPOL2TP_SO_REORDERTO);
    printf("PPPIOCGL2TPSTATS %lu\n", (unsigned long)PPPIOCGL2TPSTATS);
    printf("PPPIOCGCHAN %lu\n", (unsigned long)PPPIOCGCHAN);
    printf("PPPIOCATTCHAN %lu\n", (unsigned long)PPPIOCATTCHAN);
    printf("PPPIOCDISCONN %lu\n", (unsigned long)PPPIOCDISCONN);
    printf("PPPIOCCONNECT %lu\n", (unsigned long)PPPIOCCONNECT);
    printf("PPPIOCNEWUNIT %lu\n", (unsigned long)PPPIOCNEWUNIT);
    printf("PPPIOCSMRU %lu\n", (unsigned long)PPPIOCSMRU);
    printf("PPPIOCGMRU %lu\n", (unsigned long)PPPIOCGMRU);
    printf("PPPIOCGUNIT %lu\n", (unsigned long)PPPIOCGUNIT);
    printf("PPPIOCSFLAGS %lu\n", (unsigned long)PPPIOCSFLAGS);
    printf("PPPIOCGFLAGS %lu\n", (unsigned long)PPPIOCGFLAGS);
    return 0;
}
"#;

fn ours() -> Vec<(&'static str, u64)> {
    vec![
        (
            "sockaddr_pppol2tp",
            size_of::<sys::sockaddr_pppol2tp>() as u64,
        ),
        (
            "sockaddr_pppol2tpin6",
            size_of::<sys::sockaddr_pppol2tpin6>() as u64,
        ),
        (
            "pppol2tp_addr.addr",
            offset_of!(sys::pppol2tp_addr, addr) as u64,
        ),
        (
            "pppol2tp_addr.s_tunnel",
            offset_of!(sys::pppol2tp_addr, s_tunnel) as u64,
        ),
        (
            "pppol2tpin6_addr.s_tunnel",
            offset_of!(sys::pppol2tpin6_addr, s_tunnel) as u64,
        ),
        (
            "pppol2tpin6_addr.addr",
            offset_of!(sys::pppol2tpin6_addr, addr) as u64,
        ),
        (
            "sockaddr_pppol2tp.pppol2tp",
            offset_of!(sys::sockaddr_pppol2tp, pppol2tp) as u64,
        ),
        (
            "pppol2tp_ioc_stats",
            size_of::<sys::pppol2tp_ioc_stats>() as u64,
        ),
        (
            "pppol2tp_ioc_stats.tx_packets",
            offset_of!(sys::pppol2tp_ioc_stats, tx_packets) as u64,
        ),
        (
            "pppol2tp_ioc_stats.rx_errors",
            offset_of!(sys::pppol2tp_ioc_stats, rx_errors) as u64,
        ),
        ("AF_PPPOX", sys::AF_PPPOX as u64),
        ("PX_PROTO_OL2TP", sys::PX_PROTO_OL2TP as u64),
        ("SOL_PPPOL2TP", sys::SOL_PPPOL2TP as u64),
        ("PPPOL2TP_SO_DEBUG", sys::PPPOL2TP_SO_DEBUG as u64),
        ("PPPOL2TP_SO_RECVSEQ", sys::PPPOL2TP_SO_RECVSEQ as u64),
        ("PPPOL2TP_SO_SENDSEQ", sys::PPPOL2TP_SO_SENDSEQ as u64),
        ("PPPOL2TP_SO_LNSMODE", sys::PPPOL2TP_SO_LNSMODE as u64),
        ("PPPOL2TP_SO_REORDERTO", sys::PPPOL2TP_SO_REORDERTO as u64),
        ("PPPIOCGL2TPSTATS", sys::PPPIOCGL2TPSTATS as u64),
        ("PPPIOCGCHAN", sys::PPPIOCGCHAN as u64),
        ("PPPIOCATTCHAN", sys::PPPIOCATTCHAN as u64),
        ("PPPIOCDISCONN", sys::PPPIOCDISCONN as u64),
        ("PPPIOCCONNECT", sys::PPPIOCCONNECT as u64),
        ("PPPIOCNEWUNIT", sys::PPPIOCNEWUNIT as u64),
        ("PPPIOCSMRU", sys::PPPIOCSMRU as u64),
        ("PPPIOCGMRU", sys::PPPIOCGMRU as u64),
        ("PPPIOCGUNIT", sys::PPPIOCGUNIT as u64),
        ("PPPIOCSFLAGS", sys::PPPIOCSFLAGS as u64),
        ("PPPIOCGFLAGS", sys::PPPIOCGFLAGS as u64),
    ]
}

fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("kernel ABI test cannot run under CI=true: {why}");
    }
    eprintln!("SKIPPED kernel ABI test: {why}");
}

#[test]
fn pppol2tp_abi_matches_the_kernel_headers() {
    if !std::path::Path::new("/usr/include/linux/if_pppol2tp.h").exists() {
        return skip("no /usr/include/linux/if_pppol2tp.h (package linux-libc-dev)");
    }
    let dir = std::env::temp_dir().join(format!("l2tp-io-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (src, exe) = (dir.join("abi.c"), dir.join("abi"));
    std::fs::write(&src, PROGRAM).expect("write abi.c");
    let cc = match Command::new("cc").arg(&src).arg("-o").arg(&exe).output() {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return skip(&format!("no C compiler `cc`: {e}"));
        }
    };
    assert!(
        cc.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&exe).output().expect("run abi");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let theirs: Vec<(String, u64)> = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("name value");
            (k.to_string(), v.parse().expect("number"))
        })
        .collect();
    let ours = ours();
    assert_eq!(theirs.len(), ours.len(), "{text}");
    for ((name, value), (cname, cvalue)) in ours.iter().zip(&theirs) {
        assert_eq!(name, cname);
        assert_eq!(
            value, cvalue,
            "{name}: ours {value:#x}, the kernel header's {cvalue:#x}"
        );
    }
}
