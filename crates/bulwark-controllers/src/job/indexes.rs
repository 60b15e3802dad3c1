//! Completion indexes of Indexed Jobs: reading a pod's index and upstream's compact
//! `completedIndexes` text ("1,3-5,7").

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

/// The annotation (and, since 1.28, label) that carries a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// A pod's completion index if it has a valid one below `completions`.
pub fn index_of(pod: &Pod, completions: i32) -> Option<i32> {
    let text = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(COMPLETION_INDEX))?;
    let index: i32 = text.parse().ok()?;
    (0..completions).contains(&index).then_some(index)
}

/// Parses `completedIndexes`, keeping only indexes below `completions`; text that does not
/// parse contributes nothing (upstream ignores it too).
pub fn parse(text: Option<&str>, completions: i32) -> BTreeSet<i32> {
    let mut indexes = BTreeSet::new();
    for part in text
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (first.parse::<i32>(), last.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(first), Ok(last)) = (first, last) {
            indexes.extend((first.max(0)..=last.min(completions - 1)).take(1 << 20));
        }
    }
    indexes
}

/// Formats indexes as upstream does: ascending, runs of two or more as `a-b`, singles as `a`.
pub fn format(indexes: &BTreeSet<i32>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &index in indexes {
        run = match run {
            Some((first, last)) if index == last + 1 => Some((first, index)),
            Some(done) => {
                parts.push(format_run(done));
                Some((index, index))
            }
            None => Some((index, index)),
        };
    }
    if let Some(done) = run {
        parts.push(format_run(done));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

fn format_run((first, last): (i32, i32)) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_runs_like_upstream() {
        let set: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(format(&set).as_deref(), Some("0-2,4,6-7"));
        assert_eq!(format(&BTreeSet::new()), None);
        assert_eq!(parse(Some("0-2,4,6-7"), 7), [0, 1, 2, 4, 6].into());
        assert_eq!(parse(Some("x,3"), 7), [3].into());
    }

    proptest! {
        #[test]
        fn format_and_parse_round_trip(set in proptest::collection::btree_set(0i32..50, 0..30)) {
            let text = format(&set);
            prop_assert_eq!(parse(text.as_deref(), 50), set);
        }
    }
}
