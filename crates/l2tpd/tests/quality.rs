//! Line quality against a network whose loss and delay the test sets: an LNS core probing
//! every second and a client core over `l2tp-sim` (20 ms each way, 5 % loss each way), in
//! virtual time. The periods the LNS reports must show what the network did — about 9.75 %
//! of probes lost (a probe or its answer lost), round trips of 40 ms — and their byte counts
//! must add up to the session's datapath counters. The graph drawn from them is then opened in
//! a real browser (headless Chromium) and its pixels checked.

mod support;
use support::sim::{client_core, lns_config, lns_core_from, up_sessions, SimCore};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use l2tp_mgmt::{QualityInfo, Request, Response};
use l2tp_sim::{Harness, NetConfig, Network, Node};
use l2tpd::core::Input;

fn run(h: &mut Harness, lns: &mut SimCore, client: &mut SimCore, limit: Duration) {
    let deadline = h.now + limit;
    for _ in 0..2_000_000 {
        let mut nodes: [&mut dyn Node; 2] = [lns, client];
        if !h.step(&mut nodes, deadline) {
            return;
        }
    }
}

/// A session probed for `secs` over a network with 20 ms (+ `jitter`) each way and 5 % loss
/// each way; the LNS's answer for it.
fn measured(seed: u64, secs: u64, jitter: Duration) -> (QualityInfo, l2tp_mgmt::SessionInfo) {
    let t0 = Instant::now();
    let mut net = NetConfig::perfect(Duration::from_millis(20));
    net.loss = 0.05;
    net.jitter = jitter;
    let mut h = Harness::new(Network::new(seed, net), t0);
    let mut cfg = lns_config(seed, None);
    cfg.ppp_quality_interval = Some(Duration::from_secs(1));
    let mut lns = lns_core_from(cfg, t0);
    let mut client = client_core(seed, t0, 1);
    client.input(t0, Input::Tick);
    let deadline = t0 + Duration::from_secs(120);
    while up_sessions(&lns, h.now).is_empty() && h.now < deadline {
        run(&mut h, &mut lns, &mut client, Duration::from_secs(1));
    }
    let (key, _) = *up_sessions(&lns, h.now).first().expect("session up");
    run(&mut h, &mut lns, &mut client, Duration::from_secs(secs));
    let now = h.now;
    let q = match lns.manage(
        now,
        Request::Quality {
            tunnel: key.tunnel.0,
            session: key.session.0,
        },
    ) {
        Some(Response::Quality(q)) => q,
        other => panic!("seed {seed}: {other:?}"),
    };
    let s = match lns.manage(
        now,
        Request::ShowSession {
            tunnel: key.tunnel.0,
            session: key.session.0,
        },
    ) {
        Some(Response::Session(s)) => s,
        other => panic!("seed {seed}: {other:?}"),
    };
    (q, s)
}

#[test]
fn periods_show_the_loss_and_delay_the_network_imposed() {
    for seed in [1u64, 2, 3] {
        let (q, s) = measured(seed, 350, Duration::ZERO);
        let ctx = format!("seed {seed}: {q:#?}");
        assert_eq!((q.period_s, q.probe_interval_ms), (100, 1000), "{ctx}");
        // Up after a few seconds, then 350 s: a partial first period, two or three full
        // ones, and the one in progress.
        assert!((4..=5).contains(&q.periods.len()), "{ctx}");
        let (current, closed) = q.periods.split_last().unwrap();
        assert_eq!(current.ended_s_ago, 0, "{ctx}");
        let full: Vec<_> = closed.iter().filter(|p| p.seconds == 100).collect();
        assert!(full.len() >= 2, "{ctx}");
        for p in &full {
            assert!((99..=101).contains(&p.sent), "one probe a second: {ctx}");
        }
        // Periods end 100 s apart, newest last.
        for w in closed.windows(2) {
            assert_eq!(w[0].ended_s_ago, w[1].ended_s_ago + 100, "{ctx}");
        }
        // Loss: a probe is lost when it or its answer is, 1 - 0.95² = 9.75 %.
        let sent: u32 = closed.iter().map(|p| p.sent).sum();
        let lost: u32 = closed.iter().map(|p| p.lost).sum();
        let loss = f64::from(lost) / f64::from(sent);
        assert!((0.04..0.17).contains(&loss), "loss {loss:.3}: {ctx}");
        // Round trip: 20 ms each way, no jitter: 40 ms, within the 2.5 % of the log scale.
        for p in closed {
            let (lo, avg, hi) = (
                p.rtt_min_ms.unwrap(),
                p.rtt_avg_ms.unwrap(),
                p.rtt_max_ms.unwrap(),
            );
            assert!(
                lo >= 39.0 && hi <= 41.5 && (39.0..=41.5).contains(&avg),
                "{ctx}"
            );
        }
        // Every byte the datapath counted is in exactly one period (each period carries less
        // than 2048 bytes here, which the history keeps exactly).
        let rx: u64 = q.periods.iter().map(|p| p.rx_bytes).sum();
        let tx: u64 = q.periods.iter().map(|p| p.tx_bytes).sum();
        assert_eq!((rx, tx), (s.stats.rx_bytes, s.stats.tx_bytes), "{ctx}");
        assert!(rx > 0 && tx > 0, "{ctx}");
    }
}

/// The graph of a lossy session, screenshotted by headless Chromium: the page is mostly white,
/// with the round-trip band (blue) and the lost probes (red) drawn.
#[test]
fn the_graph_renders_in_a_real_browser() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    if !support::requires(
        "quality graph in Chromium",
        &[("chromium (apt-get install chromium)", chromium.is_some())],
    ) {
        return;
    }
    // Two hours with jitter: 72 columns, each with a band of round trips.
    let (q, _) = measured(7, 7200, Duration::from_millis(15));
    assert!(q.periods.len() >= 72, "{q:?}");
    let svg = l2tp_mgmt::quality_svg::render(&q, 1_800_000_000);
    let dir = std::env::temp_dir().join(format!("l2tpd-quality-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("q.svg");
    std::fs::write(&file, &svg).expect("write svg");
    let png = dir.join("q.png");
    let out = Command::new(chromium.unwrap())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=960,490",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", file.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, pixels) = decode(&png);
    assert_eq!((w, h), (960, 490));
    let count =
        |f: &dyn Fn(u8, u8, u8) -> bool| pixels.iter().filter(|p| f(p[0], p[1], p[2])).count();
    let white = count(&|r, g, b| r > 240 && g > 240 && b > 240);
    let red = count(&|r, g, b| r > 180 && g < 90 && b < 90);
    let blue = count(&|r, g, b| b > 200 && r < 170 && g > 150 && g < 210);
    let total = pixels.len();
    assert!(white > total / 2, "mostly white page: {white}/{total}");
    assert!(red > 20, "lost probes drawn in red: {red} pixels");
    assert!(blue > 20, "round-trip band drawn: {blue} pixels");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Width, height and RGB pixels of a PNG.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks(step)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, pixels)
}
