//! The datapath's handle API rejects misuse clearly (`ApiError`), as the driver's socket API
//! does: sessions before the tunnel management handle, options other than DEBUG on that
//! handle, zero ids, unknown handles.

use std::net::SocketAddr;
use std::time::Instant;

use l2tp_proto::data::{
    ApiError, ControlReason, Datapath, DatapathConfig, DebugMask, RxResult, SessionConfig,
    SessionKey, SessionOption, SocketId,
};
use l2tp_wire::{Header, SessionId, TunnelId};

fn peer() -> SocketAddr {
    "192.0.2.7:1701".parse().unwrap()
}

fn cfg(t: u16, s: u16) -> SessionConfig {
    SessionConfig::new(
        TunnelId(t),
        SessionId(s),
        TunnelId(100),
        SessionId(200),
        peer(),
    )
}

#[test]
fn session_before_management_handle_is_refused() {
    let mut dp = Datapath::new(DatapathConfig::default());
    assert_eq!(
        dp.create_session(cfg(1, 2)),
        Err(ApiError::SessionBeforeTunnel(TunnelId(1)))
    );
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    assert!(dp.create_session(cfg(1, 2)).is_ok());
    assert_eq!(dp.session_count(), 1);
}

#[test]
fn zero_ids_are_refused() {
    let mut dp = Datapath::new(DatapathConfig::default());
    assert_eq!(
        dp.create_tunnel(TunnelId(0), SocketId::SHARED, peer()),
        Err(ApiError::ZeroTunnelId)
    );
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    assert_eq!(dp.create_session(cfg(0, 2)), Err(ApiError::ZeroTunnelId));
    assert_eq!(dp.create_session(cfg(1, 0)), Err(ApiError::ZeroSessionId));
    let mut c = cfg(1, 2);
    c.peer_tunnel = TunnelId(0);
    assert_eq!(dp.create_session(c), Err(ApiError::ZeroPeerTunnelId));
    let mut c = cfg(1, 2);
    c.peer_session = SessionId(0);
    assert_eq!(dp.create_session(c), Err(ApiError::ZeroPeerSessionId));
    assert_eq!(dp.session_count(), 0);
}

#[test]
fn duplicates_and_foreign_peers_are_refused() {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    assert_eq!(
        dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer()),
        Err(ApiError::TunnelExists(TunnelId(1)))
    );
    let key = dp.create_session(cfg(1, 2)).unwrap();
    assert_eq!(
        dp.create_session(cfg(1, 2)),
        Err(ApiError::SessionExists(key))
    );
    let mut c = cfg(1, 3);
    c.peer = "192.0.2.7:1702".parse().unwrap();
    assert!(matches!(
        dp.create_session(c),
        Err(ApiError::PeerMismatch { .. })
    ));
    // An IPv4-mapped IPv6 form of the tunnel's peer is the same peer.
    let mut c = cfg(1, 4);
    c.peer = "[::ffff:192.0.2.7]:1701".parse().unwrap();
    assert!(dp.create_session(c).is_ok());
}

#[test]
fn only_debug_is_accepted_on_the_management_handle() {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    let mgmt = SessionKey::tunnel(TunnelId(1));
    for (opt, name) in [
        (SessionOption::SendSeq(true), "SENDSEQ"),
        (SessionOption::RecvSeq(true), "RECVSEQ"),
        (SessionOption::LnsMode(true), "LNSMODE"),
        (SessionOption::reorder_timeout_ms(100), "REORDERTO"),
    ] {
        let err = dp.set_option(mgmt, opt).unwrap_err();
        assert_eq!(
            err,
            ApiError::TunnelOptionNotSupported {
                tunnel: TunnelId(1),
                option: name
            }
        );
        assert!(err.to_string().contains("only DEBUG"), "{err}");
    }
    dp.set_option(mgmt, SessionOption::Debug(DebugMask::SEQ | DebugMask::DATA))
        .unwrap();
    assert_eq!(
        dp.tunnel_debug(TunnelId(1)),
        Ok(DebugMask::SEQ | DebugMask::DATA)
    );
    // A session made afterwards starts with the tunnel's mask; its own options are free.
    let key = dp.create_session(cfg(1, 2)).unwrap();
    assert_eq!(
        dp.session_options(key).unwrap().debug,
        DebugMask::SEQ | DebugMask::DATA
    );
    dp.set_option(key, SessionOption::SendSeq(true)).unwrap();
    dp.set_option(key, SessionOption::reorder_timeout_ms(250))
        .unwrap();
    let o = dp.session_options(key).unwrap();
    assert!(o.send_seq);
    assert_eq!(o.reorder_timeout.as_millis(), 250);
}

