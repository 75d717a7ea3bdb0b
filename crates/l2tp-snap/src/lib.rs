//! Serde helpers for state snapshots: an [`Instant`] is written as a signed offset in
//! nanoseconds from the snapshot's clock (the `now` it was taken at) and read back relative
//! to the restoring process's `now`. An `Instant` means nothing outside its process; an
//! offset does.
//!
//! Serialise or deserialise inside [`with_clock`]; outside it, a field holding an `Instant`
//! fails with an error (never a silent wrong time). The `#[serde(with = "...")]` modules
//! cover the shapes engines keep instants in (bare, optional, timer heaps, queues, maps).

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static CLOCK: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with `now` as the clock instants are written against or read back from.
pub fn with_clock<R>(now: Instant, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CLOCK.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CLOCK.with(|c| c.replace(Some(now))));
    f()
}

fn clock() -> Result<Instant, &'static str> {
    CLOCK
        .with(|c| c.get())
        .ok_or("an instant outside a snapshot clock (l2tp_snap::with_clock)")
}

/// `at` as nanoseconds from the clock (negative: in the past).
pub fn offset_of(at: Instant) -> Result<i64, &'static str> {
    let base = clock()?;
    let clamp = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Ok(match at.checked_duration_since(base) {
        Some(ahead) => clamp(ahead),
        None => -clamp(base - at),
    })
}

/// The instant `offset` nanoseconds from the clock (an instant before the process's clock
/// can express is the earliest it can).
pub fn instant_of(offset: i64) -> Result<Instant, &'static str> {
    let base = clock()?;
    let d = Duration::from_nanos(offset.unsigned_abs());
    Ok(if offset >= 0 {
        base.checked_add(d).unwrap_or(base)
    } else {
        let mut back = d;
        loop {
            if let Some(t) = base.checked_sub(back) {
                break t;
            }
            back /= 2;
        }
    })
}

fn ser_off<S: Serializer>(at: Instant) -> Result<i64, S::Error> {
    offset_of(at).map_err(S::Error::custom)
}

fn de_inst<'de, D: Deserializer<'de>>(off: i64) -> Result<Instant, D::Error> {
    instant_of(off).map_err(D::Error::custom)
}

/// `Instant`.
pub mod instant {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer>(at: &Instant, s: S) -> Result<S::Ok, S::Error> {
        ser_off::<S>(*at)?.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        de_inst::<D>(i64::deserialize(d)?)
    }
}

