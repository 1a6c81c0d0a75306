//! YAML and JSON config files, read into the same (key, value, line) items an ini section
//! gives, so both go through the same logic, magic and placeholders (uWSGI's `core/yaml.c`
//! and `core/json.c` feed `add_exported_option` the same way).
//!
//! A file is a mapping of sections (`uwsgi` by default); a section maps option names to a
//! scalar, or to a list of scalars meaning the option repeated. JSON's `true` reads as `1`,
//! `false` and `null` as `0` (as uWSGI's JSON loaders do); YAML scalars are taken as written.
//! Both are walked as YAML events (JSON is YAML 1.2), which give every value its line; a
//! `.json` file is checked as strict JSON first, so YAML-only syntax is refused there.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Which language a config file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// uWSGI's ini dialect (read by the parser itself).
    Ini,
    /// YAML (`--yaml`, `--yml`, `.yaml` / `.yml`).
    Yaml,
    /// JSON (`--json`, `--js`, `.json`).
    Json,
}

impl Format {
    /// The language's name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Ini => "ini",
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }

    /// The format a positional argument names by its extension, as uWSGI picks it.
    pub(crate) fn of_file(file: &str) -> Option<Format> {
        let (_, ext) = file.rsplit_once('.')?;
        match ext {
            "ini" => Some(Format::Ini),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" | "js" => Some(Format::Json),
            _ => None,
        }
    }
}

/// One option occurrence read from a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The option (or placeholder) name as written.
    pub key: String,
    /// Its value as text.
    pub value: String,
    /// 1-based line of the value.
    pub line: usize,
}

/// Why a YAML or JSON file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormatError {
    /// 1-based line the problem is at.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The items of `section`, in file order; `Ok(None)` when the file has no such section.
pub(crate) fn section_items(
    format: Format,
    text: &str,
    section: &str,
) -> Result<Option<Vec<Item>>, FormatError> {
    if format == Format::Json {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
            return Err(FormatError {
                line: e.line().max(1),
                reason: format!("invalid JSON: {e}"),
            });
        }
    }
    let mut events = Events {
        parser: Parser::new_from_str(text),
        last_line: 1,
    };
    events.read_section(format, section)
}

/// The parser's events, remembering the last position for errors at the end of the text.
struct Events<'a> {
    parser: Parser<std::str::Chars<'a>>,
    last_line: usize,
}

impl Events<'_> {
    fn next(&mut self) -> Result<(Event, usize), FormatError> {
        match self.parser.next_token() {
            Ok((event, mark)) => {
                self.last_line = line_of(mark);
                Ok((event, self.last_line))
            }
            Err(e) => Err(FormatError {
                line: line_of(*e.marker()),
                reason: e.info().to_string(),
            }),
        }
    }

    fn error<T>(&self, line: usize, reason: impl Into<String>) -> Result<T, FormatError> {
        Err(FormatError {
            line,
            reason: reason.into(),
        })
    }

    fn read_section(
        &mut self,
        format: Format,
        section: &str,
    ) -> Result<Option<Vec<Item>>, FormatError> {
        // the first document's top-level mapping
        loop {
            match self.next()? {
                (Event::StreamStart | Event::DocumentStart, _) => {}
                (Event::MappingStart(..), _) => break,
                (Event::StreamEnd, _) => return Ok(None),
                (_, line) => {
                    return self.error(line, "expected a mapping of sections (such as uwsgi:)")
                }
            }
        }
        loop {
            let key = match self.next()? {
                (Event::MappingEnd, _) => return Ok(None),
                (Event::Scalar(key, ..), _) => key,
                (_, line) => return self.error(line, "expected a section name"),
            };
            match self.next()? {
                (Event::MappingStart(..), _) if key == section => {
                    return self.read_options(format).map(Some)
                }
                (_, line) if key == section => {
                    return self.error(
                        line,
                        format!("section '{section}' must map option names to values"),
                    )
                }
                (event, _) => self.skip(event)?,
            }
        }
    }

    /// The rest of a node whose first event was `first`.
    fn skip(&mut self, first: Event) -> Result<(), FormatError> {
        let mut depth = 0usize;
        let mut event = first;
        loop {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
                Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
                Event::StreamEnd => return self.error(self.last_line, "unexpected end of file"),
                _ => {}
            }
            if depth == 0 {
                return Ok(());
            }
            event = self.next()?.0;
        }
    }

    fn read_options(&mut self, format: Format) -> Result<Vec<Item>, FormatError> {
        let mut items = Vec::new();
        loop {
            let key = match self.next()? {
                (Event::MappingEnd, _) => return Ok(items),
                (Event::Scalar(key, ..), _) => key,
                (_, line) => return self.error(line, "expected an option name"),
            };
            match self.next()? {
                (Event::Scalar(value, style, ..), line) => items.push(Item {
                    value: scalar_text(format, value, style),
                    key,
                    line,
                }),
                (Event::SequenceStart(..), _) => loop {
                    match self.next()? {
                        (Event::SequenceEnd, _) => break,
                        (Event::Scalar(value, style, ..), line) => items.push(Item {
                            key: key.clone(),
                            value: scalar_text(format, value, style),
                            line,
                        }),
                        (_, line) => {
                            return self
                                .error(line, format!("'{key}': a list item must be a plain value"))
                        }
                    }
                },
                (_, line) => {
                    return self.error(line, format!("'{key}' must be a value or a list of values"))
                }
            }
        }
    }
}

