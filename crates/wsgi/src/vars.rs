//! The request's CGI variables in one flat, reusable buffer.
//!
//! Both protocols end up here: the uwsgi protocol's vars block is copied pair by pair, an HTTP
//! head is translated into the same CGI names. The environ dict, the scoreboard's copy of a busy
//! core's vars and the request log line are all built from this one place.

use std::ops::Range;

/// A list of `KEY=VALUE` byte pairs backed by a single buffer that is cleared, not freed, between
/// requests.
#[derive(Default, Debug, Clone)]
pub struct RequestVars {
    data: Vec<u8>,
    spans: Vec<(Range<usize>, Range<usize>)>,
    /// A trusted proxy said the original request came over https (`X-Forwarded-Proto` ...).
    forwarded_https: bool,
}

impl RequestVars {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every pair, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.forwarded_https = false;
    }

    /// Records that a trusted proxy's forwarded headers say the request came over https
    /// (`wsgi.url_scheme` becomes `https` unless a `UWSGI_SCHEME` var says otherwise).
    pub fn set_forwarded_https(&mut self, https: bool) {
        self.forwarded_https = https;
    }

    /// See [`RequestVars::set_forwarded_https`].
    pub fn forwarded_https(&self) -> bool {
        self.forwarded_https
    }

    /// Appends a pair.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        let k0 = self.data.len();
        self.data.extend_from_slice(key);
        let k1 = self.data.len();
        self.data.extend_from_slice(value);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Appends a pair whose key is built by `key` writing into the buffer (saves a temporary when
    /// translating HTTP header names into CGI names).
    pub fn push_with(&mut self, key: impl FnOnce(&mut Vec<u8>), value: &[u8]) {
        let k0 = self.data.len();
        key(&mut self.data);
        let k1 = self.data.len();
        self.data.extend_from_slice(value);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Appends a pair whose value is built by `value` writing into the buffer.
    pub fn push_value_with(&mut self, key: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
        let k0 = self.data.len();
        self.data.extend_from_slice(key);
        let k1 = self.data.len();
        value(&mut self.data);
        self.spans.push((k0..k1, k1..self.data.len()));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone + '_ {
        self.spans
            .iter()
            .map(move |(k, v)| (&self.data[k.clone()], &self.data[v.clone()]))
    }

    /// The value of the last pair named `key` (later pairs override earlier ones, as in a dict).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.spans
            .iter()
            .rev()
            .find(|(k, _)| &self.data[k.clone()] == key)
            .map(|(_, v)| &self.data[v.clone()])
    }

    /// Replaces the value of `key` (or appends it).
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        if let Some(i) = self
            .spans
            .iter()
            .rposition(|(k, _)| &self.data[k.clone()] == key)
        {
            let v0 = self.data.len();
            self.data.extend_from_slice(value);
            self.spans[i].1 = v0..self.data.len();
        } else {
            self.push(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_set_iter() {
        let mut v = RequestVars::new();
        v.push(b"A", b"1");
        v.push_with(|b| b.extend_from_slice(b"HTTP_X"), b"y");
        v.push(b"A", b"2");
        assert_eq!(v.get(b"A"), Some(&b"2"[..]));
        v.set(b"HTTP_X", b"z");
        v.set(b"NEW", b"n");
        let all: Vec<_> = v.iter().collect();
        assert_eq!(all[1], (&b"HTTP_X"[..], &b"z"[..]));
        assert_eq!(v.len(), 4);
        v.clear();
        assert!(v.is_empty());
        assert_eq!(v.get(b"A"), None);
    }
}
