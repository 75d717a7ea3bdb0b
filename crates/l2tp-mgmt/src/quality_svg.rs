//! A session's line-quality graph as a standalone SVG document, the way UK ISPs read
//! FireBrick's CQM graphs: the last 24 hours left to right, one column per period; in the top
//! panel the round trip of the LCP Echo probes (the band from shortest to longest, the line the
//! mean) and the probes lost (red, from the top, 0–100 % on the right-hand scale); in the
//! bottom panel the traffic each way (received above the axis, sent below, in bit/s).
//! `l2tpctl graph` writes it and the daemon's metrics listener serves it.

use std::fmt::Write as _;

use crate::{QualityInfo, QualityPeriod};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 50.0;
const TOP: f64 = 50.0;
const RTT_HEIGHT: f64 = 200.0;
const GAP: f64 = 40.0;
const TRAFFIC_HEIGHT: f64 = 160.0;
const BOTTOM: f64 = 40.0;
/// The window drawn: 24 hours.
const WINDOW_S: f64 = 86_400.0;

/// Escapes text for an SVG text node or attribute (user names come from the network).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A round number at or above `v` (1, 2, 5 × 10^n), for axis scales.
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

/// `1.5 Mbit/s`-style label for a bit rate.
fn bits(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.3} Gbit/s", v / 1e9),
        v if v >= 1e6 => format!("{:.3} Mbit/s", v / 1e6),
        v if v >= 1e3 => format!("{:.3} kbit/s", v / 1e3),
        v => format!("{v:.0} bit/s"),
    }
    .replace(".000", "")
}

/// UTC `HH:MM` of a Unix time.
fn clock(unix: u64) -> String {
    format!("{:02}:{:02}", unix / 3600 % 24, unix / 60 % 60)
}

