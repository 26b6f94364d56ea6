//! Finding keys in the parsed TOML document, by position and by path.
//!
//! The typed config carries no positions. Instead the spanned document that
//! toml parses first is flattened into an index of every key and array
//! element with its dotted path (`tenants[1].dids[0]`) and byte spans. The
//! index answers two questions: which key does a parser error at byte N
//! belong to, and on which line is the key a validator complains about.

use std::ops::Range;

use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

/// One key or array element in the document.
#[derive(Debug, Clone)]
struct Entry {
    /// Dotted path, `sip.listen[0].addr`.
    path: String,
    /// The key's span, for table entries; `None` for array elements.
    key: Option<Range<usize>>,
    /// The value's span (for a `[table]` or `[[array]]` element, its header).
    value: Range<usize>,
}

impl Entry {
    /// Where to point a reader: the key when there is one, else the value.
    fn anchor(&self) -> Range<usize> {
        self.key.clone().unwrap_or_else(|| self.value.clone())
    }
}

/// Every key and array element of a document, with paths and spans.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndex {
    entries: Vec<Entry>,
}

impl KeyIndex {
    /// Indexes a parsed document.
    pub(crate) fn build(root: &DeTable<'_>) -> Self {
        let mut index = Self::default();
        index.walk_table(root, "");
        index
    }

    fn walk_table(&mut self, table: &DeTable<'_>, prefix: &str) {
        for (key, value) in table.iter() {
            let path = join_key(prefix, key.get_ref());
            self.entries.push(Entry {
                path: path.clone(),
                key: Some(key.span()),
                value: value.span(),
            });
            self.walk_value(value.get_ref(), &path);
        }
    }

    fn walk_value(&mut self, value: &DeValue<'_>, path: &str) {
        match value {
            DeValue::Table(table) => self.walk_table(table, path),
            DeValue::Array(array) => {
                for (i, item) in array.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.entries.push(Entry {
                        path: item_path.clone(),
                        key: None,
                        value: item.span(),
                    });
                    self.walk_value(item.get_ref(), &item_path);
                }
            }
            _ => {}
        }
    }

    /// The path of the innermost key or element whose key or value span
    /// contains `offset`. Ties go to the deeper entry (a `[[tenants]]`
    /// header is both the array's and its element's span).
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        let contains = |r: &Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
        self.entries
            .iter()
            .filter_map(|e| {
                let hit = [e.key.as_ref(), Some(&e.value)]
                    .into_iter()
                    .flatten()
                    .find(|r| contains(r))?;
                Some((hit.len(), std::cmp::Reverse(e.path.len()), e))
            })
            .min_by_key(|(len, depth, _)| (*len, *depth))
            .map(|(_, _, e)| e.path.as_str())
    }

    /// The byte span to report for `path`: the key itself when written, or
    /// the closest written parent (a default applies to a missing key).
    pub(crate) fn anchor_of(&self, path: &str) -> Option<Range<usize>> {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return Some(e.anchor());
            }
            path = parent(path)?;
        }
    }

    /// The value span of exactly `path`, for removing it from a document.
    pub(crate) fn value_span(&self, path: &str) -> Option<Range<usize>> {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.value.clone())
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → none.
pub(crate) fn parent(path: &str) -> Option<&str> {
    path.rfind(['.', '[']).map(|i| &path[..i])
}

/// True when `ancestor` is `path` or one of its parents.
pub(crate) fn is_ancestor_or_self(ancestor: &str, path: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn join_key(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// Removes the value at `path` (whose value span is `span`) so that
/// deserialising can go on past a bad value: a table entry, or a scalar
/// array element. Table elements of arrays are never removed, as later
/// indices would shift. Returns whether something was removed.
pub(crate) fn remove_value(root: &mut DeTable<'_>, path: &str, span: &Range<usize>) -> bool {
    let element = path.ends_with(']');
    remove_in_table(root, span, element)
}

fn remove_in_table(table: &mut DeTable<'_>, span: &Range<usize>, element: bool) -> bool {
    if !element {
        let found = table
            .iter()
            .find(|(_, v)| v.span() == *span)
            .map(|(k, _)| k.clone());
        if let Some(key) = found {
            return table.remove(&key).is_some();
        }
    }
    table
        .iter_mut()
        .any(|(_, value)| remove_in_value(value.get_mut(), span, element))
}

fn remove_in_value(value: &mut DeValue<'_>, span: &Range<usize>, element: bool) -> bool {
    match value {
        DeValue::Table(table) => remove_in_table(table, span, element),
        DeValue::Array(array) => remove_in_array(array, span, element),
        _ => false,
    }
}

fn remove_in_array(array: &mut DeArray<'_>, span: &Range<usize>, element: bool) -> bool {
    let hit = array
        .iter()
        .position(|item| item.span() == *span && !item.get_ref().is_table());
    if let (true, Some(i)) = (element, hit) {
        let items = std::mem::replace(array, DeArray::new())
            .into_iter()
            .enumerate();
        let kept: Vec<Spanned<DeValue<'_>>> =
            items.filter(|(j, _)| *j != i).map(|(_, v)| v).collect();
        *array = kept.into_iter().collect();
        return true;
    }
    array
        .iter_mut()
        .any(|item| remove_in_value(item.get_mut(), span, element))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[a]\nx = 1\n\n[[t]]\nid = \"a\"\nl = [1, 2]\n\n[[t]]\nid = \"b\"\n";

    fn index() -> KeyIndex {
        let doc = DeTable::parse(DOC).unwrap();
        KeyIndex::build(doc.get_ref())
    }

    #[test]
    fn finds_path_by_offset() {
        let idx = index();
        let at = |needle: &str| idx.path_at(DOC.find(needle).unwrap()).map(str::to_string);
        assert_eq!(at("x =").as_deref(), Some("a.x"));
        assert_eq!(at("2]").as_deref(), Some("t[0].l[1]"));
        assert_eq!(at("\"b\"").as_deref(), Some("t[1].id"));
        let second_header = DOC.rfind("[[t]]").unwrap();
        assert_eq!(idx.path_at(second_header), Some("t[1]"));
    }

    #[test]
    fn anchors_fall_back_to_parent() {
        let idx = index();
        assert_eq!(
            idx.anchor_of("t[1].id").map(|r| r.start),
            DOC.find("id = \"b\"")
        );
        assert_eq!(
            idx.anchor_of("t[1].missing").map(|r| r.start),
            Some(DOC.rfind("[[t]]").unwrap())
        );
        assert_eq!(idx.anchor_of("nothing.here"), None);
    }

    #[test]
    fn paths_and_ancestry() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), None);
        assert!(is_ancestor_or_self("t[1]", "t[1].l[0]"));
        assert!(!is_ancestor_or_self("t[1]", "t[10]"));
        assert_eq!(join_key("a", "odd key"), "a.\"odd key\"");
    }

    #[test]
    fn removes_scalar_elements_and_keys_only() {
        let mut doc = DeTable::parse(DOC).unwrap().into_inner();
        let idx = KeyIndex::build(&doc);
        let remove = |doc: &mut DeTable<'_>, path: &str| {
            let span = idx.value_span(path).unwrap();
            remove_value(doc, path, &span)
        };
        assert!(remove(&mut doc, "t[0].l[1]"));
        assert!(!remove(&mut doc, "t[1]"));
        assert!(remove(&mut doc, "a.x"));
        let after = KeyIndex::build(&doc);
        assert!(after.value_span("t[0].l[1]").is_none());
        assert!(after.value_span("a.x").is_none());
        assert!(after.value_span("t[1].id").is_some());
    }
}
