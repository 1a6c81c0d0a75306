//! Paste Deploy through the real PasteDeploy package: `--ini-paste` (the file's `[uwsgi]`
//! section and its app sections), `--ini-paste-logged` (Python's logging configured from the
//! same file), `--paste config:` / `call:` with `--paste-name`, and the error for a Python
//! without PasteDeploy. The factories (tests/apps/paste_app.py) answer with the global and
//! local conf they were handed, so each test sees what PasteDeploy built.
use std::path::{Path, PathBuf};
use std::time::Duration;

use rwsgi_testkit::prelude::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// A site of a composite (urlmap-like, `/` and `/api`), a pipeline (a filter, then an app) and
/// a filter-app, with `[DEFAULT]` values for the global conf and `%(here)s` in a local one.
const SITE: &str = r#"
[DEFAULT]
greeting = hello-global

[composite:main]
use = call:paste_app:urlmap_factory
/ = front
/api = api

[pipeline:front]
pipeline = tag hello

[filter:tag]
paste.filter_factory = paste_app:tag_filter_factory
header = X-Paste-Filter
value = tagged

[app:hello]
paste.app_factory = paste_app:hello_factory
who = local-%(greeting)s
datadir = %(here)s/data

[filter-app:api]
paste.filter_factory = paste_app:tag_filter_factory
header = X-Api-Filter
next = api_app

[app:api_app]
use = call:paste_app:hello_factory
role = api
"#;

/// Python's logging, from the same file (for `--ini-paste-logged`).
const LOGGING: &str = r#"
[loggers]
keys = root, pasteapp

[handlers]
keys = file

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers =

[logger_pasteapp]
level = INFO
handlers = file
qualname = pasteapp

[handler_file]
class = FileHandler
args = ('%(here)s/app.log', 'a')
formatter = plain

[formatter_plain]
format = PASTELOG %(levelname)s %(name)s: %(message)s
"#;

fn json(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("JSON: {e}: {}", r.text()))
}

/// Writes `dir/site.ini`: a `[uwsgi]` section serving on a pre-bound port, then `rest`.
fn site_ini(rwsgi: &mut Rwsgi, dir: &Path, rest: &str) -> (String, u16) {
    let http = rwsgi.prebind(SocketKind::Http);
    let stats = rwsgi.prebind(SocketKind::Stats);
    let ini = format!(
        "[uwsgi]\nhttp-socket = 127.0.0.1:{http}\nstats = 127.0.0.1:{stats}\nmaster = true\n\
         processes = 1\npythonpath = {apps}\nadd-header = X-Uwsgi-Section: loaded\n{rest}",
        apps = apps_dir().display()
    );
    let path = dir.join("site.ini");
    std::fs::write(&path, ini).expect("write site.ini");
    (path.display().to_string(), http)
}

fn start(mut rwsgi: Rwsgi, dir: tempfile::TempDir) -> Server {
    rwsgi = rwsgi.dir(dir);
    let server = rwsgi.start();
    wait_workers_ready(&server, server.ports.stats, 1);
    server
}

#[test]
fn ini_paste_serves_the_files_composite_pipeline_and_filter_app_with_their_confs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = dir.path().display().to_string();
    let mut rwsgi = Rwsgi::new();
    let (ini, http) = site_ini(&mut rwsgi, dir.path(), SITE);
    let server = start(rwsgi.args(["--ini-paste", &ini]), dir);

    // The composite sends / through the pipeline: the filter's header, then the app.
    let r = get(http, "/hello/there");
    let v = json(&r);
    assert_eq!(
        r.header("X-Uwsgi-Section"),
        Some("loaded"),
        "the [uwsgi] section"
    );
    assert_eq!(
        r.header("X-Paste-Filter"),
        Some("tagged"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("X-Api-Filter"), None);
    assert_eq!(v["app"], "hello");
    assert_eq!(v["global"]["greeting"], "hello-global", "{v}");
    assert_eq!(v["global"]["here"], here.as_str(), "{v}");
    assert_eq!(v["global"]["__file__"], ini.as_str(), "{v}");
    assert_eq!(v["local"]["who"], "local-hello-global", "{v}");
    assert_eq!(v["local"]["datadir"], format!("{here}/data"), "{v}");
    assert!(
        v["local"].get("greeting").is_none(),
        "defaults are global: {v}"
    );
    assert_eq!(v["path_info"], "/hello/there");

    // /api goes to the filter-app: its own filter, its own app's local conf.
    let r = get(http, "/api/items");
    let v = json(&r);
    assert_eq!(r.header("X-Api-Filter"), Some("on"), "{:?}", r.headers);
    assert_eq!(r.header("X-Paste-Filter"), None);
    assert_eq!(v["local"]["role"], "api", "{v}");
    assert_eq!(
        (v["script_name"].as_str(), v["path_info"].as_str()),
        (Some("/api"), Some("/items"))
    );

    let log = server.log();
    assert!(
        log.contains(&format!("Loading paste environment: config:{ini}")),
        "{log}"
    );
    // Without the logged form, Python's logging is left alone.
    assert!(!server.dir.path().join("app.log").exists());
}

