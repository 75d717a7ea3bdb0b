//! The per-session reorder queue: packets that arrived ahead of the expected Nr, held in Ns
//! order until the gap fills or they expire (REORDERTO > 0).
//!
//! Bounded (a full queue is a caller-visible event, never growth), ordered with wrap-safe
//! serial-number comparison (RFC 1982; the kernel's plain `>` misorders across 65535 → 0).
//! Every Ns held is within half the sequence space ahead of the expected Nr (the datapath only
//! queues in-window packets), so the serial order among them is a total order.

use std::collections::VecDeque;
use std::time::Instant;

use l2tp_wire::SeqNum;

/// One held packet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Held<T> {
    /// Its Ns.
    pub ns: SeqNum,
    /// When it stops waiting (arrival + REORDERTO).
    #[serde(with = "l2tp_snap::instant")]
    pub deadline: Instant,
    /// The packet.
    pub item: T,
}

/// What [`ReorderQueue::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert<T> {
    /// Held. `out_of_order`: it went in front of a packet with a later Ns (it arrived after a
    /// later one: the driver's `rx_oos_packets`).
    Held {
        /// True when a later Ns was already waiting.
        out_of_order: bool,
    },
    /// A packet with this Ns is already held; the new one is handed back.
    Duplicate(T),
    /// The queue is at its bound; the new one is handed back.
    Full(T),
}

/// A bounded queue ordered by Ns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReorderQueue<T> {
    held: VecDeque<Held<T>>,
    capacity: usize,
}

impl<T> ReorderQueue<T> {
    /// An empty queue holding at most `capacity` packets (at least 1).
    pub fn new(capacity: usize) -> Self {
        ReorderQueue {
            held: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Number of packets held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// True when at the bound.
    pub fn is_full(&self) -> bool {
        self.held.len() >= self.capacity
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The packet with the earliest Ns.
    pub fn head(&self) -> Option<&Held<T>> {
        self.held.front()
    }

    /// Removes the packet with the earliest Ns.
    pub fn pop_head(&mut self) -> Option<Held<T>> {
        self.held.pop_front()
    }

    /// Removes everything (in Ns order).
    pub fn drain(&mut self) -> impl Iterator<Item = Held<T>> + '_ {
        self.held.drain(..)
    }

    /// Inserts in Ns order. Most packets land at or near the tail, so the search runs from it.
    pub fn insert(&mut self, ns: SeqNum, deadline: Instant, item: T) -> Insert<T> {
        let mut pos = self.held.len();
        while pos > 0 {
            let other = self.held[pos - 1].ns;
            if other == ns {
                return Insert::Duplicate(item);
            }
            if other.is_before(ns) {
                break;
            }
            pos -= 1;
        }
        if self.is_full() {
            return Insert::Full(item);
        }
        let out_of_order = pos < self.held.len();
        self.held.insert(pos, Held { ns, deadline, item });
        Insert::Held { out_of_order }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_across_the_wrap() {
        let t = Instant::now();
        let mut q = ReorderQueue::new(8);
        assert_eq!(
            q.insert(SeqNum(1), t, 'c'),
            Insert::Held {
                out_of_order: false
            }
        );
        assert_eq!(
            q.insert(SeqNum(65535), t, 'a'),
            Insert::Held { out_of_order: true }
        );
        assert_eq!(
            q.insert(SeqNum(0), t, 'b'),
            Insert::Held { out_of_order: true }
        );
        assert_eq!(q.insert(SeqNum(0), t, 'x'), Insert::Duplicate('x'));
        let order: Vec<_> = q.drain().map(|h| (h.ns.0, h.item)).collect();
        assert_eq!(order, vec![(65535, 'a'), (0, 'b'), (1, 'c')]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Against a model (a list kept sorted by distance from a base Ns): same contents in
        /// the same order, duplicates and overflow refused, never above the bound.
        #[test]
        fn behaves_like_a_sorted_bounded_set(
            base in proptest::prelude::any::<u16>(),
            cap in 1usize..10,
            ops in proptest::collection::vec((0u16..40, proptest::prelude::any::<bool>()), 0..100),
        ) {
            let t = Instant::now();
            let mut q = ReorderQueue::new(cap);
            let mut model: Vec<u16> = Vec::new(); // distances from base, sorted
            for (d, pop) in ops {
                if pop {
                    let got = q.pop_head().map(|h| h.ns.distance_from(SeqNum(base)));
                    let want = (!model.is_empty()).then(|| model.remove(0));
                    proptest::prop_assert_eq!(got, want);
                    continue;
                }
                let ns = SeqNum(base).add(d);
                let r = q.insert(ns, t, d);
                if model.contains(&d) {
                    proptest::prop_assert_eq!(r, Insert::Duplicate(d));
                } else if model.len() == cap {
                    proptest::prop_assert_eq!(r, Insert::Full(d));
                } else {
                    let pos = model.partition_point(|&m| m < d);
                    proptest::prop_assert_eq!(r, Insert::Held { out_of_order: pos < model.len() });
                    model.insert(pos, d);
                }
                proptest::prop_assert!(q.len() <= cap);
                let order: Vec<u16> = q.held.iter().map(|h| h.item).collect();
                proptest::prop_assert_eq!(&order, &model);
            }
        }
    }

    #[test]
    fn full_queue_hands_the_packet_back() {
        let t = Instant::now();
        let mut q = ReorderQueue::new(2);
        assert!(matches!(q.insert(SeqNum(5), t, 5), Insert::Held { .. }));
        assert!(matches!(q.insert(SeqNum(6), t, 6), Insert::Held { .. }));
        assert_eq!(q.insert(SeqNum(7), t, 7), Insert::Full(7));
        assert_eq!(q.len(), 2);
    }
}
