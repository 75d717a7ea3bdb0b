//! One line per datagram: a human summary, or a JSON object (`--json`).
//!
//! Text: `FRAME TIME SRC > DST KIND tunnel=T session=S Ns=.. Nr=.. | AVP=value, ...`, where
//! hidden AVPs are marked `(H)` and unrecognised AVPs with the M bit `(M)`.

use serde_json::{json, Map, Value};

use l2tp_wire::listing::{list_avps, to_hex, ListedAvp};
use l2tp_wire::{AvpType, ControlMessage, Header, MessageType};

use super::capture::Datagram;
use super::ppp;

/// What a datagram turned out to be.
enum View {
    Malformed(String),
    Data {
        header: Header,
        payload: Vec<u8>,
    },
    Zlb(Header),
    Control {
        header: Header,
        message_type: Option<MessageType>,
        avps: Vec<ListedAvp>,
        error: Option<String>,
    },
}

fn view(payload: &[u8], secret: Option<&[u8]>) -> View {
    let d = match Header::decode(payload) {
        Ok(d) => d,
        Err(e) => return View::Malformed(e.to_string()),
    };
    if !d.header.is_control() {
        return View::Data {
            header: d.header,
            payload: d.payload.to_vec(),
        };
    }
    if d.payload.is_empty() {
        return View::Zlb(d.header);
    }
    // The typed decoder validates (required AVPs, hiding); the listing shows every AVP even
    // when validation fails.
    let error = ControlMessage::decode(d.payload, secret)
        .err()
        .map(|e| e.to_string());
    match list_avps(d.payload, secret) {
        Ok(avps) => {
            let message_type = avps
                .first()
                .filter(|a| a.vendor == 0 && a.attr == AvpType::MESSAGE_TYPE && a.value.len() == 2)
                .map(|a| MessageType(u16::from_be_bytes([a.value[0], a.value[1]])));
            View::Control {
                header: d.header,
                message_type,
                avps,
                error,
            }
        }
        Err(e) => View::Malformed(e.to_string()),
    }
}

fn header_text(h: &Header) -> String {
    let mut s = format!("tunnel={} session={}", h.tunnel_id, h.session_id);
    if let Some(q) = h.sequence {
        s.push_str(&format!(" Ns={} Nr={}", q.ns, q.nr));
    }
    if let Some(o) = h.offset {
        s.push_str(&format!(" offset={o}"));
    }
    if h.priority {
        s.push_str(" priority");
    }
    s
}

fn ppp_text(frame: &[u8]) -> String {
    match ppp::split(frame) {
        None => format!("PPP <{} bytes>", frame.len()),
        Some((proto, info)) => {
            let name = ppp::protocol_name(proto)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("proto {proto:#06x}"));
            match info.first().and_then(|c| ppp::code_name(proto, *c)) {
                Some(code) => format!("PPP {name} {code}"),
                None => format!("PPP {name}"),
            }
        }
    }
}

fn avp_label(a: &ListedAvp) -> String {
    let mut name = a.name();
    if a.hidden {
        name.push_str("(H)");
    }
    if a.mandatory && (a.vendor != 0 || !a.attr.is_known()) {
        name.push_str("(M)");
    }
    name
}

