//! Syntax of From, To and Contact values (RFC 3261 §20.10, §25.1
//! `name-addr` / `addr-spec`; RFC 4475 §3.1.2.6, §3.1.2.13-15).
//!
//! The parser is lenient here; these checks reject what RFC 4475 says must
//! get a 400: an unterminated quoted string, spaces inside `<...>`, a display
//! name that is neither a quoted string nor tokens, and an addr-spec without
//! `<>` that carries URI headers (`?`) or a comma.

/// Why a name-addr is malformed.
pub(super) type Problem = &'static str;

const TOKEN_EXTRA: &str = "-.!%*_+`'~";

/// Checks one From/To/Contact value (already split from its neighbours).
pub(super) fn check(value: &str) -> Result<(), Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty value");
    }
    if value == "*" {
        return Ok(());
    }
    if value.starts_with('"') {
        let rest = skip_quoted(value).ok_or("unterminated quoted string")?;
        return check_bracketed(rest.trim_start()).map(|_| ());
    }
    match value.find('<') {
        Some(open) => {
            check_display_tokens(value.get(..open).unwrap_or(""))?;
            check_bracketed(value.get(open..).unwrap_or("")).map(|_| ())
        }
        None => check_addr_spec(value),
    }
}

/// Skips a quoted string at the start of `s`; the rest, or `None` if unterminated.
fn skip_quoted(s: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return s.get(i + 1..),
            _ => {}
        }
    }
    None
}

/// An unquoted display name: tokens separated by whitespace.
fn check_display_tokens(name: &str) -> Result<(), Problem> {
    let ok = name.split_whitespace().all(|w| {
        w.chars()
            .all(|c| c.is_ascii_alphanumeric() || TOKEN_EXTRA.contains(c))
    });
    if ok {
        Ok(())
    } else {
        Err("display name is not a token list or quoted string")
    }
}

/// `<uri>` followed by parameters: no whitespace inside the brackets.
fn check_bracketed(s: &str) -> Result<&str, Problem> {
    let inner = s.strip_prefix('<').ok_or("missing <")?;
    let close = inner.find('>').ok_or("missing >")?;
    let uri = inner.get(..close).unwrap_or("");
    if uri.is_empty() || uri.contains(char::is_whitespace) {
        return Err("whitespace or nothing inside <>");
    }
    if !uri.contains(':') {
        return Err("URI without scheme");
    }
    Ok(inner.get(close + 1..).unwrap_or(""))
}

/// A bare addr-spec: the URI runs to the first `;` and must hold no `?`,
/// `,` or whitespace (RFC 3261 §20.10).
fn check_addr_spec(value: &str) -> Result<(), Problem> {
    let uri = value.split(';').next().unwrap_or("").trim();
    if uri.is_empty() || !uri.contains(':') {
        return Err("URI without scheme");
    }
    if uri.contains(['?', ',', '"']) || uri.contains(char::is_whitespace) {
        return Err("addr-spec with headers, comma or spaces needs <>");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_forms() {
        for v in [
            "sip:caller@example.net;tag=1",
            "\"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=43",
            "\"BEL:\\\" x\" <sip:x@y>",
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>",
            "caller<sip:caller@example.com>;tag=32",
            "<http://www.example.com>;tag=3",
            "isbn:2983792873",
            "*",
        ] {
            assert_eq!(check(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn rfc4475_invalid_forms() {
        for v in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "",
            "<>",
        ] {
            assert!(check(v).is_err(), "{v}");
        }
    }
}
