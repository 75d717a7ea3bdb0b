//! `daemon.datapath` / `--datapath` on this host: `auto` says in one log line which backend
//! runs and why, `kernel` refuses to start with one clear error when the kernel has no
//! PPPoL2TP (the development machines and containers have none), and starts when it has.
//! What this host has is asked with the same probe the daemon uses.

mod support;

use std::time::{Duration, Instant};

use support::{free_udp_port, Proc, TempDir};

fn lns_args(dir: &std::path::Path, mode: &str) -> Vec<String> {
    let port = free_udp_port();
    [
        "lns",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--pool",
        "192.0.2.10-192.0.2.20",
        "--local-ip",
        "192.0.2.1",
        "--user",
        "alice:secret",
        "--socket",
        dir.join(format!("{mode}.sock")).to_str().expect("utf-8"),
        "--datapath",
        mode,
    ]
    .map(String::from)
    .to_vec()
}

/// Starts `l2tpd lns --datapath MODE` and waits (bounded) until its log has `line` or it
/// exited; the log.
fn run_until(dir: &std::path::Path, mode: &str, line: &str) -> (Proc, String) {
    let args = lns_args(dir, mode);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = Proc::l2tpd(dir, mode, &args);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let log = p.log_text();
        if log.contains(line) || !p.alive() {
            return (p, log);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = p.log_text();
    (p, log)
}

#[test]
fn auto_says_which_datapath_runs_and_why() {
    let dir = TempDir::new("dp-auto");
    let (mut p, log) = run_until(&dir.0, "auto", "datapath: ");
    match l2tp_io::pppol2tp::probe() {
        Err(missing) => {
            eprintln!("this host has no kernel datapath: {missing}");
            assert!(
                log.contains("datapath: userspace (auto: missing module")
                    || log.contains("datapath: userspace (auto: /dev/ppp")
                    || log.contains("datapath: userspace (auto: not permitted"),
                "no fallback line in:\n{log}"
            );
        }
        Ok(()) => assert!(
            log.contains("datapath: kernel (auto: PPPoL2TP and /dev/ppp present)"),
            "{log}"
        ),
    }
    assert!(p.alive(), "auto must start either way:\n{log}");
    p.terminate();
}

#[test]
fn kernel_refuses_to_start_without_l2tp_in_the_kernel() {
    let dir = TempDir::new("dp-kernel");
    match l2tp_io::pppol2tp::probe() {
        Err(missing) => {
            let (mut p, _) = run_until(&dir.0, "kernel", "listening on");
            let mut exited = None;
            let t0 = Instant::now();
            while exited.is_none() && t0.elapsed() < Duration::from_secs(10) {
                exited = p.child.try_wait().expect("wait");
                std::thread::sleep(Duration::from_millis(20));
            }
            let log = p.log_text();
            let status = exited.unwrap_or_else(|| panic!("still running:\n{log}"));
            assert!(!status.success(), "{log}");
            let expected = format!("datapath = \"kernel\": {missing}");
            assert!(log.contains(&expected), "no `{expected}` in:\n{log}");
            assert!(
                log.contains("modprobe"),
                "the error says what to load:\n{log}"
            );
            assert!(
                !log.contains("listening on"),
                "refused before binding:\n{log}"
            );
        }
        Ok(()) => {
            let (mut p, log) = run_until(&dir.0, "kernel", "listening on");
            assert!(
                log.contains("datapath: kernel (configured"),
                "this kernel has PPPoL2TP:\n{log}"
            );
            assert!(p.alive(), "{log}");
            p.terminate();
        }
    }
}