#[test]
fn ini_paste_logged_configures_pythons_logging_from_the_same_file() {
    // In the master before the fork, or with --lazy-apps in the worker that loads the app.
    for extra in [&[][..], &["--lazy-apps"][..]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let applog = dir.path().join("app.log");
        let mut rwsgi = Rwsgi::new();
        let (ini, http) = site_ini(&mut rwsgi, dir.path(), &format!("{SITE}{LOGGING}"));
        let _server = start(rwsgi.args(["--ini-paste-logged", &ini]).args(extra), dir);
        assert_eq!(
            json(&get(http, "/logged")).get("app"),
            Some(&"hello".into())
        );
        // The app's logger writes through the file's handler and formatter.
        let text = wait_file(&applog, WAIT, |t| t.contains("hello served /logged"));
        assert!(
            text.lines()
                .any(|l| l == "PASTELOG INFO pasteapp: hello served /logged"),
            "{extra:?}: {text}"
        );
    }
}

#[test]
fn paste_config_relative_to_chdir_with_paste_name_and_paste_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.ini"), SITE).expect("write");
    let chdir = dir.path().display().to_string();
    let apps = apps_dir().display().to_string();
    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--chdir", &chdir, "--pythonpath", &apps])
        .args(["--paste", "config:site.ini", "--paste-name", "api_app"])
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    let v = json(&get(server.ports.http, "/x"));
    assert_eq!(
        (v["app"].as_str(), v["local"]["role"].as_str()),
        (Some("hello"), Some("api"))
    );
    assert_eq!(v["global"]["here"], chdir.as_str(), "{v}");

    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--pythonpath", &apps, "--paste", "call:paste_app:direct"])
        .start();
    wait_workers_ready(&server, server.ports.stats, 1);
    let v = json(&get(server.ports.http, "/"));
    assert_eq!(v["app"], "direct");
    assert_eq!(
        (v["global"].clone(), v["local"].clone()),
        (
            Value::Object(Default::default()),
            Value::Object(Default::default())
        )
    );
}

/// A virtualenv without PasteDeploy (nor any other package).
fn bare_venv(root: &Path) -> String {
    let venv = root.join("venv");
    let out = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .expect("python3 -m venv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    venv.display().to_string()
}

#[test]
fn without_paste_deploy_start_up_fails_naming_the_option() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let venv = bare_venv(tmp.path());
    let apps = apps_dir().display().to_string();
    let (code, out) = Rwsgi::new()
        .http()
        .args(["--home", &venv, "--pythonpath", &apps])
        .args(["--paste", "call:paste_app:direct"])
        .run_to_exit(WAIT);
    assert!(code.is_some_and(|c| c != 0), "{code:?}\n{out}");
    assert!(
        out.contains("--paste call:paste_app:direct: PasteDeploy is not importable"),
        "{out}"
    );
    assert!(out.contains("pip install PasteDeploy"), "{out}");
}

#[test]
fn paste_config_percent_p_in_the_uwsgi_section_loads_the_app_from_the_same_file() {
    let ini = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/configs/paste_deploy.ini");
    let mut rwsgi = Rwsgi::new();
    let http = rwsgi.prebind(SocketKind::Http);
    let stats = rwsgi.prebind(SocketKind::Stats);
    let server = rwsgi
        .args(["--set-placeholder", &format!("http_port={http}")])
        .args(["--set-placeholder", &format!("stats_port={stats}")])
        .arg(ini.display().to_string())
        .start();
    wait_workers_ready(&server, stats, 1);
    let v = json(&get(http, "/corpus"));
    let dir = ini.parent().expect("dir").display().to_string();
    assert_eq!(v["local"]["who"], "from-the-corpus", "{v}");
    assert_eq!(v["local"]["datadir"], format!("{dir}/data"), "{v}");
    assert_eq!(v["global"]["__file__"], ini.display().to_string(), "{v}");
    // paste-logger: the file's root logger writes the app's lines to stderr.
    server.wait_log(WAIT, |l| {
        l.contains("CORPUSLOG pasteapp hello served /corpus")
    });
}

#[test]
fn paste_egg_loads_an_entry_point_of_an_installed_distribution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dist = dir.path().join("rwsgi_paste_egg-1.0.dist-info");
    std::fs::create_dir(&dist).expect("mkdir");
    std::fs::write(
        dist.join("METADATA"),
        "Metadata-Version: 2.1\nName: rwsgi-paste-egg\nVersion: 1.0\n",
    )
    .expect("write");
    std::fs::write(
        dist.join("entry_points.txt"),
        "[paste.app_factory]\nmain = paste_app:direct\nhello = paste_app:hello_factory\n",
    )
    .expect("write");
    let site = dir.path().display().to_string();
    let apps = apps_dir().display().to_string();
    for (uri, app) in [
        ("egg:rwsgi-paste-egg", "direct"),
        ("egg:rwsgi-paste-egg#hello", "hello"),
    ] {
        let server = Rwsgi::new()
            .http()
            .stats()
            .args(["--pythonpath", &site, "--pythonpath", &apps, "--paste", uri])
            .start();
        wait_workers_ready(&server, server.ports.stats, 1);
        assert_eq!(json(&get(server.ports.http, "/"))["app"], app, "{uri}");
    }
}