/// The graph of `q`, drawn as of `now_unix` (seconds since the epoch, for the time labels).
pub fn render(q: &QualityInfo, now_unix: u64) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let height = TOP + RTT_HEIGHT + GAP + TRAFFIC_HEIGHT + BOTTOM;
    let x_of = |ago: f64| LEFT + plot_w * (1.0 - ago / WINDOW_S);
    let shown: Vec<&QualityPeriod> = q
        .periods
        .iter()
        .filter(|p| (p.ended_s_ago as f64) < WINDOW_S)
        .collect();
    let rtt_top = nice_ceil(
        shown
            .iter()
            .filter_map(|p| p.rtt_max_ms)
            .fold(0.0, f64::max)
            .max(1.0),
    );
    let rate = |b: u64, p: &QualityPeriod| b as f64 * 8.0 / f64::from(p.seconds.max(1));
    let traffic_top = nice_ceil(
        shown
            .iter()
            .flat_map(|p| [rate(p.rx_bytes, p), rate(p.tx_bytes, p)])
            .fold(0.0, f64::max)
            .max(1000.0),
    );
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let who = q.user.as_deref().map(escape).unwrap_or_else(|| "-".into());
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">Line quality: session {}/{} ({who})</text>"#,
        q.tunnel, q.session
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="36" fill="#555">last 24 h to {} UTC, {} s periods, an LCP echo every {} ms</text>"##,
        clock(now_unix),
        q.period_s,
        q.probe_interval_ms
    );

    // Panels and scales.
    let rtt_y = |ms: f64| TOP + RTT_HEIGHT * (1.0 - (ms / rtt_top).min(1.0));
    let traffic_mid = TOP + RTT_HEIGHT + GAP + TRAFFIC_HEIGHT / 2.0;
    let traffic_h = |bps: f64| (TRAFFIC_HEIGHT / 2.0) * (bps / traffic_top).min(1.0);
    for (y, h) in [(TOP, RTT_HEIGHT), (TOP + RTT_HEIGHT + GAP, TRAFFIC_HEIGHT)] {
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{h}" fill="#fafafa" stroke="#999"/>"##
        );
    }
    for i in 0..=4 {
        let ms = rtt_top * f64::from(i) / 4.0;
        let y = rtt_y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{ms} ms</text><text x="{}" y="{:.1}" fill="#c00">{}%</text>"##,
            LEFT + plot_w,
            LEFT - 4.0,
            y + 4.0,
            LEFT + plot_w + 4.0,
            TOP + RTT_HEIGHT * f64::from(i) / 4.0 + 4.0,
            i * 25
        );
    }
    for (y, label) in [
        (
            traffic_mid - TRAFFIC_HEIGHT / 2.0,
            format!("rx {}", bits(traffic_top)),
        ),
        (traffic_mid, "0".to_string()),
        (
            traffic_mid + TRAFFIC_HEIGHT / 2.0,
            format!("tx {}", bits(traffic_top)),
        ),
    ] {
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT + plot_w,
            LEFT - 4.0,
            y + 4.0
        );
    }
    // Time axis: every 3 hours back from now.
    for h in (0..=24u32).step_by(3) {
        let ago = f64::from(h) * 3600.0;
        let x = x_of(ago);
        let label = clock(now_unix.saturating_sub(u64::from(h) * 3600));
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            traffic_mid + TRAFFIC_HEIGHT / 2.0,
            height - BOTTOM + 16.0
        );
    }

    // One column per period.
    let mut avg_points = Vec::new();
    for p in &shown {
        let x1 = x_of(p.ended_s_ago as f64 + f64::from(p.seconds));
        let x2 = x_of(p.ended_s_ago as f64);
        let w = (x2 - x1).max(1.0);
        if let Some(loss) = p.loss().filter(|l| *l > 0.0) {
            let _ = writeln!(
                s,
                r##"<rect class="loss" x="{x1:.2}" y="{TOP}" width="{w:.2}" height="{:.2}" fill="#d00" fill-opacity="0.75"/>"##,
                RTT_HEIGHT * loss
            );
        }
        if let (Some(lo), Some(hi)) = (p.rtt_min_ms, p.rtt_max_ms) {
            let _ = writeln!(
                s,
                r##"<rect class="rtt" x="{x1:.2}" y="{:.2}" width="{w:.2}" height="{:.2}" fill="#8ab4f8"/>"##,
                rtt_y(hi),
                (rtt_y(lo) - rtt_y(hi)).max(2.0)
            );
        }
        if let Some(avg) = p.rtt_avg_ms {
            avg_points.push(format!("{:.2},{:.2}", (x1 + x2) / 2.0, rtt_y(avg)));
        }
        let (rx, tx) = (
            traffic_h(rate(p.rx_bytes, p)),
            traffic_h(rate(p.tx_bytes, p)),
        );
        if rx > 0.0 {
            let _ = writeln!(
                s,
                r##"<rect class="rx" x="{x1:.2}" y="{:.2}" width="{w:.2}" height="{rx:.2}" fill="#2a9d3f"/>"##,
                traffic_mid - rx
            );
        }
        if tx > 0.0 {
            let _ = writeln!(
                s,
                r##"<rect class="tx" x="{x1:.2}" y="{traffic_mid:.2}" width="{w:.2}" height="{tx:.2}" fill="#7b3fb5"/>"##
            );
        }
    }
    if !avg_points.is_empty() {
        let _ = writeln!(
            s,
            r##"<polyline class="rtt-avg" points="{}" fill="none" stroke="#1a4fa0" stroke-width="1.2"/>"##,
            avg_points.join(" ")
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" fill="#555">round trip (band: min–max, line: mean), probes lost in red; traffic: received up, sent down</text>"##,
        TOP + RTT_HEIGHT + 16.0 + 14.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(ago: u64, lost: u32, rtt: f64, rx: u64) -> QualityPeriod {
        QualityPeriod {
            ended_s_ago: ago,
            seconds: 100,
            sent: 100,
            lost,
            rtt_min_ms: Some(rtt * 0.8),
            rtt_avg_ms: Some(rtt),
            rtt_max_ms: Some(rtt * 1.5),
            rx_bytes: rx,
            tx_bytes: rx / 2,
        }
    }

    #[test]
    fn one_column_per_period_with_loss_only_where_probes_were_lost() {
        let q = QualityInfo {
            tunnel: 3,
            session: 9,
            user: Some("eve<script>&\"".into()),
            probe_interval_ms: 1000,
            period_s: 100,
            periods: vec![
                period(90_000, 50, 20.0, 0), // older than 24 h: not drawn
                period(300, 0, 20.0, 125_000),
                period(200, 25, 40.0, 125_000),
                period(100, 0, 30.0, 0),
            ],
        };
        let svg = render(&q, 1_700_000_000);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches(r#"class="rtt""#).count(), 3);
        assert_eq!(svg.matches(r#"class="loss""#).count(), 1);
        assert!(
            svg.contains(r##"height="50.00" fill="#d00""##),
            "25% of 200 px"
        );
        assert_eq!(svg.matches(r#"class="rx""#).count(), 2);
        // 125,000 bytes in 100 s is 10 kbit/s: the scale tops at 10 kbit/s.
        assert!(svg.contains("rx 10 kbit/s"), "{svg}");
        assert!(
            svg.contains("100 ms"),
            "scale above the 60 ms maximum: {svg}"
        );
        assert!(!svg.contains("<script>"), "user names are escaped");
        assert!(svg.contains("eve&lt;script&gt;&amp;&quot;"));
    }

    #[test]
    fn nice_scales() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(3.0), 5.0);
        assert_eq!(nice_ceil(60.0), 100.0);
        assert_eq!(nice_ceil(120.0), 200.0);
        assert_eq!(bits(10_000.0), "10 kbit/s");
    }
}
