//! uWSGI's "magic variables": `%x` letters expanded in every line of a config file, from
//! the file's own path (`%p`, `%d`, `%n`...), the first config file read (the upper-case
//! ones) and the machine ([`HostFacts`]: `%k`, `%h`, `%u`...). uWSGI fills the same table in
//! `config_magic_table_fill` and `uwsgi_setup`.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Origin};
use crate::host::{Host, HostFacts};

/// The letters a config file can use, for error messages.
pub(crate) const MAGIC_LETTERS: &str = "%d %p %s %n %e %c %o %x %i %j %0-%9 (and upper-case \
     %D %P %S %N %E %C %O %X %I %J for the first config file), %k %h %u %U %g %G %t %T %v %V %b \
     %[ %% %(placeholder)";

/// The per-file part of the table.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileMagic {
    /// `%o`: the path as given (with its `:section`).
    original: String,
    /// `%p`: absolute path.
    absolute: String,
    /// `%s`: file name.
    filename: String,
    /// `%d`: absolute directory with a trailing slash.
    dir: String,
    /// `%n`: file name without its extension.
    name: String,
    /// `%e`: extension.
    ext: String,
    /// `%c`: name of the containing directory.
    dirname: String,
    /// `%x`: the `:section` asked for, or empty.
    section: String,
    /// `%i`: inode number, empty when it cannot be read.
    inode: String,
    /// `%j`: hex of the djb33x hash of `%p` (uWSGI's file-name hash).
    hash: String,
    /// `%0`..`%9`: components of the directory path.
    components: Vec<String>,
}

impl FileMagic {
    /// The table of the config file named `spec` (`path[:section]`, as written), whose file
    /// part is `file` and section `section`.
    pub(crate) fn new(spec: &str, file: &str, section: Option<&str>, host: &dyn Host) -> Self {
        let cwd = &host.facts().cwd;
        let abs = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            cwd.join(file)
        };
        let absolute = abs.to_string_lossy().into_owned();
        let (dir, filename) = match absolute.rfind('/') {
            Some(i) => (absolute[..=i].to_string(), absolute[i + 1..].to_string()),
            None => (String::new(), absolute.clone()),
        };
        let (name, ext) = match filename.rfind('.') {
            Some(i) => (filename[..i].to_string(), filename[i + 1..].to_string()),
            None => (filename.clone(), String::new()),
        };
        let components: Vec<String> = dir
            .split('/')
            .filter(|c| !c.is_empty())
            .take(10)
            .map(str::to_string)
            .collect();
        FileMagic {
            original: spec.to_string(),
            dirname: components.last().cloned().unwrap_or_default(),
            inode: host.inode(&abs).map(|i| i.to_string()).unwrap_or_default(),
            hash: format!("{:08X}", djb33x(absolute.as_bytes()).swap_bytes()),
            absolute,
            filename,
            dir,
            name,
            ext,
            section: section.unwrap_or_default().to_string(),
            components,
        }
    }

    fn get(&self, letter: char) -> Option<&str> {
        Some(match letter {
            'o' => &self.original,
            'p' => &self.absolute,
            's' => &self.filename,
            'd' => &self.dir,
            'n' => &self.name,
            'e' => &self.ext,
            'c' => &self.dirname,
            'x' => &self.section,
            'i' => &self.inode,
            'j' => &self.hash,
            '0'..='9' => {
                let n = letter as usize - '0' as usize;
                self.components.get(n).map_or("", String::as_str)
            }
            _ => return None,
        })
    }
}

/// uWSGI's `djb33x_hash`: bytes are C `char`s, so the ones above 127 are sign-extended.
fn djb33x(bytes: &[u8]) -> u32 {
    bytes.iter().fold(5381u32, |h, &b| {
        (h << 5).wrapping_add(h) ^ (b as i8 as i32 as u32)
    })
}

/// Expands the magic variables of one config file.
pub(crate) struct Magic<'a> {
    pub file: &'a FileMagic,
    /// The first config file read (the upper-case letters).
    pub first: &'a FileMagic,
    pub facts: &'a HostFacts,
}

impl Magic<'_> {
    /// Expands `%x` letters in one pass (expansions are not re-scanned). `%(` is kept for
    /// placeholder resolution and a trailing `%` stays; a letter uWSGI has no value for is an
    /// error naming `origin`.
    pub(crate) fn expand(&self, value: &str, origin: &Origin) -> Result<String, ConfigError> {
        if !value.contains('%') {
            return Ok(value.to_string());
        }
        let mut out = String::with_capacity(value.len());
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(m) = chars.next() else {
                out.push('%');
                break;
            };
            match self.letter(m) {
                Some(s) => out.push_str(&s),
                None => {
                    return Err(ConfigError::UnsupportedMagic {
                        var: m,
                        origin: origin.clone(),
                    })
                }
            }
        }
        Ok(out)
    }

    fn letter(&self, m: char) -> Option<String> {
        if let Some(s) = self.file.get(m) {
            return Some(s.to_string());
        }
        if m.is_ascii_uppercase() {
            if let Some(s) = self.first.get(m.to_ascii_lowercase()) {
                return Some(s.to_string());
            }
        }
        let f = self.facts;
        Some(match m {
            'k' => f.cpus.to_string(),
            'h' => f.hostname.clone(),
            'u' => f.uid.to_string(),
            'U' => f.user.clone(),
            'g' => f.gid.to_string(),
            'G' => f.group.clone(),
            't' => f.unix_time.to_string(),
            'T' => f.unix_micros.to_string(),
            'v' => f.cwd.to_string_lossy().into_owned(),
            'V' => env!("CARGO_PKG_VERSION").to_string(),
            'b' => f.binary.clone(),
            '[' => "\x1b".to_string(),
            '%' => "%".to_string(),
            '(' => "%(".to_string(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_uwsgi() {
        // what uWSGI 2.0 prints for %j of /tmp/h5u/a.ini
        let h = format!("{:08X}", djb33x(b"/tmp/h5u/a.ini").swap_bytes());
        assert_eq!(h, "EAEDBD3B");
    }
}
