//! YAML and JSON config files through the whole pipeline: the same sections, logic, magic
//! and placeholders as ini files.

use crate::lang_tests::{fake_parse, FakeHost};
use crate::*;

fn serve(args: &[&str], files: &[(&str, &str)]) -> Config {
    match fake_parse(args, &FakeHost::with_files(files)) {
        Ok(Parsed {
            command: Command::Serve(c),
            ..
        }) => c,
        other => panic!("{args:?}: expected Serve, got {other:?}"),
    }
}

fn err(args: &[&str], files: &[(&str, &str)]) -> String {
    match fake_parse(args, &FakeHost::with_files(files)) {
        Err(e) => e.to_string(),
        Ok(p) => panic!("{args:?}: expected an error, got {p:?}"),
    }
}

const YAML: &str = "\
uwsgi:
  socket: 127.0.0.1:%(port)
  port: 9090
  module: app
  master: true
  vacuum: false
  processes: 3
  env:
    - A=1
    - B=%n
  if-file: '%p'
  env: FILE=%(_)
  endif: ''
staging:
  socket: :7
  module: other
  need-app: false
";

const JSON: &str = r#"{
  "uwsgi": {
    "socket": "127.0.0.1:9090",
    "module": "app",
    "master": true,
    "vacuum": false,
    "processes": 3,
    "env": ["A=1", "B=%n"]
  },
  "staging": {"socket": ":7", "module": "other"}
}
"#;

#[test]
fn yaml_and_json_files_read_like_the_equivalent_ini() {
    let ini = "[uwsgi]\nsocket = 127.0.0.1:9090\nmodule = app\nmaster = true\nvacuum = false\n\
               processes = 3\nenv = A=1\nenv = B=conf\n";
    let want = serve(&["--ini", "/d/conf.ini"], &[("/d/conf.ini", ini)]);
    for args in [
        ["--json", "/d/conf.json"],
        ["--js", "/d/conf.json"],
        ["-j", "/d/conf.json"],
        ["/d/conf.json", "--master"],
    ] {
        let got = serve(&args, &[("/d/conf.json", JSON)]);
        assert_eq!(got.sockets, want.sockets, "{args:?}");
        assert_eq!(got.module, want.module);
        assert!(got.master && !got.vacuum);
        assert_eq!(got.processes, 3);
        assert_eq!(
            got.env, want.env,
            "arrays repeat the option, %n is the file's name"
        );
    }
    let mut yaml_env = want.env.clone();
    yaml_env.push(("FILE".into(), "/d/conf.yaml".into()));
    for args in [
        ["--yaml", "/d/conf.yaml"],
        ["--yml", "/d/conf.yaml"],
        ["-y", "/d/conf.yaml"],
        ["/d/conf.yaml", "--master"],
    ] {
        let got = serve(&args, &[("/d/conf.yaml", YAML)]);
        // a placeholder defined after its use (as in ini)
        assert_eq!(got.sockets, want.sockets, "{args:?}");
        assert!(got.master && !got.vacuum);
        assert_eq!(got.processes, 3);
        assert_eq!(got.env, yaml_env, "{args:?}");
    }
}

#[test]
fn sections_are_chosen_as_in_ini() {
    for (args, file) in [
        (["--yaml", "/c.yaml:staging"], ("/c.yaml", YAML)),
        (["--json", "/c.json:staging"], ("/c.json", JSON)),
        (["/c.yml:staging", "-M"], ("/c.yml", YAML)),
    ] {
        let c = serve(&args, &[file]);
        assert_eq!(c.module.as_deref(), Some("other"), "{args:?}");
    }
    assert_eq!(
        err(&["--yaml", "/c.yaml:prod"], &[("/c.yaml", YAML)]),
        "command line: YAML file '/c.yaml' has no [prod] section"
    );
    assert_eq!(
        err(&["--json", "/c.json:prod"], &[("/c.json", JSON)]),
        "command line: JSON file '/c.json' has no [prod] section"
    );
    assert_eq!(
        err(&["--json", "/missing.json"], &[]),
        "command line: cannot read JSON file '/missing.json': No such file or directory"
    );
}

#[test]
fn formats_include_each_other_where_they_stand() {
    let ini = "[uwsgi]\nsocket = :1\nprocesses = 2\nyaml = /b.yaml\nthreads = 5\n";
    let yaml = "uwsgi:\n  module: m\n  processes: 4\n  threads: 2\n  json: /c.json\n";
    let json = r#"{"uwsgi": {"threads": 3, "callable": "app"}}"#;
    let c = serve(
        &["/a.ini"],
        &[("/a.ini", ini), ("/b.yaml", yaml), ("/c.json", json)],
    );
    assert_eq!((c.processes, c.threads), (4, 5));
    assert_eq!(c.callable, "app");
}

#[test]
fn errors_name_file_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("/e.yaml", "uwsgi:\n  socket: :1\n  module: m\n  processes: many\n",
         "/e.yaml:4: invalid value 'many' for option 'processes': expected a non-negative integer"),
        ("/e.json", "{\"uwsgi\": {\n  \"socket\": \":1\",\n  \"module\": \"m\",\n  \"listen\": \"x\"}}",
         "/e.json:4: invalid value 'x' for option 'listen': expected a non-negative integer"),
        ("/e.json", "{\"uwsgi\": {\n  \"socket\": \":1\"\n  \"module\": \"m\"}}",
         "/e.json:3: cannot read config file: invalid JSON: expected `,` or `}` at line 3 column 3"),
        ("/e.yaml", "uwsgi:\n  socket: :1\n  mount:\n    a: b\n",
         "/e.yaml:4: cannot read config file: 'mount' must be a value or a list of values"),
    ];
    for (path, content, want) in cases {
        assert_eq!(err(&[path], &[(path, content)]), *want, "{content}");
    }
}
