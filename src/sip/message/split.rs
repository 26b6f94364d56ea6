//! Splitting comma-joined header values (RFC 3261 §7.3.1).
//!
//! A header that allows a list may carry several values on one line
//! (`Via: SIP/2.0/UDP a;branch=x, SIP/2.0/TCP b;branch=y`). The parser keeps
//! such a line as one header, so we split it here: on commas that are outside
//! double quotes (with `\` quoted-pairs) and outside `<...>`.

/// Splits `value` on top-level commas and trims each part. Empty parts are
/// kept (as empty strings) so that callers can reject `a,,b` as malformed.
pub fn split_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut angle = 0u32;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => angle += 1,
            '>' if !in_quotes => angle = angle.saturating_sub(1),
            ',' if !in_quotes && angle == 0 => {
                parts.push(value.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value.get(start..).unwrap_or("").trim());
    parts
}

/// The `;`-separated parameters after the first element of `value`
/// (`SIP/2.0/UDP host;branch=x;rport` gives `branch=x`, `rport`), each split
/// into a trimmed name and an optional trimmed value. Quoted values keep their quotes.
pub fn split_params(value: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    value.split(';').skip(1).map(|p| match p.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (p.trim(), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_commas_only() {
        let v = r#""Bell, A" <sip:a@x;p=1,2>;tag=3, <sip:b@y>,sip:c@z"#;
        assert_eq!(
            split_commas(v),
            vec![r#""Bell, A" <sip:a@x;p=1,2>;tag=3"#, "<sip:b@y>", "sip:c@z"]
        );
    }

    #[test]
    fn escaped_quote_does_not_end_the_string() {
        let v = r#""a \" , b" <sip:a@x>, <sip:b@y>"#;
        assert_eq!(split_commas(v).len(), 2);
    }

    #[test]
    fn empty_parts_are_kept() {
        assert_eq!(split_commas("a;;,;,,"), vec!["a;;", ";", "", ""]);
        assert_eq!(split_commas(""), vec![""]);
    }

    #[test]
    fn params_are_split_into_names_and_values() {
        let p: Vec<_> = split_params("SIP/2.0/UDP h;branch=z9;rport; received = 1.2.3.4").collect();
        assert_eq!(
            p,
            vec![
                ("branch", Some("z9")),
                ("rport", None),
                ("received", Some("1.2.3.4"))
            ]
        );
    }
}
