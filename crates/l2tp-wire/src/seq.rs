//! 16-bit sequence numbers with wrap-safe ordering (RFC 2661 §5.8, RFC 1982 serial arithmetic).
//!
//! The Linux driver compares Ns values with a plain `>`, which breaks at the 65535 → 0 wrap;
//! every comparison here is modulo 2^16, so a number up to 32767 ahead is "newer".

use std::cmp::Ordering;
use std::fmt;

/// A 16-bit L2TP sequence number (Ns or Nr), compared modulo 2^16.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct SeqNum(pub u16);

impl SeqNum {
    /// The next sequence number, wrapping 65535 → 0.
    #[must_use]
    pub const fn next(self) -> SeqNum {
        SeqNum(self.0.wrapping_add(1))
    }

    /// `self + n` modulo 2^16.
    #[must_use]
    pub const fn add(self, n: u16) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// How far `self` is ahead of `earlier`, modulo 2^16 (0..=65535).
    pub const fn distance_from(self, earlier: SeqNum) -> u16 {
        self.0.wrapping_sub(earlier.0)
    }

    /// Serial-number comparison: `Less` when `self` precedes `other` within half the space.
    ///
    /// Numbers exactly half the space apart (distance 32768) are undefined in RFC 1982;
    /// we report them as `Greater` so the order is total and deterministic.
    pub const fn serial_cmp(self, other: SeqNum) -> Ordering {
        let d = self.0.wrapping_sub(other.0);
        if d == 0 {
            Ordering::Equal
        } else if d <= 0x8000 {
            Ordering::Greater
        } else {
            Ordering::Less
        }
    }

    /// True when `self` is strictly after `other` (wrap-safe).
    pub const fn is_after(self, other: SeqNum) -> bool {
        matches!(self.serial_cmp(other), Ordering::Greater)
    }

    /// True when `self` is strictly before `other` (wrap-safe).
    pub const fn is_before(self, other: SeqNum) -> bool {
        matches!(self.serial_cmp(other), Ordering::Less)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_orders_across_zero() {
        assert_eq!(SeqNum(65535).next(), SeqNum(0));
        assert!(SeqNum(0).is_after(SeqNum(65535)));
        assert!(SeqNum(65535).is_before(SeqNum(3)));
        assert!(SeqNum(10).is_after(SeqNum(9)));
        assert!(!SeqNum(9).is_after(SeqNum(9)));
        assert_eq!(SeqNum(2).distance_from(SeqNum(65534)), 4);
    }
}
