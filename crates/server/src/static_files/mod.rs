//! Static files before the app (`--static-map`, `--static-map2`, `--check-static`), as uWSGI
//! serves them: finding the file (this module: file-system look-ups, the safety checks) and the
//! response head (status, Content-Type, Last-Modified, ranges, Expires, encodings). The pure
//! path normalization, ranges and dates are `rwsgi_proto::static_file`; the worker sends the
//! bytes (`worker/static_send.rs`).
//!
//! Safety, twice over: the decoded path is normalized lexically first (a `..` climbing out or
//! a NUL is refused before any file-system call), then the real path of what was found is
//! compared component by component (not as a string, uWSGI's mistake) with the mapped
//! directory or a `--static-safe` one, so a symlink cannot lead out either. A refused path is
//! logged as a security error and the request goes to the app, as in uWSGI; no byte of it is
//! served.

pub(crate) mod mime;

use std::fs::{File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use regex::bytes::Regex;
use rwsgi_config::{Config, FileServeMode};
use rwsgi_proto::static_file::{
    http_date, parse_http_date, relative_path, resolve_range, ByteRange,
};

use mime::MimeTypes;

/// A start-up problem with the static-file options.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StaticConfigError {
    /// A `--static-expires*` regex does not compile.
    #[error("--{option} {pattern}: {source}")]
    Regex {
        /// The option.
        option: &'static str,
        /// The pattern as written.
        pattern: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
}

/// One `--static-map` / `--static-map2` entry, resolved at start-up.
#[derive(Debug)]
struct Mapping {
    prefix: Vec<u8>,
    /// The real path of the directory (or file) mapped to.
    root: PathBuf,
    /// The root is a single file, served for every path under the prefix.
    is_file: bool,
    whole_uri: bool,
}

/// `--static-expires*` rules.
#[derive(Debug, Default)]
struct Expires {
    by_type: Vec<(String, u64)>,
    by_type_mtime: Vec<(String, u64)>,
    by_path: Vec<(Regex, u64)>,
    by_path_mtime: Vec<(Regex, u64)>,
    by_uri: Vec<(Regex, u64)>,
    by_uri_mtime: Vec<(Regex, u64)>,
}

/// Everything the workers need to serve static files; `None` in [`crate::settings::Settings`]
/// when no static option is set, so requests pay nothing for the feature.
#[derive(Debug)]
pub(crate) struct StaticFiles {
    /// Longest prefix first (a stable sort: equal prefixes keep their order, tried in turn).
    maps: Vec<Mapping>,
    /// `--check-static` directories (real paths).
    check: Vec<PathBuf>,
    index: Vec<String>,
    /// `--static-safe` directories (real paths).
    safe: Vec<PathBuf>,
    skip_ext: Vec<Vec<u8>>,
    mime: MimeTypes,
    expires: Expires,
    gzip_all: bool,
    gzip_dirs: Vec<Vec<u8>>,
    gzip_exts: Vec<Vec<u8>>,
    serve_mode: FileServeMode,
}

/// The request fields the look-up and the head depend on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StaticRequest<'a> {
    /// REQUEST_METHOD.
    pub method: &'a [u8],
    /// PATH_INFO (percent-decoded).
    pub path_info: &'a [u8],
    /// REQUEST_URI.
    pub uri: &'a [u8],
    /// If-Modified-Since.
    pub if_modified_since: Option<&'a [u8]>,
    /// Range.
    pub range: Option<&'a [u8]>,
    /// Accept-Encoding.
    pub accept_encoding: Option<&'a [u8]>,
}

/// A file to serve, open: what was checked is what is sent.
#[derive(Debug)]
pub(crate) struct Found {
    /// The open file (the encoded variant, when one is served).
    pub file: File,
    /// Its real path, where the kernel says the descriptor leads.
    pub path: PathBuf,
    /// Its metadata.
    pub meta: Metadata,
    /// The MIME type, from the original name.
    pub mime: Option<String>,
    /// `Content-Encoding` of the variant served (`br`, `gzip`).
    pub encoding: Option<&'static str>,
}

/// `path` opened, with the real path of the descriptor and its metadata. Opening first and
/// asking the kernel where the descriptor leads replaces a `realpath(3)` (one syscall per path
/// component) and a `stat`, and leaves no window between the check and the open: a symlink
/// swapped in afterwards cannot change what is sent.
///
/// Non-blocking, so a FIFO in a mapped directory cannot stall the core (it is then refused as
/// not a regular file); no controlling terminal from a device file.
fn open_real(path: &Path) -> Option<(File, PathBuf, Metadata)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let meta = file.metadata().ok()?;
    Some((file, real, meta))
}

