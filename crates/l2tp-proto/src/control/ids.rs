//! Random, non-zero, unique 16-bit id allocation for tunnels and sessions.
//!
//! Ids are drawn from the injected RNG (unpredictable ids make blind injection of control
//! messages harder, and tests stay deterministic). Zero is never assigned (RFC 2661 §3.1:
//! tunnel id 0 and session id 0 are special). After a bounded number of random draws the
//! space is scanned linearly from a random start, so allocation always terminates.

use rand::RngCore;

/// Draws a non-zero u16 for which `in_use` is false, or `None` when all 65535 are taken.
pub fn allocate(rng: &mut dyn RngCore, in_use: impl Fn(u16) -> bool) -> Option<u16> {
    for _ in 0..32 {
        let id = (rng.next_u32() & 0xffff) as u16;
        if id != 0 && !in_use(id) {
            return Some(id);
        }
    }
    let start = (rng.next_u32() & 0xffff) as u16;
    (0..=u16::MAX)
        .map(|i| start.wrapping_add(i))
        .find(|&id| id != 0 && !in_use(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn ids_are_nonzero_unique_and_exhaustion_is_reported() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut used = HashSet::new();
        for _ in 0..1000 {
            let id = allocate(&mut rng, |i| used.contains(&i)).unwrap();
            assert_ne!(id, 0);
            assert!(used.insert(id));
        }
        // Nearly full: the scan finds the last free ids, then reports exhaustion.
        let mut used: HashSet<u16> = (1..=u16::MAX).filter(|i| i % 20000 != 7).collect();
        let mut got = vec![];
        while let Some(id) = allocate(&mut rng, |i| used.contains(&i)) {
            used.insert(id);
            got.push(id);
        }
        got.sort_unstable();
        assert_eq!(got, vec![7, 20007, 40007, 60007]);
    }
}
