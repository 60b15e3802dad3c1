//! Key-space arithmetic for prefix scans.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::KeyValue;

/// The smallest byte string greater than every string that starts with `prefix`, or `None` when
/// no such bound exists (empty prefix, or a prefix of only 0xFF bytes): then a scan runs to the end.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The lower bound of a page under `prefix` that starts strictly after `start_after`, when given.
pub(crate) fn page_start<'a>(prefix: &'a str, start_after: Option<&'a str>) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// One page of `kvs` under `prefix`: the keys after `start_after`, at most `limit` of them
/// (0 = all), and whether more follow.
pub(crate) fn range_page(
    kvs: &BTreeMap<String, KeyValue>,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> (Vec<KeyValue>, bool) {
    let under_prefix = kvs
        .range::<str, _>((page_start(prefix, start_after), Bound::Unbounded))
        .take_while(|(key, _)| key.starts_with(prefix))
        .map(|(_, kv)| kv);
    if limit == 0 {
        return (under_prefix.cloned().collect(), false);
    }
    let mut page: Vec<KeyValue> = under_prefix
        .take(limit.saturating_add(1))
        .cloned()
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    (page, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/a/"), Some(b"/a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    proptest! {
        #[test]
        fn prefix_end_bounds_exactly_the_keys_with_the_prefix(prefix in proptest::collection::vec(any::<u8>(), 0..4), key in proptest::collection::vec(any::<u8>(), 0..6)) {
            let inside = key >= prefix && prefix_end(&prefix).is_none_or(|end| key < end);
            prop_assert_eq!(inside, key.starts_with(&prefix));
        }
    }

    fn store(keys: &[&str]) -> BTreeMap<String, KeyValue> {
        keys.iter()
            .map(|key| {
                let kv = KeyValue {
                    key: (*key).into(),
                    value: Bytes::new(),
                    create_revision: 1,
                    mod_revision: 1,
                };
                ((*key).to_owned(), kv)
            })
            .collect()
    }

    fn keys(page: &[KeyValue]) -> Vec<&str> {
        page.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn range_page_respects_prefix_start_after_and_limit() {
        let kvs = store(&["/a", "/b/1", "/b/2", "/b/3", "/c"]);
        let (page, more) = range_page(&kvs, "/b/", None, 2);
        assert_eq!((keys(&page), more), (vec!["/b/1", "/b/2"], true));
        let (page, more) = range_page(&kvs, "/b/", Some("/b/2"), 2);
        assert_eq!((keys(&page), more), (vec!["/b/3"], false));
        let (page, more) = range_page(&kvs, "/b/", Some("/a"), 0);
        assert_eq!((keys(&page), more), (vec!["/b/1", "/b/2", "/b/3"], false));
        let (page, more) = range_page(&kvs, "/b/", Some("/b/3"), 0);
        assert_eq!((keys(&page), more), (vec![], false));
    }
}
