//! MIME types by file extension: `--mimefile` (default `/etc/mime.types`), or a built-in
//! table when no file can be read.

use std::collections::HashMap;
use std::path::Path;

/// The system's list, read when no `--mimefile` is given.
pub(crate) const DEFAULT_MIMEFILE: &str = "/etc/mime.types";

/// Used when no mime file can be read (a minimal container image has none).
const BUILTIN: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("js", "application/javascript"),
    ("mjs", "application/javascript"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("xml", "application/xml"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("md", "text/markdown"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/vnd.microsoft.icon"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("wasm", "application/wasm"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
];

/// Extension → MIME type.
#[derive(Debug, Clone, Default)]
pub(crate) struct MimeTypes {
    by_ext: HashMap<Vec<u8>, String>,
}

impl MimeTypes {
    /// Reads `files` (or [`DEFAULT_MIMEFILE`] when empty), later files overriding earlier
    /// ones; the built-in table when none could be read.
    pub(crate) fn load(files: &[impl AsRef<Path>]) -> MimeTypes {
        let mut types = MimeTypes::default();
        let mut read_any = false;
        let default = [Path::new(DEFAULT_MIMEFILE)];
        let paths: Vec<&Path> = if files.is_empty() {
            default.to_vec()
        } else {
            files.iter().map(AsRef::as_ref).collect()
        };
        for path in paths {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    types.add_mime_types(&text);
                    read_any = true;
                }
                Err(e) => eprintln!("mimefile {}: {e}", path.display()),
            }
        }
        if !read_any {
            types.add_builtin();
        }
        types
    }

    fn add_builtin(&mut self) {
        for (ext, mime) in BUILTIN {
            self.by_ext
                .insert(ext.as_bytes().to_vec(), (*mime).to_string());
        }
    }

    /// Adds the lines of a `mime.types` file: `type ext ext ...`, `#` comments.
    pub(crate) fn add_mime_types(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(mime) = words.next() else { continue };
            for ext in words {
                self.by_ext
                    .insert(ext.as_bytes().to_vec(), mime.to_string());
            }
        }
    }

    /// The type of a file name, by its extension: what follows the last `.`, when that is
    /// only letters and digits (uWSGI's rule); exact case first, then lower case.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<&str> {
        let dot = name.iter().rposition(|&b| !b.is_ascii_alphanumeric())?;
        if name[dot] != b'.' || dot + 1 == name.len() {
            return None;
        }
        let ext = &name[dot + 1..];
        self.by_ext
            .get(ext)
            .or_else(|| self.by_ext.get(&ext.to_ascii_lowercase()))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mime_types_file_maps_each_extension() {
        let mut t = MimeTypes::default();
        t.add_mime_types("# comment\ntext/x-test  tst tst2\n\napplication/x-y yy # trailing\n");
        assert_eq!(t.lookup(b"/a/b.tst"), Some("text/x-test"));
        assert_eq!(t.lookup(b"b.tst2"), Some("text/x-test"));
        assert_eq!(t.lookup(b"b.YY"), Some("application/x-y"));
        assert_eq!(t.lookup(b"b.nope"), None);
        assert_eq!(t.lookup(b"noext"), None);
        assert_eq!(t.lookup(b"trailing."), None);
        assert_eq!(
            t.lookup(b"a.t-st"),
            None,
            "the extension is letters and digits only"
        );
    }

    #[test]
    fn the_builtin_table_is_used_when_no_file_can_be_read() {
        let t = MimeTypes::load(&["/nonexistent/mime.types"]);
        assert_eq!(t.lookup(b"x.css"), Some("text/css"));
        assert_eq!(t.lookup(b"x.woff2"), Some("font/woff2"));
    }
}
