//! Config errors: every problem found in a file, each with its position.

use std::fmt;

/// What is wrong with one key. Syntax and type errors come from the TOML
/// parser as text; everything the validator finds is a typed variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file could not be read.
    #[error("cannot read file: {reason}")]
    Io {
        /// The operating system's explanation.
        reason: String,
    },
    /// TOML syntax, an unknown key, a wrong type or a bad value, as the
    /// TOML parser reports it.
    #[error("{message}")]
    Toml {
        /// The parser's message.
        message: String,
    },
    /// A value is out of its allowed range or form.
    #[error("{value} is invalid: {expected}")]
    Invalid {
        /// The value as written.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A name that must be unique appears again.
    #[error("`{value}` is already used at {first}")]
    Duplicate {
        /// The repeated value.
        value: String,
        /// The dotted key of the first use.
        first: String,
    },
    /// A key is required by another one.
    #[error("is required {because}")]
    Missing {
        /// Why it is required.
        because: &'static str,
    },
    /// A key is not allowed together with another one.
    #[error("is not allowed {because}")]
    Forbidden {
        /// Why it is not allowed.
        because: &'static str,
    },
    /// Two keys contradict each other.
    #[error("{detail}")]
    Conflict {
        /// Which relation is violated, with the values.
        detail: String,
    },
}

/// One problem at one place in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or origin label, such as `<embedded default>`).
    pub file: String,
    /// 1-based line of the offending key (or of its closest written parent).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// The dotted key path, such as `tenants[1].dids[0]`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub problem: Problem,
}

impl ConfigError {
    /// The problem as text, without the position.
    pub fn message(&self) -> String {
        self.problem.to_string()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.problem)
    }
}

/// All problems found in a config file, in file order. Never empty when
/// returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, sorted by line then column.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// The problems, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when there are no problems (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// One line per problem: `file:line:col: key: message`.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// 1-based line and character column of a byte offset in `text`.
/// Offsets past the end, or inside a character, are clamped.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 8), (2, 2)); // inside 'é': clamped back
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn display_one_per_line() {
        let e = |line, key: &str| ConfigError {
            file: "x.toml".into(),
            line,
            column: 1,
            key: key.into(),
            problem: Problem::Missing { because: "for tls" },
        };
        let errs = ConfigErrors {
            errors: vec![e(3, "sip.listen[0].cert"), e(9, "")],
        };
        assert_eq!(
            errs.to_string(),
            "x.toml:3:1: sip.listen[0].cert: is required for tls\nx.toml:9:1: is required for tls"
        );
    }
}
