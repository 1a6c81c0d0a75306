//! `%(...)`, `$(...)` and `@(...)` references in option values, and uWSGI's placeholder
//! arithmetic.
//!
//! uWSGI (`uwsgi_apply_config_pass`) finds `X(` ... `)` with nested parentheses balanced and
//! asks a hook for the text inside; a reference the hook cannot resolve stays as written.
//! Inside `%(...)`, text with a space is a little pipeline (`uwsgi_manage_placeholder`),
//! evaluated left to right: numbers and placeholder names are operands, adjacent operands are
//! concatenated, `+ - * /` combine the value so far with the next operand as integers
//! (`/` by zero gives 0), and `++` / `--` increment or decrement the value so far. So
//! `%(%k + 1)` is one more than the CPU count and `%(processes threads)` glues two values.
//! rwsgi also reads parentheses inside as grouping, so `%((%k * 2) + 1)` is `2k + 1` (uWSGI
//! 2.0 reads `(2` as an unknown name there and yields 1).

/// Replaces every `SYMBOL(inner)` in `value` by `hook(inner)`; references `hook` returns
/// `None` for, and a `SYMBOL(` without its closing parenthesis, stay as written. The
/// replacement text is not scanned again.
pub(crate) fn substitute<E>(
    value: &str,
    symbol: char,
    mut hook: impl FnMut(&str) -> Result<Option<String>, E>,
) -> Result<String, E> {
    let opener = [symbol as u8, b'('];
    if !value.as_bytes().windows(2).any(|w| w == opener) {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = find_opener(rest, symbol) {
        out.push_str(&rest[..start]);
        let inner_start = start + symbol.len_utf8() + 1;
        match closing(&rest[inner_start..]) {
            Some(len) => {
                let inner = &rest[inner_start..inner_start + len];
                match hook(inner)? {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..inner_start + len + 1]),
                }
                rest = &rest[inner_start + len + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                return Ok(out);
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn find_opener(s: &str, symbol: char) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(symbol) {
        let at = from + i;
        if s[at + symbol.len_utf8()..].starts_with('(') {
            return Some(at);
        }
        from = at + symbol.len_utf8();
    }
    None
}

/// Length of the text before the `)` that closes an already opened parenthesis.
fn closing(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth == 0 => return Some(i),
            b')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Evaluates the inside of a `%(...)` reference: a plain name is looked up as it is; text
/// with a space is a pipeline (see the module docs). `None` when nothing could be computed
/// (uWSGI then leaves the reference as written).
pub(crate) fn placeholder(
    inner: &str,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<String> {
    if !inner.contains(' ') {
        return lookup(inner);
    }
    let tokens = tokenize(inner);
    let mut pos = 0;
    pipeline(&tokens, &mut pos, lookup)
}

/// Splits on spaces, with `(` and `)` at the edges of a word as tokens of their own.
fn tokenize(s: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for mut word in s.split(' ').filter(|w| !w.is_empty()) {
        while word.len() > 1 && word.starts_with('(') {
            tokens.push("(");
            word = &word[1..];
        }
        let mut closers = 0;
        while word.len() > 1 && word.ends_with(')') {
            closers += 1;
            word = &word[..word.len() - 1];
        }
        tokens.push(word);
        tokens.extend(std::iter::repeat_n(")", closers));
    }
    tokens
}

#[derive(Clone, Copy)]
enum Op {
    Concat,
    Add,
    Sub,
    Mul,
    Div,
}

/// Evaluates tokens from `pos` up to the matching `)` (or the end).
fn pipeline(
    tokens: &[&str],
    pos: &mut usize,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
) -> Option<String> {
    let mut op = Op::Concat;
    let mut current: Option<String> = None;
    while let Some(&token) = tokens.get(*pos) {
        *pos += 1;
        let operand = match token {
            ")" => break,
            "+" | "-" | "*" | "/" => {
                op = match token {
                    "+" => Op::Add,
                    "-" => Op::Sub,
                    "*" => Op::Mul,
                    _ => Op::Div,
                };
                continue;
            }
            "++" | "--" => {
                if let Some(c) = &current {
                    let step = if token == "++" { 1 } else { -1 };
                    current = Some(strtoll(c).wrapping_add(step).to_string());
                }
                op = Op::Concat;
                continue;
            }
            "(" => pipeline(tokens, pos, lookup).unwrap_or_default(),
            t if t.bytes().all(|b| b.is_ascii_digit()) => t.to_string(),
            name => lookup(name).unwrap_or_default(),
        };
        let a = current.as_deref().map_or(0, strtoll);
        let b = strtoll(&operand);
        current = Some(match op {
            Op::Concat => current.unwrap_or_default() + &operand,
            Op::Add => a.wrapping_add(b).to_string(),
            Op::Sub => a.wrapping_sub(b).to_string(),
            Op::Mul => a.wrapping_mul(b).to_string(),
            Op::Div if b == 0 => "0".to_string(),
            Op::Div => a.wrapping_div(b).to_string(),
        });
        op = Op::Concat;
    }
    current
}

/// C's `strtoll(s, NULL, 10)`: leading blanks, an optional sign, then digits; 0 when there
/// are none, saturated when out of range.
pub(crate) fn strtoll(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        n = match n.checked_mul(10).and_then(|n| {
            if negative {
                n.checked_sub(d)
            } else {
                n.checked_add(d)
            }
        }) {
            Some(n) => n,
            None if negative => return i64::MIN,
            None => return i64::MAX,
        };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn eval(inner: &str) -> Option<String> {
        let vars: HashMap<&str, &str> = [
            ("processes", "2"),
            ("cpu_cores", "8"),
            ("name", "app"),
            ("neg", "-4"),
        ]
        .into();
        placeholder(inner, &mut |k| vars.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn pipelines_as_uwsgi_evaluates_them() {
        for (inner, want) in [
            ("processes", Some("2")),
            ("missing", None),
            ("2 + 1", Some("3")),
            ("2 + 3 * 4", Some("20")), // left to right, no precedence
            ("processes cpu_cores + 2", Some("30")), // "28" + 2 (uWSGI's doc example)
            ("processes + cpu_cores", Some("10")),
            ("cpu_cores - processes", Some("6")),
            ("cpu_cores / processes", Some("4")),
            ("cpu_cores / 0", Some("0")),
            ("7 / 2", Some("3")),
            ("name + 1", Some("1")), // not a number: 0
            ("neg * 2", Some("-8")),
            ("processes ++", Some("3")),
            ("processes --", Some("1")),
            ("processes ++ ++", Some("4")),
            ("name .sock", Some("app")), // ".sock" is looked up as a name: empty
            ("+ *", None),
            ("(2 * 2) + 1", Some("5")),
            ("((2 * 8) + 1)", Some("17")),
            ("2 * (3 + 1)", Some("8")),
            ("(processes * cpu_cores) - 1", Some("15")),
            ("(2 * 3", Some("6")),
        ] {
            assert_eq!(eval(inner).as_deref(), want, "{inner}");
        }
    }

    #[test]
    fn strtoll_like_c() {
        for (s, n) in [
            ("12", 12),
            ("  12abc", 12),
            ("-3", -3),
            ("+7", 7),
            ("", 0),
            ("x1", 0),
            ("99999999999999999999", i64::MAX),
            ("-99999999999999999999", i64::MIN),
        ] {
            assert_eq!(strtoll(s), n, "{s}");
        }
    }

    #[test]
    fn substitute_balances_parentheses() {
        let up =
            |s: &str| -> Result<Option<String>, ()> { Ok((s != "keep").then(|| s.to_uppercase())) };
        for (value, want) in [
            ("plain", "plain"),
            ("a %(b) c", "a B c"),
            ("%((x * 2) + 1)!", "(X * 2) + 1!"),
            ("%(keep) %(x)", "%(keep) X"),
            ("%(open", "%(open"),
            ("50% and %(y)", "50% and Y"),
            ("$(x) %(y)", "$(x) Y"),
            ("%(a)%(b)", "AB"),
        ] {
            assert_eq!(substitute(value, '%', up), Ok(want.to_string()), "{value}");
        }
        assert_eq!(substitute("$(HOME)/x", '$', up), Ok("HOME/x".to_string()));
    }
}