/// What the head says about the body to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyPlan {
    /// The status code.
    pub status: u16,
    /// First byte of the file to send.
    pub offset: u64,
    /// Bytes of the file to send (0 for HEAD, 304, 416 and the header-only serve modes).
    pub len: u64,
}

impl StaticFiles {
    /// The static-file settings, or `None` when no `--static-map*` / `--check-static` is set.
    /// A mapped directory that does not exist is reported and skipped (its requests go to
    /// the app, as a missing file's do).
    pub(crate) fn from_config(config: &Config) -> Result<Option<StaticFiles>, StaticConfigError> {
        if config.static_maps.is_empty() && config.check_static.is_empty() {
            return Ok(None);
        }
        let mut maps = Vec::new();
        for m in &config.static_maps {
            match std::fs::canonicalize(&m.target) {
                Ok(root) => {
                    let is_file = root.is_file();
                    eprintln!(
                        "[uwsgi-static] added mapping for {} => {}",
                        m.prefix,
                        root.display()
                    );
                    maps.push(Mapping {
                        prefix: m.prefix.as_bytes().to_vec(),
                        root,
                        is_file,
                        whole_uri: m.whole_uri,
                    });
                }
                Err(e) => eprintln!(
                    "[uwsgi-static] {} => {}: {e}: mapping skipped",
                    m.prefix,
                    m.target.display()
                ),
            }
        }
        maps.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        let real_dirs = |dirs: &[PathBuf], what: &str| -> Vec<PathBuf> {
            dirs.iter()
                .filter_map(|d| match std::fs::canonicalize(d) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("[uwsgi-static] {what} {}: {e}: skipped", d.display());
                        None
                    }
                })
                .collect()
        };
        let regexes = |rules: &[(String, u64)], option: &'static str| {
            rules
                .iter()
                .map(|(pattern, secs)| {
                    Regex::new(pattern).map(|r| (r, *secs)).map_err(|source| {
                        StaticConfigError::Regex {
                            option,
                            pattern: pattern.clone(),
                            source,
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let bytes = |v: &[String]| v.iter().map(|s| s.as_bytes().to_vec()).collect();
        Ok(Some(StaticFiles {
            maps,
            check: real_dirs(&config.check_static, "check-static"),
            index: config.static_index.clone(),
            safe: real_dirs(&config.static_safe, "static-safe"),
            skip_ext: bytes(&config.static_skip_ext),
            mime: MimeTypes::load(&config.mimefiles),
            expires: Expires {
                by_type: config.static_expires_type.clone(),
                by_type_mtime: config.static_expires_type_mtime.clone(),
                by_path: regexes(&config.static_expires, "static-expires")?,
                by_path_mtime: regexes(&config.static_expires_mtime, "static-expires-mtime")?,
                by_uri: regexes(&config.static_expires_uri, "static-expires-uri")?,
                by_uri_mtime: regexes(
                    &config.static_expires_uri_mtime,
                    "static-expires-uri-mtime",
                )?,
            },
            gzip_all: config.static_gzip_all,
            gzip_dirs: bytes(&config.static_gzip_dirs),
            gzip_exts: bytes(&config.static_gzip_exts),
            serve_mode: config.file_serve_mode,
        }))
    }

    /// The file this request names, if any: each mapping whose prefix starts PATH_INFO in
    /// turn (longest first), then each `--check-static` directory. Only GET and HEAD are
    /// served; `None` sends the request to the app.
    pub(crate) fn find(&self, req: &StaticRequest<'_>) -> Option<Found> {
        if req.method != b"GET" && req.method != b"HEAD" {
            return None;
        }
        let mut rel = Vec::new();
        for m in &self.maps {
            let Some(rest) = req.path_info.strip_prefix(&m.prefix[..]) else {
                continue;
            };
            if m.is_file {
                if let Some(found) = open_real(&m.root)
                    .and_then(|(file, real, meta)| self.accept(file, real, meta, &m.root, req))
                {
                    return Some(found);
                }
                continue;
            }
            let tail = if m.whole_uri { req.path_info } else { rest };
            if let Some(found) = self.under(&m.root, tail, &mut rel, req) {
                return Some(found);
            }
        }
        for dir in &self.check {
            if let Some(found) = self.under(dir, req.path_info, &mut rel, req) {
                return Some(found);
            }
        }
        None
    }

    /// The file `tail` names under `root`, if it is one and may be served.
    fn under(
        &self,
        root: &Path,
        tail: &[u8],
        rel: &mut Vec<u8>,
        req: &StaticRequest<'_>,
    ) -> Option<Found> {
        rel.clear();
        if let Err(e) = relative_path(tail, rel) {
            security_error(&String::from_utf8_lossy(tail), root, &e.to_string());
            return None;
        }
        let candidate = root.join(std::ffi::OsStr::from_bytes(rel));
        let (file, real, meta) = open_real(&candidate)?;
        self.accept(file, real, meta, root, req)
    }

    /// Checks a real path found under `root` (inside it or a safe directory; a directory
    /// becomes its index file; skipped extensions) and picks the encoded variant.
    fn accept(
        &self,
        mut file: File,
        mut path: PathBuf,
        mut meta: Metadata,
        root: &Path,
        req: &StaticRequest<'_>,
    ) -> Option<Found> {
        if !self.allowed(&path, root) {
            return None;
        }
        if meta.is_dir() {
            (file, path, meta) = self.index.iter().find_map(|name| {
                // The index may be a symlink too: it is checked like the file itself.
                let (f, p, m) = open_real(&path.join(name))?;
                (m.is_file() && self.allowed(&p, root)).then_some((f, p, m))
            })?;
        } else if !meta.is_file() {
            return None;
        }
        let name = path.as_os_str().as_bytes();
        if self.skip_ext.iter().any(|ext| name.ends_with(ext)) {
            return None;
        }
        let mime = self.mime.lookup(name).map(str::to_string);
        let mut found = Found {
            file,
            path,
            meta,
            mime,
            encoding: None,
        };
        self.pick_encoding(&mut found, root, req.accept_encoding);
        Some(found)
    }

    /// Inside `root` or a `--static-safe` directory, compared by path components.
    fn allowed(&self, real: &Path, root: &Path) -> bool {
        if real.starts_with(root) || self.safe.iter().any(|s| real.starts_with(s)) {
            return true;
        }
        security_error(
            &real.display().to_string(),
            root,
            "not under it or a safe path",
        );
        false
    }

    /// `--static-gzip-*`: `FILE.br`, else `FILE.gz`, when it exists, is a regular file and the
    /// client accepts that encoding (Brotli first, as uWSGI).
    fn pick_encoding(&self, found: &mut Found, root: &Path, accept: Option<&[u8]>) {
        let Some(accept) = accept else { return };
        let name = found.path.as_os_str().as_bytes();
        let wanted = self.gzip_all
            || self.gzip_dirs.iter().any(|d| name.starts_with(d))
            || self.gzip_exts.iter().any(|e| name.ends_with(e));
        if !wanted {
            return;
        }
        for (encoding, suffix) in [("br", ".br"), ("gzip", ".gz")] {
            if !accepts(accept, encoding.as_bytes()) {
                continue;
            }
            let mut variant = found.path.clone().into_os_string();
            variant.push(suffix);
            // The variant may be a symlink too: it is checked like the file itself.
            if let Some((file, real, meta)) = open_real(Path::new(&variant)) {
                if meta.is_file() && self.allowed(&real, root) {
                    found.file = file;
                    found.path = real;
                    found.meta = meta;
                    found.encoding = Some(encoding);
                    return;
                }
            }
        }
    }

    /// Renders the response head for `found` into `out` (status line and headers, without the
    /// connection header and the blank line: the sender adds those) and says what body
    /// follows. `now` is the request's start (unix seconds), for `Expires`.
    pub(crate) fn render_head(
        &self,
        found: &Found,
        req: &StaticRequest<'_>,
        now: i64,
        out: &mut Vec<u8>,
    ) -> BodyPlan {
        let mtime = found.meta.mtime();
        let size = found.meta.len();
        let head_only = req.method == b"HEAD";
        if let Some(ims) = req.if_modified_since.and_then(parse_http_date) {
            if mtime <= ims {
                out.extend_from_slice(b"304 Not Modified\r\n");
                return BodyPlan {
                    status: 304,
                    offset: 0,
                    len: 0,
                };
            }
        }
        let range = req
            .range
            .map_or(ByteRange::Full, |r| resolve_range(r, size));
        let status = match range {
            ByteRange::Unsatisfiable => {
                out.extend_from_slice(b"416 Requested Range Not Satisfiable\r\n");
                header(out, b"Content-Range", format!("bytes */{size}").as_bytes());
                header(out, b"Content-Length", b"0");
                return BodyPlan {
                    status: 416,
                    offset: 0,
                    len: 0,
                };
            }
            ByteRange::Partial { .. } => {
                out.extend_from_slice(b"206 Partial Content\r\n");
                206
            }
            ByteRange::Full => {
                out.extend_from_slice(b"200 OK\r\n");
                200
            }
        };
        self.expires(found, req, now, out);
        if let Some(encoding) = found.encoding {
            header(out, b"Content-Encoding", encoding.as_bytes());
            header(out, b"Vary", b"Accept-Encoding");
        }
        if let Some(mime) = &found.mime {
            header(out, b"Content-Type", mime.as_bytes());
        }
        let mut date = Vec::with_capacity(29);
        http_date(mtime, &mut date);
        let redirect = match self.serve_mode {
            FileServeMode::Raw => None,
            FileServeMode::XAccelRedirect => Some(&b"X-Accel-Redirect"[..]),
            FileServeMode::XSendfile => Some(&b"X-Sendfile"[..]),
        };
        if let Some(name) = redirect {
            // The front server sends the file; the body here is empty (and framed as such,
            // so a kept-alive connection stays in step).
            header(out, name, found.path.as_os_str().as_bytes());
            header(out, b"Last-Modified", &date);
            header(out, b"Content-Length", b"0");
            return BodyPlan {
                status,
                offset: 0,
                len: 0,
            };
        }
        let len = range.len(size);
        header(out, b"Content-Length", len.to_string().as_bytes());
        if let ByteRange::Partial { start, end } = range {
            header(
                out,
                b"Content-Range",
                format!("bytes {start}-{end}/{size}").as_bytes(),
            );
        }
        header(out, b"Last-Modified", &date);
        BodyPlan {
            status,
            offset: range.start(),
            len: if head_only { 0 } else { len },
        }
    }

    /// The first `--static-expires*` rule that matches, in uWSGI's order: path, then URI, then
    /// MIME type (each "from now" before "from the mtime").
    fn expires(&self, found: &Found, req: &StaticRequest<'_>, now: i64, out: &mut Vec<u8>) {
        let e = &self.expires;
        let name = found.path.as_os_str().as_bytes();
        let mtime = found.meta.mtime();
        let first = |rules: &[(Regex, u64)], subject: &[u8]| {
            rules
                .iter()
                .find(|(r, _)| r.is_match(subject))
                .map(|&(_, s)| s)
        };
        let by_type = |rules: &[(String, u64)]| {
            let mime = found.mime.as_deref()?;
            rules.iter().find(|(t, _)| t == mime).map(|&(_, s)| s)
        };
        let when = first(&e.by_path, name)
            .map(|s| now + s as i64)
            .or_else(|| first(&e.by_path_mtime, name).map(|s| mtime + s as i64))
            .or_else(|| first(&e.by_uri, req.uri).map(|s| now + s as i64))
            .or_else(|| first(&e.by_uri_mtime, req.uri).map(|s| mtime + s as i64))
            .or_else(|| by_type(&e.by_type).map(|s| now + s as i64))
            .or_else(|| by_type(&e.by_type_mtime).map(|s| mtime + s as i64));
        if let Some(t) = when {
            let mut date = Vec::with_capacity(29);
            http_date(t, &mut date);
            header(out, b"Expires", &date);
        }
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// True when an `Accept-Encoding` value lists `coding` without `q=0`.
fn accepts(header: &[u8], coding: &[u8]) -> bool {
    header.split(|&b| b == b',').any(|item| {
        let mut parts = item.split(|&b| b == b';');
        let name = parts.next().map_or(&b""[..], trim);
        if !name.eq_ignore_ascii_case(coding) {
            return false;
        }
        !parts.any(|p| {
            let p = trim(p);
            p.strip_prefix(b"q=")
                .is_some_and(|q| q.iter().all(|&b| b == b'0' || b == b'.'))
        })
    })
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// uWSGI's message for a path that would leave the mapped directory.
fn security_error(path: &str, root: &Path, why: &str) {
    eprintln!(
        "[uwsgi-fileserve] security error: {path} is not under {} or a safe path ({why})",
        root.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_lists_codings_and_q_zero_refuses() {
        assert!(accepts(b"gzip, deflate, br", b"br"));
        assert!(accepts(b"GZIP;q=0.5", b"gzip"));
        assert!(!accepts(b"gzip;q=0, br", b"gzip"));
        assert!(!accepts(b"xgzip", b"gzip"));
        assert!(!accepts(b"", b"br"));
    }
}
