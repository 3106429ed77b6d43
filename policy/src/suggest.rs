//! "Did you mean": the closest known name to a misspelt one, by edit distance.

/// The known name closest to `input` (ignoring case), if it is close enough to be a typo: at most
/// one edit for short names, at most a third of the name's length for longer ones; or a known
/// name that `input` (three letters or more) begins.
pub(crate) fn did_you_mean<'k>(input: &str, known: &[&'k str]) -> Option<&'k str> {
    let input = input.trim().to_lowercase();
    if input.len() >= 3 {
        if let Some(k) = known.iter().find(|k| k.starts_with(&input)) {
            return Some(k);
        }
    }
    let allowed = (input.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&input, k), *k))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits_and_transpositions() {
        assert_eq!(edit_distance("amout", "amount"), 1);
        assert_eq!(edit_distance("clsoe_date", "close_date"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn suggests_only_close_names() {
        let known = ["name", "stage", "amount"];
        assert_eq!(did_you_mean("amout", &known), Some("amount"));
        assert_eq!(did_you_mean("Stage", &known), Some("stage"));
        assert_eq!(did_you_mean("zzzzzz", &known), None);
    }
}
