//! From text to a validated [`Config`], collecting every error with its line.
//!
//! 1. Parse the TOML into a spanned document (all syntax errors, with
//!    recovery). Syntax errors stop here.
//! 2. Deserialise into the typed structs. serde stops at the first bad key,
//!    so on an unknown key or a bad value the offending key (or scalar array
//!    element) is removed from the document and deserialising is retried,
//!    up to [`MAX_PASSES`] times. A missing required key ends this step.
//! 3. Run the semantic checks, dropping any whose key lies over a value
//!    removed in step 2 (its default would cause a false alarm).

use toml::de::{DeTable, Deserializer};

use super::error::line_col;
use super::locate::{is_ancestor_or_self, remove_value, KeyIndex};
use super::validate::validate;
use super::{Config, ConfigError, ConfigErrors, Problem};

/// Bound on deserialisation retries; a file with more bad keys than this
/// reports the first ones.
pub const MAX_PASSES: usize = 64;

/// Turns paths and byte offsets into [`ConfigError`]s for one text.
struct Reporter<'a> {
    text: &'a str,
    origin: &'a str,
    index: KeyIndex,
    errors: Vec<ConfigError>,
}

impl Reporter<'_> {
    fn at_offset(&mut self, offset: usize, key: String, problem: Problem) {
        let (line, column) = line_col(self.text, offset);
        self.errors.push(ConfigError {
            file: self.origin.to_string(),
            line,
            column,
            key,
            problem,
        });
    }

    fn at_key(&mut self, key: String, problem: Problem) {
        let offset = self.index.anchor_of(&key).map_or(0, |span| span.start);
        self.at_offset(offset, key, problem);
    }

    fn finish(mut self) -> ConfigErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        ConfigErrors {
            errors: self.errors,
        }
    }
}

/// Parses and validates `text`; `origin` names it in error messages.
pub(crate) fn load_text(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let mut report = Reporter {
        text,
        origin,
        index: KeyIndex::build(doc.get_ref()),
        errors: Vec::new(),
    };
    if !syntax.is_empty() {
        for e in syntax {
            let offset = e.span().map_or(0, |s| s.start);
            report.at_offset(
                offset,
                String::new(),
                Problem::Toml {
                    message: e.message().to_string(),
                },
            );
        }
        return Err(report.finish());
    }
    let span = doc.span();
    let mut root = doc.into_inner();
    let mut removed = Vec::new();
    let config = deserialise(&mut root, span, &mut report, &mut removed);
    let Some(mut config) = config else {
        return Err(report.finish());
    };
    let (findings, dids) = validate(&config);
    for (key, problem) in findings.into_vec() {
        if !removed
            .iter()
            .any(|r: &String| is_ancestor_or_self(&key, r))
        {
            report.at_key(key, problem);
        }
    }
    if !report.errors.is_empty() {
        return Err(report.finish());
    }
    config.did_index = dids;
    config.auth.normalise();
    config
        .operators
        .iter_mut()
        .for_each(super::operators::Operator::normalise);
    Ok(config)
}

/// Step 2: deserialise, removing each bad key and retrying. Returns the
/// config when a pass succeeds; records every error in `report`.
fn deserialise(
    root: &mut DeTable<'_>,
    span: std::ops::Range<usize>,
    report: &mut Reporter<'_>,
    removed: &mut Vec<String>,
) -> Option<Config> {
    for _ in 0..MAX_PASSES {
        let de = Deserializer::from(toml::Spanned::new(span.clone(), root.clone()));
        let err = match serde::Deserialize::deserialize(de) {
            Ok(config) => return Some(config),
            Err(err) => err,
        };
        let offset = err.span().map_or(0, |s| s.start);
        let located = err.span().and_then(|s| report.index.path_at(s.start));
        let path = located.unwrap_or_default().to_string();
        let message = err.message().to_string();
        if let Some(field) = missing_field(&message) {
            let key = if path.is_empty() {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            if !removed.iter().any(|r| is_ancestor_or_self(&key, r)) {
                report.at_offset(offset, key, Problem::Toml { message });
            }
            return None;
        }
        report.at_offset(offset, path.clone(), Problem::Toml { message });
        let removable = report
            .index
            .value_span(&path)
            .filter(|_| !removed.contains(&path));
        match removable {
            Some(value) if remove_value(root, &path, &value) => removed.push(path),
            _ => return None,
        }
    }
    None
}

/// `missing field `id`` → `id`.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_name() {
        assert_eq!(missing_field("missing field `id`"), Some("id"));
        assert_eq!(missing_field("unknown field `x`"), None);
    }
}