/// A scalar as the option's text: JSON's literals as uWSGI's JSON loaders write them.
fn scalar_text(format: Format, value: String, style: TScalarStyle) -> String {
    if format == Format::Json && style == TScalarStyle::Plain {
        match value.as_str() {
            "true" => return "1".to_string(),
            "false" | "null" => return "0".to_string(),
            _ => {}
        }
    }
    value
}

fn line_of(mark: Marker) -> usize {
    mark.line().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(format: Format, text: &str, section: &str) -> Vec<(String, String, usize)> {
        section_items(format, text, section)
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|i| (i.key, i.value, i.line))
            .collect()
    }

    fn owned(rows: &[(&str, &str, usize)]) -> Vec<(String, String, usize)> {
        rows.iter()
            .map(|(k, v, l)| (k.to_string(), v.to_string(), *l))
            .collect()
    }

    #[test]
    fn yaml_section_scalars_and_lists_in_order_with_lines() {
        let text = "other:\n  socket: :1\nuwsgi:\n  master: true\n  processes: 4\n  \
                    env:\n    - A=1\n    - B=2\n  module: app:application  # comment\n";
        assert_eq!(
            items(Format::Yaml, text, "uwsgi"),
            owned(&[
                ("master", "true", 4),
                ("processes", "4", 5),
                ("env", "A=1", 7),
                ("env", "B=2", 8),
                ("module", "app:application", 9),
            ])
        );
        assert_eq!(
            items(Format::Yaml, text, "other"),
            owned(&[("socket", ":1", 2)])
        );
        assert_eq!(section_items(Format::Yaml, text, "nope").unwrap(), None);
    }

    #[test]
    fn yaml_flow_lists_and_empty_values() {
        let text = "uwsgi: {pythonpath: [a, b], vacuum: }\n";
        assert_eq!(
            items(Format::Yaml, text, "uwsgi"),
            owned(&[
                ("pythonpath", "a", 1),
                ("pythonpath", "b", 1),
                ("vacuum", "", 1)
            ])
        );
    }

    #[test]
    fn json_literals_read_as_uwsgi_does() {
        let text = "{\n \"uwsgi\": {\n  \"master\": true,\n  \"vacuum\": false,\n  \
                    \"x\": null,\n  \"processes\": 4,\n  \"env\": [\"A=1\", true],\n  \
                    \"callable\": \"true\"\n }\n}\n";
        assert_eq!(
            items(Format::Json, text, "uwsgi"),
            owned(&[
                ("master", "1", 3),
                ("vacuum", "0", 4),
                ("x", "0", 5),
                ("processes", "4", 6),
                ("env", "A=1", 7),
                ("env", "1", 7),
                // a quoted string stays a string
                ("callable", "true", 8),
            ])
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = section_items(Format::Json, "{\"uwsgi\": {\n\"a\": 1,,\n}}", "uwsgi").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(e.reason.starts_with("invalid JSON"), "{e:?}");
        // YAML that is not JSON is refused in a .json file
        let e = section_items(Format::Json, "uwsgi:\n  a: 1\n", "uwsgi").unwrap_err();
        assert_eq!(e.line, 1, "{e:?}");
        let e = section_items(Format::Yaml, "uwsgi:\n  a: [1\n  b: 2\n", "uwsgi").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }

    #[test]
    fn shapes_that_are_no_option_values_are_refused_at_their_line() {
        let e = section_items(Format::Yaml, "uwsgi:\n  a:\n    b: 1\n", "uwsgi").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert!(e.reason.contains("'a'"), "{e:?}");
        let e = section_items(Format::Yaml, "uwsgi: 3\n", "uwsgi").unwrap_err();
        assert!(e.reason.contains("must map"), "{e:?}");
        let e = section_items(Format::Yaml, "- a\n- b\n", "uwsgi").unwrap_err();
        assert_eq!(e.line, 1, "{e:?}");
    }

    #[test]
    fn extensions_pick_the_format() {
        assert_eq!(Format::of_file("a/b.yaml"), Some(Format::Yaml));
        assert_eq!(Format::of_file("b.yml"), Some(Format::Yaml));
        assert_eq!(Format::of_file("b.json"), Some(Format::Json));
        assert_eq!(Format::of_file("b.ini"), Some(Format::Ini));
        assert_eq!(Format::of_file("app.py"), None);
    }
}
