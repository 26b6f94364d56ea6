//! A media worker's bridges and waiting bridge requests: pairs of legs
//! found by either leg through an index (O(1) to find, O(log n) to add or
//! remove), oldest first for eviction, instead of `Vec` scans
//! (`position`, `retain`) on every call's end.

use std::collections::{BTreeMap, HashMap};

use crate::call::CallHandle;

/// Pairs `(a, b)` of legs with a value each; a leg is in at most one pair.
#[derive(Debug)]
pub(super) struct Pairs<V> {
    next: u64,
    by_seq: BTreeMap<u64, (CallHandle, CallHandle, V)>,
    by_leg: HashMap<CallHandle, u64>,
}

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Self {
            next: 0,
            by_seq: BTreeMap::new(),
            by_leg: HashMap::new(),
        }
    }
}

impl<V> Pairs<V> {
    /// Adds `(a, b)` with `value`, first removing any pair `a` or `b` is in.
    pub(super) fn insert(&mut self, a: CallHandle, b: CallHandle, value: V) {
        self.remove(a);
        self.remove(b);
        self.next += 1;
        self.by_leg.insert(a, self.next);
        self.by_leg.insert(b, self.next);
        self.by_seq.insert(self.next, (a, b, value));
    }

    /// Removes and returns the pair `leg` is in.
    pub(super) fn remove(&mut self, leg: CallHandle) -> Option<(CallHandle, CallHandle, V)> {
        let seq = self.by_leg.remove(&leg)?;
        let pair = self.by_seq.remove(&seq)?;
        self.by_leg.remove(&pair.0);
        self.by_leg.remove(&pair.1);
        Some(pair)
    }

    /// The pair `leg` is in.
    pub(super) fn pair_of(&self, leg: CallHandle) -> Option<(CallHandle, CallHandle)> {
        let seq = self.by_leg.get(&leg)?;
        self.by_seq.get(seq).map(|(a, b, _)| (*a, *b))
    }

    /// The value of the pair `leg` is in.
    pub(super) fn get_mut(&mut self, leg: CallHandle) -> Option<&mut (CallHandle, CallHandle, V)> {
        let seq = self.by_leg.get(&leg)?;
        self.by_seq.get_mut(seq)
    }

    /// Removes the oldest pair.
    pub(super) fn pop_oldest(&mut self) -> Option<(CallHandle, CallHandle, V)> {
        let (_, pair) = self.by_seq.pop_first()?;
        self.by_leg.remove(&pair.0);
        self.by_leg.remove(&pair.1);
        Some(pair)
    }

    /// Every pair's value, oldest first.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.by_seq.values_mut().map(|(_, _, v)| v)
    }

    /// Pairs held.
    pub(super) fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// True when no pair is held.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The `Vec` the worker kept, with its scans, as the reference.
    fn naive_insert(
        v: &mut Vec<(CallHandle, CallHandle, u32)>,
        a: CallHandle,
        b: CallHandle,
        x: u32,
    ) {
        v.retain(|&(p, q, _)| p != a && q != a && p != b && q != b);
        v.push((a, b, x));
    }

    #[test]
    fn pairs_match_a_scan_of_every_pair() {
        for seed in [11_u64, 0x0bad_cafe, 0x7777_1111] {
            let mut rng = Rng(seed);
            let (mut pairs, mut naive) = (Pairs::default(), Vec::new());
            for step in 0..20_000u32 {
                let leg = CallHandle(rng.below(60));
                match rng.below(8) {
                    0..=2 => {
                        let other = CallHandle(rng.below(60));
                        if other != leg {
                            pairs.insert(leg, other, step);
                            naive_insert(&mut naive, leg, other, step);
                        }
                    }
                    3..=5 => {
                        let at = naive.iter().position(|&(a, b, _)| a == leg || b == leg);
                        let want = at.map(|i| naive.remove(i));
                        assert_eq!(pairs.remove(leg), want, "step {step}");
                    }
                    6 => {
                        let want = (!naive.is_empty()).then(|| naive.remove(0));
                        assert_eq!(pairs.pop_oldest(), want, "step {step}");
                    }
                    _ => {
                        let want = naive.iter().find(|&&(a, b, _)| a == leg || b == leg);
                        let got = pairs.get_mut(leg).map(|p| *p);
                        assert_eq!(got, want.copied(), "step {step}");
                    }
                }
                assert_eq!(pairs.len(), naive.len(), "step {step}");
                let values: Vec<u32> = pairs.values_mut().map(|v| *v).collect();
                let want: Vec<u32> = naive.iter().map(|p| p.2).collect();
                assert_eq!(values, want, "step {step}: oldest first");
            }
        }
    }
}
