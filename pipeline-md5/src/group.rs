//! Walked files gathered into groups for the digesters: a group crosses
//! to a digester in one hand-off and shares its engine's lanes.

use pipeline::{Cancelled, Emitter};

use crate::stages::Found;
use crate::walk::Entry;

/// Files handed to one digester at once: files travel in groups, so that
/// the hop to the blocking pool and the channel sends are paid once per
/// group, and so that the digester has files to keep its engine's lanes
/// busy with (see [`crate::lanes`]).
pub(crate) type Group = Vec<Entry>;

/// Gathers walked files into [`Group`]s of `max` files. The walk does not
/// know sizes (it takes each entry's type from the directory listing and
/// stats nothing), so groups are counted in files; at the end of the walk
/// the files left are split among the digesters, so that a tree of a few
/// large files still keeps every digester busy.
pub(crate) struct Grouper {
    max: usize,
    digesters: usize,
    group: Group,
}

impl Grouper {
    pub(crate) fn new(max: usize, digesters: usize) -> Grouper {
        Grouper {
            max: max.max(1),
            digesters: digesters.max(1),
            group: Vec::new(),
        }
    }

    /// Sends what is held as up to one group per digester, in order.
    pub(crate) fn finish(&mut self, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        let mut rest = std::mem::take(&mut self.group);
        let (total, parts) = (rest.len(), self.digesters.min(rest.len()).max(1));
        for part in 0..parts {
            let size = total / parts + usize::from(part < total % parts);
            let tail = rest.split_off(size.min(rest.len()));
            let group = std::mem::replace(&mut rest, tail);
            if !group.is_empty() {
                em.emit(group)?;
            }
        }
        Ok(())
    }
}

impl Found<Group> for Grouper {
    fn file(&mut self, entry: Entry, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        self.group.push(entry);
        if self.group.len() >= self.max {
            return self.flush(em);
        }
        Ok(())
    }

    fn flush(&mut self, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        if self.group.is_empty() {
            return Ok(());
        }
        em.emit(std::mem::take(&mut self.group))
    }

    fn end(&mut self, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        self.finish(em)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::Pipeline;

    fn entry(name: &str) -> Entry {
        Entry::at_path(name.into(), name.as_bytes().to_vec(), 0)
    }

    /// The groups a [`Grouper`] of `max` files for `digesters` makes of
    /// `n` files, as their numbers.
    fn groups(max: usize, digesters: usize, n: usize) -> Vec<Vec<usize>> {
        Pipeline::new()
            .from_blocking("walk", move |em: &mut Emitter<Group>| {
                let mut grouper = Grouper::new(max, digesters);
                for i in 0..n {
                    grouper.file(entry(&i.to_string()), em).unwrap();
                }
                grouper.end(em).unwrap();
            })
            .map("names", |g: Group| {
                g.iter()
                    .map(|e| {
                        String::from_utf8(e.display.clone())
                            .unwrap()
                            .parse()
                            .unwrap()
                    })
                    .collect()
            })
            .collect::<Vec<Vec<usize>>>()
            .run()
            .unwrap()
    }

    #[test]
    fn files_travel_in_groups_and_the_rest_is_shared_among_the_digesters() {
        assert_eq!(groups(3, 1, 5), [vec![0, 1, 2], vec![3, 4]]);
        assert_eq!(
            groups(4, 2, 11),
            [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9], vec![10]]
        );
        assert_eq!(
            groups(64, 2, 4),
            [vec![0, 1], vec![2, 3]],
            "a few large files keep both digesters busy"
        );
        assert_eq!(groups(64, 3, 2), [vec![0], vec![1]]);
        assert_eq!(groups(1, 2, 2), [vec![0], vec![1]]);
        assert!(groups(4, 2, 0).is_empty());
    }
}
