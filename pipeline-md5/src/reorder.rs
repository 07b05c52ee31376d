//! Numbered outcomes back in walk order: the `order` stage after the
//! digesters, which hand outcomes on as they finish them
//! ([`crate::relay`]).

use std::collections::VecDeque;

use crate::bounded::Digested;
use crate::relay::Numbered;

/// Outcomes waiting for the ones before them. How many can wait is bounded
/// by the digesters: a file still being read keeps at most its lag (the
/// reorder window's groups of files) and the groups in work behind it.
#[derive(Debug, Default)]
pub(crate) struct Reorder {
    /// The number of the first outcome not yet handed on.
    base: u64,
    /// From `base` on: `None` not yet come, `Some(None)` a file skipped.
    waiting: VecDeque<Option<Option<Digested>>>,
}

impl Reorder {
    /// Takes a packet of numbered outcomes and returns those now in order
    /// (the skipped files left out), in order.
    ///
    /// # Panics
    ///
    /// If a number comes twice: each file has one outcome.
    pub(crate) fn put(&mut self, packet: Vec<Numbered>) -> Vec<Digested> {
        for (seq, outcome) in packet {
            let at = seq
                .checked_sub(self.base)
                .and_then(|at| usize::try_from(at).ok())
                .expect("each file's outcome comes once");
            if at >= self.waiting.len() {
                self.waiting.resize_with(at + 1, || None);
            }
            let slot = &mut self.waiting[at];
            assert!(slot.is_none(), "each file's outcome comes once");
            *slot = Some(outcome);
        }
        let mut ready = Vec::new();
        while let Some(Some(_)) = self.waiting.front() {
            let outcome = self.waiting.pop_front().flatten().flatten();
            self.base += 1;
            ready.extend(outcome);
        }
        ready
    }

    /// The number of the first outcome not yet handed on.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// How many outcomes wait for one before them.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.iter().filter(|w| w.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileDigest;

    fn ok(seq: u64) -> Numbered {
        (
            seq,
            Some(Ok(FileDigest::new(
                seq.to_string().as_bytes(),
                crate::digest::Sum {
                    hash: crate::algorithm::Hash::md5([0; 16]),
                    size: 0,
                },
            ))),
        )
    }

    fn names(ready: Vec<Digested>) -> Vec<String> {
        ready
            .into_iter()
            .map(|d| d.unwrap().path.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn outcomes_leave_in_walk_order_as_soon_as_those_before_them_are_in() {
        let mut r = Reorder::default();
        assert!(r.put(vec![ok(2), ok(1)]).is_empty());
        assert_eq!(r.waiting(), 2);
        assert_eq!(names(r.put(vec![ok(0), ok(4)])), ["0", "1", "2"]);
        // A skipped file (3) leaves nothing, and holds nothing up.
        assert_eq!(names(r.put(vec![(3, None)])), ["4"]);
        assert_eq!(r.waiting(), 0);
        assert!(r.put(Vec::new()).is_empty());
    }

    #[test]
    #[should_panic(expected = "each file's outcome comes once")]
    fn an_outcome_that_comes_twice_is_a_bug() {
        let mut r = Reorder::default();
        r.put(vec![ok(0)]);
        r.put(vec![ok(0)]);
    }
}
