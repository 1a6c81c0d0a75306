//! `--stats-http-auth FILE`: the credentials HTTP stats clients (`--stats-http`, `--metrics`)
//! must present.
//!
//! The file holds one credential per line; blank lines and lines starting with `#` are
//! skipped, and spaces around a line are ignored:
//! * `user:password` (a line with a `:`) accepts `Authorization: Basic base64(user:password)`;
//! * anything else is a token, accepted as `Authorization: Bearer TOKEN` (RFC 6750 tokens
//!   have no `:`).
//!
//! A presented credential is compared with every configured one in constant time (`subtle`),
//! and all of them are compared, so the time taken tells nothing about which bytes (or which
//! entry) matched; only a length can show.

use std::path::{Path, PathBuf};

use base64::Engine;
use subtle::{Choice, ConstantTimeEq};

/// Why the credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthFileError {
    /// It cannot be read.
    #[error("--stats-http-auth: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// It holds no credential (every client would be refused).
    #[error("--stats-http-auth: {} holds no token and no user:password line", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The accepted credentials (their `Debug` shows how many, never what they are).
#[derive(Default)]
pub(crate) struct Credentials {
    /// Bearer tokens.
    tokens: Vec<Vec<u8>>,
    /// `user:password` pairs, as Basic carries them once decoded.
    basic: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tokens", &self.tokens.len())
            .field("basic", &self.basic.len())
            .finish()
    }
}

impl Credentials {
    /// Reads the credentials file (and warns when others may read it too).
    pub(crate) fn load(path: &Path) -> Result<Credentials, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "WARNING: --stats-http-auth: {} is readable by other users (chmod 600 it)",
                    path.display()
                );
            }
        }
        let credentials = Credentials::parse(&text);
        if credentials.tokens.is_empty() && credentials.basic.is_empty() {
            return Err(AuthFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(credentials)
    }

    /// The credentials of a file's text (see the module doc for the format).
    pub(crate) fn parse(text: &str) -> Credentials {
        let mut credentials = Credentials::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let list = if line.contains(':') {
                &mut credentials.basic
            } else {
                &mut credentials.tokens
            };
            list.push(line.as_bytes().to_vec());
        }
        credentials
    }

    /// True if the `Authorization` header value carries an accepted credential.
    pub(crate) fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization.and_then(|v| std::str::from_utf8(v).ok()) else {
            return false;
        };
        let Some((scheme, rest)) = value.trim().split_once(' ') else {
            return false;
        };
        let presented = rest.trim_start();
        // Auth schemes are case-insensitive (RFC 9110 11.1).
        if scheme.eq_ignore_ascii_case("bearer") {
            any_equal(&self.tokens, presented.as_bytes())
        } else if scheme.eq_ignore_ascii_case("basic") {
            match base64::engine::general_purpose::STANDARD.decode(presented) {
                Ok(decoded) => any_equal(&self.basic, &decoded),
                Err(_) => false,
            }
        } else {
            false
        }
    }

    /// The `WWW-Authenticate` value of a 401: the schemes the file configures.
    pub(crate) fn challenge(&self) -> &'static str {
        match (self.tokens.is_empty(), self.basic.is_empty()) {
            (false, true) => "Bearer realm=\"rwsgi stats\"",
            (true, false) => "Basic realm=\"rwsgi stats\"",
            _ => "Bearer realm=\"rwsgi stats\", Basic realm=\"rwsgi stats\"",
        }
    }
}

/// Compares `presented` with every entry (no early exit), each in constant time.
fn any_equal(accepted: &[Vec<u8>], presented: &[u8]) -> bool {
    accepted
        .iter()
        .fold(Choice::from(0), |found, a| {
            found | a.as_slice().ct_eq(presented)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(user_password);
        format!("Basic {b64}").into_bytes()
    }

    const FILE: &str = "# monitoring\n  s3cr3t-token  \n\nprom:pa:ss word\nother-token\n";

    #[test]
    fn tokens_and_user_password_lines() {
        let c = Credentials::parse(FILE);
        assert!(c.accepts(Some(b"Bearer s3cr3t-token")));
        assert!(c.accepts(Some(b"bearer other-token")), "scheme case");
        // The first `:` splits user from password; the password may hold `:` and spaces.
        assert!(c.accepts(Some(&basic("prom:pa:ss word"))));
        assert!(
            !c.accepts(Some(&basic("PROM:pa:ss word"))),
            "user names are case-sensitive"
        );
    }

    #[test]
    fn refused_credentials() {
        let c = Credentials::parse(FILE);
        for bad in [
            &b"Bearer s3cr3t-toke"[..],
            b"Bearer s3cr3t-token2",
            b"Bearer",
            b"Bearer ",
            b"Token s3cr3t-token",
            b"Basic !!!not base64",
            b"# monitoring",
            b"",
            b"Bearer \xff",
        ] {
            assert!(!c.accepts(Some(bad)), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(!c.accepts(Some(&basic("prom:wrong"))));
        // A token is not a password and a password is not a token.
        assert!(!c.accepts(Some(&basic("s3cr3t-token"))));
        assert!(!c.accepts(Some(b"Bearer prom:pa:ss word")));
        assert!(!c.accepts(None), "no header");
    }

    #[test]
    fn debug_output_hides_the_credentials() {
        let shown = format!("{:?}", Credentials::parse(FILE));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("pa:ss"),
            "{shown}"
        );
        assert!(shown.contains("tokens: 2"), "{shown}");
    }

    #[test]
    fn challenge_names_the_configured_schemes() {
        assert!(Credentials::parse("t\n").challenge().starts_with("Bearer "));
        assert!(Credentials::parse("u:p\n")
            .challenge()
            .starts_with("Basic "));
        assert!(Credentials::parse("t\nu:p\n").challenge().contains("Basic"));
    }

    #[test]
    fn a_file_without_credentials_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("auth");
        std::fs::write(&path, "# nothing\n\n").expect("write");
        assert!(matches!(
            Credentials::load(&path),
            Err(AuthFileError::Empty { .. })
        ));
        assert!(matches!(
            Credentials::load(&dir.path().join("missing")),
            Err(AuthFileError::Read { .. })
        ));
    }
}