/// The text line for a datagram.
pub fn text_line(d: &Datagram, secret: Option<&[u8]>) -> String {
    let mut line = format!("{:>4}", d.frame);
    if let Some(t) = d.time {
        line.push_str(&format!(" {:>11.6}", t.as_secs_f64()));
    }
    if let (Some(s), Some(t)) = (d.src, d.dst) {
        line.push_str(&format!(" {s} > {t}"));
    }
    line.push(' ');
    match view(&d.payload, secret) {
        View::Malformed(e) => line.push_str(&format!("malformed: {e}")),
        View::Data { header, payload } => line.push_str(&format!(
            "DATA {} len={} {}",
            header_text(&header),
            payload.len(),
            ppp_text(&payload)
        )),
        View::Zlb(h) => line.push_str(&format!("ZLB {}", header_text(&h))),
        View::Control {
            header,
            message_type,
            avps,
            error,
        } => {
            let mt = message_type.map_or_else(|| "control".to_owned(), |m| m.to_string());
            line.push_str(&format!("{mt} {}", header_text(&header)));
            let shown: Vec<String> = avps
                .iter()
                .skip(usize::from(message_type.is_some()))
                .map(|a| {
                    let v = a.value_string();
                    if v.is_empty() {
                        avp_label(a)
                    } else {
                        format!("{}={v}", avp_label(a))
                    }
                })
                .collect();
            if !shown.is_empty() {
                line.push_str(" | ");
                line.push_str(&shown.join(", "));
            }
            if let Some(e) = error {
                line.push_str(&format!(" ! {e}"));
            }
        }
    }
    line
}

fn header_json(h: &Header, o: &mut Map<String, Value>) {
    o.insert("tunnel_id".into(), json!(h.tunnel_id.0));
    o.insert("session_id".into(), json!(h.session_id.0));
    if let Some(q) = h.sequence {
        o.insert("ns".into(), json!(q.ns.0));
        o.insert("nr".into(), json!(q.nr.0));
    }
    if let Some(off) = h.offset {
        o.insert("offset".into(), json!(off));
    }
    o.insert("priority".into(), json!(h.priority));
    o.insert("length_bit".into(), json!(h.has_length));
}

/// The JSON line for a datagram.
pub fn json_line(d: &Datagram, secret: Option<&[u8]>) -> String {
    let mut o = Map::new();
    o.insert("frame".into(), json!(d.frame));
    if let Some(t) = d.time {
        o.insert("time".into(), json!(t.as_secs_f64()));
    }
    if let Some(s) = d.src {
        o.insert("src".into(), json!(s.to_string()));
    }
    if let Some(t) = d.dst {
        o.insert("dst".into(), json!(t.to_string()));
    }
    o.insert("len".into(), json!(d.payload.len()));
    match view(&d.payload, secret) {
        View::Malformed(e) => {
            o.insert("kind".into(), json!("malformed"));
            o.insert("error".into(), json!(e));
        }
        View::Data { header, payload } => {
            o.insert("kind".into(), json!("data"));
            header_json(&header, &mut o);
            if let Some((proto, info)) = ppp::split(&payload) {
                let mut p = Map::new();
                p.insert("protocol".into(), json!(proto));
                if let Some(n) = ppp::protocol_name(proto) {
                    p.insert("name".into(), json!(n));
                }
                if let Some(c) = info.first() {
                    p.insert("code".into(), json!(c));
                    if let Some(n) = ppp::code_name(proto, *c) {
                        p.insert("code_name".into(), json!(n));
                    }
                }
                o.insert("ppp".into(), Value::Object(p));
            }
        }
        View::Zlb(h) => {
            o.insert("kind".into(), json!("zlb"));
            header_json(&h, &mut o);
        }
        View::Control {
            header,
            message_type,
            avps,
            error,
        } => {
            o.insert("kind".into(), json!("control"));
            header_json(&header, &mut o);
            if let Some(m) = message_type {
                o.insert("message_type".into(), json!(m.0));
                o.insert("message".into(), json!(m.to_string()));
            }
            let list: Vec<Value> = avps
                .iter()
                .map(|a| {
                    json!({
                        "vendor": a.vendor,
                        "type": a.attr.0,
                        "name": a.name(),
                        "mandatory": a.mandatory,
                        "hidden": a.hidden,
                        "value": a.value_string(),
                        "raw": to_hex(&a.value),
                    })
                })
                .collect();
            o.insert("avps".into(), Value::Array(list));
            if let Some(e) = error {
                o.insert("error".into(), json!(e));
            }
        }
    }
    Value::Object(o).to_string()
}
