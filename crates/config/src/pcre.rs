//! PCRE's syntax where it differs from Rust `regex`'s in ways real uWSGI configs meet: uWSGI
//! compiles routing and log-routing regexps with PCRE, which reads a `{` that does not open
//! a `{n}`, `{n,}` or `{n,m}` quantifier as a literal brace (`log-route = applogger {`),
//! where `regex` refuses it.

use std::borrow::Cow;

/// `pattern` with each `{` that opens no quantifier escaped (outside character classes and
/// escapes); borrowed when nothing changed. Start-up only: it copies freely.
pub fn literal_braces(pattern: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut in_class = false;
    let mut chars = pattern.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class && !opens_quantifier(&pattern.as_bytes()[i + 1..]) => {
                out.push_str("\\{");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    if out == pattern {
        Cow::Borrowed(pattern)
    } else {
        Cow::Owned(out)
    }
}

/// Whether `rest` (what follows a `{`) is `n}`, `n,}` or `n,m}`.
fn opens_quantifier(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    match rest.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(&rest[n + 1..]);
            rest.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_braces_become_literal_and_quantifiers_stay() {
        assert_eq!(literal_braces("{"), "\\{");
        assert_eq!(literal_braces("^{\"a\""), "^\\{\"a\"");
        assert_eq!(literal_braces("a{2}b{1,}c{1,3}"), "a{2}b{1,}c{1,3}");
        assert_eq!(literal_braces("a{x}"), "a\\{x}");
        assert_eq!(literal_braces("[{]\\{"), "[{]\\{");
        assert_eq!(literal_braces("é{"), "é\\{");
        assert!(matches!(literal_braces("^/static/(.*)"), Cow::Borrowed(_)));
    }

    proptest::proptest! {
        #[test]
        fn only_backslashes_before_braces_are_added(s in "[a{}0-9,\\\\\\[\\]é]{0,40}") {
            let out = literal_braces(&s);
            // `s` is `out` without some of the backslashes that stand before a brace.
            let (o, t) = (out.as_bytes(), s.as_bytes());
            let (mut i, mut j) = (0, 0);
            while i < o.len() {
                if j < t.len() && o[i] == t[j] {
                    j += 1;
                } else {
                    proptest::prop_assert!(o[i] == b'\\' && o.get(i + 1) == Some(&b'{'), "{out:?}");
                }
                i += 1;
            }
            proptest::prop_assert_eq!(j, t.len());
            // What was a valid regexp stays one, and a lone brace no longer breaks one.
            if regex::Regex::new(&s).is_ok() {
                proptest::prop_assert!(regex::Regex::new(&out).is_ok());
            }
        }
    }
}