#[test]
fn unknown_handles_are_reported() {
    let mut dp = Datapath::new(DatapathConfig::default());
    let key = SessionKey::new(TunnelId(5), SessionId(6));
    assert_eq!(
        dp.set_option(key, SessionOption::SendSeq(true)),
        Err(ApiError::UnknownSession(key))
    );
    assert_eq!(
        dp.set_option(
            SessionKey::tunnel(TunnelId(5)),
            SessionOption::SendSeq(true)
        ),
        Err(ApiError::UnknownTunnel(TunnelId(5)))
    );
    assert_eq!(
        dp.set_tunnel_debug(TunnelId(5), DebugMask::ALL),
        Err(ApiError::UnknownTunnel(TunnelId(5)))
    );
    assert_eq!(
        dp.stats(TunnelId(5), SessionId(0)),
        Err(ApiError::UnknownTunnel(TunnelId(5)))
    );
    assert_eq!(
        dp.stats(TunnelId(5), SessionId(6)),
        Err(ApiError::UnknownSession(key))
    );
    assert_eq!(dp.remove_session(key), Err(ApiError::UnknownSession(key)));
    assert_eq!(
        dp.remove_tunnel(TunnelId(5)),
        Err(ApiError::UnknownTunnel(TunnelId(5)))
    );
    let mut buf = [0u8; 32];
    assert_eq!(
        dp.encapsulate(key, &mut buf, 16, 4),
        Err(ApiError::UnknownSession(key))
    );
    assert_eq!(
        dp.record_tx_errors(key, 1),
        Err(ApiError::UnknownSession(key))
    );
}

#[test]
fn closing_the_tunnel_closes_its_sessions() {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    dp.create_tunnel(TunnelId(2), SocketId::SHARED, peer())
        .unwrap();
    dp.create_session(cfg(1, 2)).unwrap();
    dp.create_session(cfg(1, 3)).unwrap();
    let other = dp.create_session(cfg(2, 2)).unwrap();
    assert_eq!(dp.sessions().count(), 3);
    assert_eq!(dp.remove_tunnel(TunnelId(1)), Ok(2));
    assert_eq!(dp.session_count(), 1);
    assert_eq!(dp.tunnel_count(), 1);
    assert_eq!(dp.sessions().collect::<Vec<_>>(), vec![other]);
    assert_eq!(dp.tunnels().collect::<Vec<_>>(), vec![TunnelId(2)]);
    // Its data now goes to the control plane; the other tunnel is untouched.
    let d = Header::data(TunnelId(1), SessionId(2)).encode_with_payload(&[1]);
    assert!(matches!(
        dp.receive(Instant::now(), peer(), &d),
        RxResult::ToControl(t) if t.reason == ControlReason::UnknownSession
    ));
    assert!(dp.session_options(other).is_ok());
    // The slot is reused by a new tunnel, and sessions attach to the new one.
    dp.create_tunnel(TunnelId(3), SocketId::SHARED, peer())
        .unwrap();
    assert!(dp.create_session(cfg(3, 9)).is_ok());
    assert_eq!(
        dp.create_session(cfg(1, 9)),
        Err(ApiError::SessionBeforeTunnel(TunnelId(1)))
    );
}

#[test]
fn encapsulation_refuses_short_headroom_and_counts_it() {
    let mut dp = Datapath::new(DatapathConfig::default());
    dp.create_tunnel(TunnelId(1), SocketId::SHARED, peer())
        .unwrap();
    let key = dp.create_session(cfg(1, 2)).unwrap();
    dp.set_option(key, SessionOption::SendSeq(true)).unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(
        dp.encapsulate(key, &mut buf, 8, 4),
        Err(ApiError::HeadroomTooSmall { need: 10, have: 8 })
    );
    assert!(matches!(
        dp.encapsulate(key, &mut buf, 16, 17),
        Err(ApiError::PayloadOutOfBuffer { .. })
    ));
    dp.record_tx_errors(key, 3).unwrap();
    let s = dp.stats(TunnelId(1), SessionId(2)).unwrap();
    assert_eq!((s.tx_errors, s.tx_packets), (5, 0));
    assert_eq!(dp.stats(TunnelId(1), SessionId(0)).unwrap().tx_errors, 5);
}