/// `Option<Instant>`.
pub mod opt_instant {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer>(at: &Option<Instant>, s: S) -> Result<S::Ok, S::Error> {
        at.map(ser_off::<S>).transpose()?.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Instant>, D::Error> {
        Option::<i64>::deserialize(d)?.map(de_inst::<D>).transpose()
    }
}

/// `BinaryHeap<Reverse<(Instant, T)>>` (a timer heap).
pub mod heap {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize + Clone>(
        h: &BinaryHeap<Reverse<(Instant, T)>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = h
            .iter()
            .map(|Reverse((t, x))| Ok((ser_off::<S>(*t)?, x.clone())))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned + Ord>(
        d: D,
    ) -> Result<BinaryHeap<Reverse<(Instant, T)>>, D::Error> {
        Vec::<(i64, T)>::deserialize(d)?
            .into_iter()
            .map(|(t, x)| Ok(Reverse((de_inst::<D>(t)?, x))))
            .collect()
    }
}

/// A timer heap whose entries carry two values.
pub type Heap3<A, B> = BinaryHeap<Reverse<(Instant, A, B)>>;
/// A queue whose entries may carry an instant last.
pub type Deque3<A, B> = VecDeque<(A, B, Option<Instant>)>;

/// `BinaryHeap<Reverse<(Instant, A, B)>>` (a timer heap with a kind).
pub mod heap3 {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, A: Serialize + Clone, B: Serialize + Clone>(
        h: &BinaryHeap<Reverse<(Instant, A, B)>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = h
            .iter()
            .map(|Reverse((t, a, b))| Ok((ser_off::<S>(*t)?, a.clone(), b.clone())))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D, A, B>(d: D) -> Result<Heap3<A, B>, D::Error>
    where
        D: Deserializer<'de>,
        A: DeserializeOwned + Ord,
        B: DeserializeOwned + Ord,
    {
        Vec::<(i64, A, B)>::deserialize(d)?
            .into_iter()
            .map(|(t, a, b)| Ok(Reverse((de_inst::<D>(t)?, a, b))))
            .collect()
    }
}

/// `VecDeque<(Instant, T)>`.
pub mod deque_first {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize + Clone>(
        q: &VecDeque<(Instant, T)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = q
            .iter()
            .map(|(t, x)| Ok((ser_off::<S>(*t)?, x.clone())))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<VecDeque<(Instant, T)>, D::Error> {
        Vec::<(i64, T)>::deserialize(d)?
            .into_iter()
            .map(|(t, x)| Ok((de_inst::<D>(t)?, x)))
            .collect()
    }
}

/// `VecDeque<(T, Instant)>`.
pub mod deque_last {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize + Clone>(
        q: &VecDeque<(T, Instant)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = q
            .iter()
            .map(|(x, t)| Ok((x.clone(), ser_off::<S>(*t)?)))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<VecDeque<(T, Instant)>, D::Error> {
        Vec::<(T, i64)>::deserialize(d)?
            .into_iter()
            .map(|(x, t)| Ok((x, de_inst::<D>(t)?)))
            .collect()
    }
}

/// `HashMap<K, Instant>`.
pub mod map_values {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, K: Serialize + Clone>(
        m: &HashMap<K, Instant>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = m
            .iter()
            .map(|(k, t)| Ok((k.clone(), ser_off::<S>(*t)?)))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, K: DeserializeOwned + Hash + Eq>(
        d: D,
    ) -> Result<HashMap<K, Instant>, D::Error> {
        Vec::<(K, i64)>::deserialize(d)?
            .into_iter()
            .map(|(k, t)| Ok((k, de_inst::<D>(t)?)))
            .collect()
    }
}

/// `(T, Instant)`.
pub mod pair_last {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize>(
        p: &(T, Instant),
        s: S,
    ) -> Result<S::Ok, S::Error> {
        (&p.0, ser_off::<S>(p.1)?).serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<(T, Instant), D::Error> {
        let (x, t) = <(T, i64)>::deserialize(d)?;
        Ok((x, de_inst::<D>(t)?))
    }
}

/// `(Option<Instant>, T)`.
pub mod pair_opt_first {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize>(
        p: &(Option<Instant>, T),
        s: S,
    ) -> Result<S::Ok, S::Error> {
        (p.0.map(ser_off::<S>).transpose()?, &p.1).serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<(Option<Instant>, T), D::Error> {
        let (t, x) = <(Option<i64>, T)>::deserialize(d)?;
        Ok((t.map(de_inst::<D>).transpose()?, x))
    }
}

/// `VecDeque<(A, B, Option<Instant>)>`.
pub mod deque3_opt_last {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, A: Serialize + Clone, B: Serialize + Clone>(
        q: &VecDeque<(A, B, Option<Instant>)>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = q
            .iter()
            .map(|(a, b, t)| Ok((a.clone(), b.clone(), t.map(ser_off::<S>).transpose()?)))
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, A: DeserializeOwned, B: DeserializeOwned>(
        d: D,
    ) -> Result<Deque3<A, B>, D::Error> {
        Vec::<(A, B, Option<i64>)>::deserialize(d)?
            .into_iter()
            .map(|(a, b, t)| Ok((a, b, t.map(de_inst::<D>).transpose()?)))
            .collect()
    }
}

/// `[Option<(T, Instant)>; N]` (probes in flight).
pub mod array_opt_pair_last {
    use super::*;
    /// Serialises.
    pub fn serialize<S: Serializer, T: Serialize + Clone, const N: usize>(
        a: &[Option<(T, Instant)>; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let v = a
            .iter()
            .map(|o| match o {
                Some((x, t)) => Ok(Some((x.clone(), ser_off::<S>(*t)?))),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>, S::Error>>()?;
        v.serialize(s)
    }
    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned, const N: usize>(
        d: D,
    ) -> Result<[Option<(T, Instant)>; N], D::Error> {
        let v = Vec::<Option<(T, i64)>>::deserialize(d)?
            .into_iter()
            .map(|o| o.map(|(x, t)| Ok((x, de_inst::<D>(t)?))).transpose())
            .collect::<Result<Vec<_>, D::Error>>()?;
        v.try_into()
            .map_err(|_| D::Error::custom("wrong array length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct T {
        #[serde(with = "instant")]
        a: Instant,
        #[serde(with = "opt_instant")]
        b: Option<Instant>,
        #[serde(with = "heap")]
        h: BinaryHeap<Reverse<(Instant, u32)>>,
    }

    #[test]
    fn instants_move_with_the_clock() {
        let t0 = Instant::now();
        let v = T {
            a: t0 + Duration::from_secs(3),
            b: Some(t0),
            h: [Reverse((t0 + Duration::from_millis(5), 7))].into(),
        };
        let bytes = with_clock(t0, || postcard::to_allocvec(&v)).unwrap();
        let t1 = t0 + Duration::from_secs(100);
        let w: T = with_clock(t1, || postcard::from_bytes(&bytes)).unwrap();
        assert_eq!(w.a, t1 + Duration::from_secs(3));
        assert_eq!(w.b, Some(t1));
        assert_eq!(w.h.peek().unwrap().0, (t1 + Duration::from_millis(5), 7));
        // Outside a clock: an error, not a wrong time.
        assert!(postcard::to_allocvec(&v).is_err());
    }

    #[test]
    fn the_past_is_kept_as_the_past() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let off = with_clock(t0, || offset_of(t0 - Duration::from_secs(4))).unwrap();
        assert_eq!(off, -4_000_000_000);
        let back = with_clock(t0, || instant_of(off)).unwrap();
        assert_eq!(back, t0 - Duration::from_secs(4));
    }
}
