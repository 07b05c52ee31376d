//! Walked files gathered into groups for the digesters: a group crosses
//! to a digester in one hand-off and shares its engine's lanes. Files are
//! numbered in walk order as they are grouped, so that the digesters can
//! hand outcomes on in any order ([`crate::relay`]).

use pipeline::{Cancelled, Emitter};

use crate::error::Error;
use crate::relay::Work;
use crate::stages::Found;
use crate::walk::Entry;

/// Gathers walked files into groups ([`Work::Files`]) of `max` files. The
/// walk does not know sizes (it takes each entry's type from the directory
/// listing and stats nothing), so groups are counted in files; at the end
/// of the walk the files left are split among the digesters, so that a
/// tree of a few large files still keeps every digester busy, and
/// [`Work::End`] follows. Files are grouped so that the hop to the
/// blocking pool and the channel sends are paid once per group, and so
/// that a digester has files to keep its engine's lanes busy with (see
/// [`crate::lanes`]).
pub(crate) struct Grouper {
    max: usize,
    digesters: usize,
    /// The number of the next file (or walk error) in walk order.
    next: u64,
    group: Vec<Entry>,
    /// Walk errors travel numbered in their place (continue policy);
    /// otherwise they fail the run at once.
    errors_in_place: bool,
}

impl Grouper {
    pub(crate) fn new(max: usize, digesters: usize, errors_in_place: bool) -> Grouper {
        Grouper {
            max: max.max(1),
            digesters: digesters.max(1),
            next: 0,
            group: Vec::new(),
            errors_in_place,
        }
    }

    fn emit(
        &mut self,
        files: Vec<Entry>,
        last: bool,
        em: &mut Emitter<Work>,
    ) -> Result<(), Cancelled> {
        let first = self.next;
        self.next += files.len() as u64;
        em.emit(Work::Files { first, files, last })
    }

    /// Sends what is held as up to one group per digester, in order.
    pub(crate) fn finish(&mut self, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        let mut rest = std::mem::take(&mut self.group);
        let (total, parts) = (rest.len(), self.digesters.min(rest.len()).max(1));
        for part in 0..parts {
            let size = total / parts + usize::from(part < total % parts);
            let tail = rest.split_off(size.min(rest.len()));
            let group = std::mem::replace(&mut rest, tail);
            if !group.is_empty() {
                self.emit(group, true, em)?;
            }
        }
        Ok(())
    }
}

impl Found<Work> for Grouper {
    fn file(&mut self, entry: Entry, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        self.group.push(entry);
        if self.group.len() >= self.max {
            return self.flush(em);
        }
        Ok(())
    }

    fn flush(&mut self, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        if self.group.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.group);
        self.emit(group, false, em)
    }

    fn failed(&mut self, err: Error, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        self.flush(em)?;
        if !self.errors_in_place {
            return em.error(err);
        }
        let seq = self.next;
        self.next += 1;
        em.emit(Work::Failed { seq, err })
    }

    fn end(&mut self, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        self.finish(em)?;
        em.emit(Work::End)
    }

    fn waits(&mut self, em: &mut Emitter<Work>) -> Result<(), Cancelled> {
        self.flush(em)?;
        em.emit(Work::Wait { next: self.next })
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
    /// `n` files, as their numbers (checked against each group's first
    /// number); `None` stands for [`Work::End`].
    fn groups(max: usize, digesters: usize, n: usize) -> Vec<Option<Vec<usize>>> {
        Pipeline::new()
            .from_blocking("walk", move |em: &mut Emitter<Work>| {
                let mut grouper = Grouper::new(max, digesters, true);
                for i in 0..n {
                    grouper.file(entry(&i.to_string()), em).unwrap();
                }
                grouper.end(em).unwrap();
            })
            .map("names", |w: Work| match w {
                Work::Files { first, files, .. } => {
                    let names: Vec<usize> = files
                        .iter()
                        .map(|e| {
                            String::from_utf8(e.display.clone())
                                .unwrap()
                                .parse()
                                .unwrap()
                        })
                        .collect();
                    assert_eq!(first, names[0] as u64);
                    Some(names)
                }
                Work::End => None,
                Work::Failed { .. } | Work::Wait { .. } => {
                    unreachable!("no walk error or wait here")
                }
            })
            .collect::<Vec<_>>()
            .run()
            .unwrap()
    }

    fn files(groups: &[&[usize]]) -> Vec<Option<Vec<usize>>> {
        groups
            .iter()
            .map(|g| Some(g.to_vec()))
            .chain([None])
            .collect()
    }

    #[test]
    fn files_travel_in_groups_and_the_rest_is_shared_among_the_digesters() {
        assert_eq!(groups(3, 1, 5), files(&[&[0, 1, 2], &[3, 4]]));
        assert_eq!(
            groups(4, 2, 11),
            files(&[&[0, 1, 2, 3], &[4, 5, 6, 7], &[8, 9], &[10]])
        );
        assert_eq!(
            groups(64, 2, 4),
            files(&[&[0, 1], &[2, 3]]),
            "a few large files keep both digesters busy"
        );
        assert_eq!(groups(64, 3, 2), files(&[&[0], &[1]]));
        assert_eq!(groups(1, 2, 2), files(&[&[0], &[1]]));
        assert_eq!(
            groups(4, 2, 0),
            files(&[]),
            "the end comes even with no file"
        );
    }

    #[test]
    fn a_walk_error_in_place_takes_a_number_between_the_files() {
        let numbers = Pipeline::new()
            .from_blocking("walk", move |em: &mut Emitter<Work>| {
                let mut grouper = Grouper::new(4, 1, true);
                grouper.file(entry("a"), em).unwrap();
                let err = Error::Config("x".into());
                grouper.failed(err, em).unwrap();
                grouper.file(entry("b"), em).unwrap();
                grouper.end(em).unwrap();
            })
            .map("numbers", |w: Work| match w {
                Work::Files { first, files, last } => {
                    format!("{first}+{}{}", files.len(), if last { " last" } else { "" })
                }
                Work::Failed { seq, .. } => format!("error {seq}"),
                Work::Wait { next } => format!("wait {next}"),
                Work::End => "end".into(),
            })
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        assert_eq!(numbers, ["0+1", "error 1", "2+1 last", "end"]);
    }

    #[test]
    fn before_the_walk_waits_its_held_files_go_on_and_a_wait_follows() {
        let numbers = Pipeline::new()
            .from_blocking("walk", |em: &mut Emitter<Work>| {
                let mut grouper = Grouper::new(4, 2, true);
                grouper.file(entry("a"), em).unwrap();
                grouper.file(entry("b"), em).unwrap();
                grouper.waits(em).unwrap();
                grouper.waits(em).unwrap();
                grouper.file(entry("c"), em).unwrap();
                grouper.end(em).unwrap();
            })
            .map("numbers", |w: Work| match w {
                Work::Files { first, files, last } => {
                    format!("{first}+{}{}", files.len(), if last { " last" } else { "" })
                }
                Work::Failed { seq, .. } => format!("error {seq}"),
                Work::Wait { next } => format!("wait {next}"),
                Work::End => "end".into(),
            })
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        assert_eq!(numbers, ["0+2", "wait 2", "wait 2", "2+1 last", "end"]);
    }
}
