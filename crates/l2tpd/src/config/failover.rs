//! `[failover]`: RFC 4951 failover, both roles. The Failover Capability AVP we offer in
//! every SCCRQ and SCCRP (on by default: the AVP is sent with the M bit clear, so a peer
//! that does not know it ignores it, RFC 2661 §4.1), and the Recovery Time we ask our peers
//! to keep a tunnel for while we recover it.

use l2tp_wire::FailoverCapability;
use serde::{Deserialize, Serialize};

/// Longest Recovery Time accepted (one hour).
pub const MAX_RECOVERY_TIME_MS: u32 = 3_600_000;

/// `[failover]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverConfig {
    /// Offer control channel failover (the Failover Capability AVP with the C bit) to
    /// every peer; recover our tunnels from peers that offered it too after our state was
    /// lost or restored stale, and answer their recoveries. Default true.
    pub enabled: bool,
    /// Set the D bit (data channel failover) in our offer. Default false.
    pub data_channel: bool,
    /// Recovery Time we advertise, in ms: how long a peer keeps a tunnel whose control
    /// channel stopped answering before it clears it, waiting for our recovery. 0: the peer
    /// clears it when its retransmissions run out, as without failover. Default 30000.
    pub recovery_time_ms: u32,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            enabled: true,
            data_channel: false,
            recovery_time_ms: 30_000,
        }
    }
}

impl FailoverConfig {
    /// The capability we offer (`None`: failover off).
    pub fn capability(&self) -> Option<FailoverCapability> {
        self.enabled.then_some(FailoverCapability {
            control: true,
            data: self.data_channel,
            recovery_time_ms: self.recovery_time_ms,
        })
    }

    /// Checks what can be checked without the network.
    pub(super) fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        if self.recovery_time_ms > MAX_RECOVERY_TIME_MS {
            bad(
                "failover.recovery_time_ms",
                format!(
                    "must be ≤ {MAX_RECOVERY_TIME_MS} ms, got {}",
                    self.recovery_time_ms
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const CLIENT: &str =
        "role = \"client\"\n[dial]\npeers = [\"192.0.2.1\"]\nuser = \"a\"\npassword = \"p\"\n";

    #[test]
    fn failover_is_offered_by_default_with_the_c_bit() {
        let node = Config::from_toml_str(CLIENT)
            .unwrap()
            .node_config()
            .unwrap();
        let c = node.endpoint.failover.expect("offered by default");
        assert!(c.control && !c.data);
        assert_eq!(c.recovery_time_ms, 30_000);
    }

    #[test]
    fn failover_can_be_turned_off_and_tuned() {
        let off = format!("{CLIENT}[failover]\nenabled = false\n");
        let node = Config::from_toml_str(&off).unwrap().node_config().unwrap();
        assert_eq!(node.endpoint.failover, None);
        let tuned = format!("{CLIENT}[failover]\ndata_channel = true\nrecovery_time_ms = 5000\n");
        let c = Config::from_toml_str(&tuned)
            .unwrap()
            .node_config()
            .unwrap()
            .endpoint
            .failover
            .unwrap();
        assert!(c.control && c.data);
        assert_eq!(c.recovery_time_ms, 5000);
        let e = Config::from_toml_str(&format!("{CLIENT}[failover]\nrecovery_time_ms = 3600001\n"))
            .and_then(|c| c.node_config().map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("failover.recovery_time_ms"), "{e}");
    }
}
