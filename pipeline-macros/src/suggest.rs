//! "Did you mean" hints for misspelt kinds, options, sinks and stage names.

/// ` (did you mean `x`?)` for the closest candidate within two edits, or
/// nothing.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_only() {
        assert_eq!(edit_distance("mapp", "map"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let kinds = ["map", "filter", "merge"];
        assert_eq!(
            did_you_mean("mapp", kinds.iter().copied()),
            " (did you mean `map`?)"
        );
        assert_eq!(did_you_mean("squish", kinds.iter().copied()), "");
    }
}
