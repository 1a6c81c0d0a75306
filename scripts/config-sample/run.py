#!/usr/bin/env python3
"""Start rwsgi on every config of the sample, unchanged, and check that it serves.

    sudo python3 scripts/config-sample/run.py target/debug/rwsgi [--only NN] [--jobs N]
        [--markdown FILE] [--keep-logs DIR]

Each config runs in its own throw-away world (see README.md in this directory): a new
network namespace with only loopback up (so `:8000` or 0.0.0.0 binds nothing outside), a new
PID namespace (every process the server starts, attached daemons included, dies with it), and a
new mount namespace whose root is an overlay of the real root with a tmpfs on top, so the
directories, users, virtualenvs and stub apps the config names can be created where it names
them and vanish afterwards. The app the config names is replaced by a stub that answers
`rwsgi-sample-ok`. Then the runner waits for the server's listening sockets (read from
/proc/net), sends an HTTP GET or a uwsgi packet to each, and classifies the config.

Python 3 standard library only. Needs root (namespaces, mounts).
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "configs")
META = os.path.join(HERE, "env.json")
MARKER = b"rwsgi-sample-ok"
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 15.0

# Options whose failure means the config needs a subsystem tracked by its own issue.
CATEGORY_OPTIONS = {
    "needs static": ("static-", "check-static", "offload-threads", "file-serve-mode"),
    "needs cheaper": ("cheaper", "idle", "cheap", "die-on-idle"),
}

# ---------------------------------------------------------------------------------------------
# A best-effort reading of a config, only to know which paths, users and modules to prepare.
# The server reads the file itself; nothing here decides a result.


def read_items(path):
    """(key, value) pairs of the [uwsgi] section (ini) or the `uwsgi:` mapping (yaml/json)."""
    text = open(path, encoding="utf-8", errors="replace").read()
    items = []
    if path.endswith(".json"):
        data = json.loads(text).get("uwsgi", {})
        for k, v in data.items():
            for one in v if isinstance(v, list) else [v]:
                if one is True:
                    one = "1"
                elif one is False or one is None:
                    one = "0"
                items.append((k, str(one)))
        return items
    if path.endswith((".yml", ".yaml")):
        in_section = False
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                in_section = line.split(":", 1)[0].strip() == "uwsgi"
                continue
            if in_section:
                s = line.strip()
                if s.startswith("- "):
                    if items:
                        items.append((items[-1][0], s[2:].strip().strip("'\"")))
                    continue
                if ":" in s:
                    k, v = s.split(":", 1)
                    items.append((k.strip(), v.strip().strip("'\"")))
        return items
    sections = {}
    section = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
            continue
        if section is None:
            continue
        if "=" in s:
            k, v = s.split("=", 1)
            sections.setdefault(section, []).append((k.strip(), v.strip()))
        else:
            sections.setdefault(section, []).append((s, "1"))

    def splice(name, depth=0):
        for k, v in sections.get(name, []):
            if k == "ini" and v.startswith(":") and depth < 5:
                yield from splice(v[1:], depth + 1)
            else:
                yield (k, v)

    return list(splice("uwsgi"))


def expand(items, path, env):
    """Applies $(VAR), %(key), a few magic variables and if-env/if-not-env blocks."""
    out = []
    known = {}
    base = os.path.basename(path)
    name = base.rsplit(".", 1)[0]
    magic = {
        "%k": str(os.cpu_count() or 1),
        "%n": name,
        "%s": base,
        "%p": os.path.abspath(path),
        "%d": os.path.dirname(os.path.abspath(path)) + "/",
        "%%": "%",
    }
    skipping = False
    for k, v in items:
        v = re.sub(r"\$\(([^)]*)\)", lambda m: env.get(m.group(1), ""), v)
        if k in ("endif", "end-if"):
            skipping = False
            continue
        if skipping:
            continue
        if k in ("if-env", "if-not-env"):
            present = bool(env.get(v))
            skipping = present != (k == "if-env")
            known["_"] = env.get(v, "")
            continue
        for m, mv in magic.items():
            v = v.replace(m, mv)
        v = re.sub(r"%\(([^)]*)\)", lambda m: known.get(m.group(1), ""), v)
        known[k] = v
        out.append((k.replace("_", "-"), v))
    return out


def values(items, *keys):
    return [v for k, v in items if k in keys]


# ---------------------------------------------------------------------------------------------
# The scratch world, built inside the config's own namespaces.

STUB_APP = '''\
def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "16")])
    return [b"rwsgi-sample-ok\\n"]


application = app = _hello
'''

STUB_COMMAND = '''#!/bin/sh
# rwsgi config sample: a stand-in for a command the config runs (hooks, attached daemons).
case "$1" in migrate|check|collectstatic|compilemessages) exit 0;; esac
exec sleep 3600
'''


def stub_source(callables):
    src = STUB_APP
    for c in sorted(set(callables)):
        if c.endswith("()"):
            src += "\n\ndef %s():\n    return _hello\n" % c[:-2]
        elif c not in ("application", "app"):
            src += "\n%s = _hello\n" % c
    return src


def write_module(root, module, callables):
    parts = module.split(".")
    d = root
    for p in parts[:-1]:
        d = os.path.join(d, p)
        os.makedirs(d, exist_ok=True)
        init = os.path.join(d, "__init__.py")
        if not os.path.exists(init):
            open(init, "w").close()
    with open(os.path.join(d, parts[-1] + ".py"), "w") as f:
        f.write(stub_source(callables))


def ensure_user(name, kind):
    """Adds user or group NAME to the (overlaid) /etc files when it does not exist."""
    if not name or name.isdigit():
        return
    db = "/etc/passwd" if kind == "user" else "/etc/group"
    try:
        lines = open(db).read().splitlines()
    except OSError:
        lines = []
    if any(line.split(":", 1)[0] == name for line in lines):
        return
    used = {int(x.split(":")[2]) for x in lines if x.count(":") >= 3 and x.split(":")[2].isdigit()}
    n = 20000
    while n in used:
        n += 1
    with open(db, "a") as f:
        if kind == "user":
            f.write("%s:x:%d:%d::/home/%s:/bin/sh\n" % (name, n, n, name))
        else:
            f.write("%s:x:%d:\n" % (name, n))


def mkdirs(path, created):
    if not path or os.path.exists(path):
        return
    missing = []
    p = path
    while p and p != "/" and not os.path.exists(p):
        missing.append(p)
        p = os.path.dirname(p)
    os.makedirs(path, exist_ok=True)
    created.extend(missing)


def is_path(v):
    return v.startswith("/") or v.startswith("./") or v.startswith("../")


def prepare(items, cwd, stubroot):
    """Creates what the config names and the deployment would provide. Returns notes."""
    notes = []
    created = []
    get = lambda *k: values(items, *k)  # noqa: E731
    chdir = (get("chdir") or [None])[-1]
    base = chdir or cwd
    mkdirs(base, created)

    def absolute(p):
        return p if p.startswith("/") else os.path.normpath(os.path.join(base, p))

    for u in get("uid"):
        ensure_user(u, "user")
    for g in get("gid", "guid"):
        ensure_user(g, "group")
    for v in get("chown-socket"):
        user, _, group = v.partition(":")
        ensure_user(user, "user")
        ensure_user(group or user, "group")
    for d in get("pythonpath", "python-path", "pp"):
        mkdirs(absolute(d), created)
    for h in get("home", "virtualenv", "venv", "pyhome"):
        h = absolute(h)
        if not os.path.exists(os.path.join(h, "pyvenv.cfg")):
            r = subprocess.run([sys.executable, "-m", "venv", "--without-pip", h],
                               capture_output=True, text=True)
            notes.append("venv " + h + ("" if r.returncode == 0 else
                                        " FAILED: " + first_error(r.stderr)))
    # Sockets, pid files, FIFOs and log files live in directories the deployment makes.
    for key in ("socket", "uwsgi-socket", "http-socket", "http", "http11-socket", "stats",
                "master-fifo", "pidfile", "pidfile2", "safe-pidfile", "logto", "logto2",
                "daemonize", "req-logger", "logger", "logger-req", "touch-reload",
                "touch-chain-reload", "shared-socket"):
        for v in get(key):
            for part in v.split():
                part = part.split(",", 1)[0]
                if part.startswith("file:"):
                    part = part[5:]
                if "/" in part and ":" not in part and not part.startswith("@"):
                    mkdirs(os.path.dirname(absolute(part)), created)
    for v in get("static-map", "static-map2"):
        if "=" in v:
            mkdirs(absolute(v.split("=", 1)[1]), created)
    # The app: every module, wsgi-file and mount target becomes the stub.
    callables = get("callable") or []
    modules = []
    for key in ("module", "wsgi", "w", "mount"):
        for v in get(key):
            if key == "mount":
                if "=" not in v:
                    continue
                v = v.split("=", 1)[1]
                if v.endswith(".py") or "/" in v:
                    files = [v]
                    write_files(files, absolute, callables, created, notes)
                    continue
            mod, _, call = v.partition(":")
            if mod.endswith(".py") or "/" in mod:
                write_files([mod], absolute, callables + ([call] if call else []), created,
                            notes)
                continue
            modules.append((mod, callables + ([call] if call else [])))
    for mod, calls in modules:
        write_module(stubroot, mod, calls)
        notes.append("stub module " + mod)
    write_files(get("wsgi-file", "file"), absolute, callables, created, notes)
    # Commands the config runs: hooks and attached daemons named by a path.
    for k, v in items:
        cmd = None
        if k.startswith("hook-") or k.startswith("exec-"):
            action = v.split(":", 1)
            if len(action) == 2 and action[0] in ("exec", "safeexec"):
                cmd = action[1].split()[0] if action[1].split() else None
            elif k.startswith("exec-"):
                cmd = v.split()[0] if v.split() else None
        elif k in ("attach-daemon", "attach-daemon2", "smart-attach-daemon", "unique-cron",
                   "cron", "attach-control-daemon"):
            words = v.split()
            cmd = next((w for w in words if "/" in w), None)
        if k.startswith(("hook-", "exec-")):
            for w in v.split(":", 1)[-1].split()[1:]:
                if is_path(w) and w.endswith(".py") and not os.path.exists(absolute(w)):
                    mkdirs(os.path.dirname(absolute(w)), created)
                    open(absolute(w), "w").write("# rwsgi config sample: stand-in script\n")
                    notes.append("stub script " + w)
        if cmd and is_path(cmd):
            p = absolute(cmd)
            if not os.path.exists(p):
                mkdirs(os.path.dirname(p), created)
                with open(p, "w") as f:
                    f.write(STUB_COMMAND)
                os.chmod(p, 0o755)
                notes.append("stub command " + cmd)
    # Directories the deployment would own: give them to the config's user.
    uid = (get("uid") or [None])[-1]
    gid = (get("gid", "guid") or [None])[-1]
    if uid or gid:
        for d in created:
            try:
                shutil.chown(d, user=uid if uid else None, group=gid if gid else None)
            except (LookupError, OSError, ValueError):
                pass
    return notes


def write_files(files, absolute, callables, created, notes):
    for f in files:
        p = absolute(f)
        if os.path.exists(p):
            continue
        mkdirs(os.path.dirname(p), created)
        with open(p, "w") as out:
            out.write(stub_source(callables))
        notes.append("stub file " + f)


# ---------------------------------------------------------------------------------------------
# Checking a running server.


def listeners():
    """Listening TCP ports and UNIX socket paths in this network namespace."""
    out = []
    for fam, fn in ((socket.AF_INET, "/proc/net/tcp"), (socket.AF_INET6, "/proc/net/tcp6")):
        try:
            lines = open(fn).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A":
                continue
            port = int(f[1].rsplit(":", 1)[1], 16)
            host = "127.0.0.1" if fam == socket.AF_INET else "::1"
            out.append(("tcp", (host, port), fam))
    try:
        for line in open("/proc/net/unix").read().splitlines()[1:]:
            f = line.split()
            if len(f) >= 8 and f[5] == "01" and int(f[3], 16) & 0x10000:
                out.append(("unix", f[7], socket.AF_UNIX))
    except OSError:
        pass
    # One entry per port (a dual-stack bind shows in tcp6 only; [::] and 0.0.0.0 both reach lo).
    seen, uniq = set(), []
    for kind, addr, fam in out:
        key = (kind, addr[1] if kind == "tcp" else addr)
        if key not in seen:
            seen.add(key)
            uniq.append((kind, addr, fam))
    return uniq


def exchange(kind, addr, fam, payload, timeout):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        if payload:
            s.sendall(payload)
        data = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if MARKER in data:
                break
        return data
    except OSError as e:
        return ("error: %s" % e).encode()
    finally:
        s.close()


def uwsgi_packet():
    env = {
        "REQUEST_METHOD": "GET", "REQUEST_URI": "/", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost", "SCRIPT_NAME": "",
    }
    body = b""
    for k, v in env.items():
        kb, vb = k.encode(), v.encode()
        body += struct.pack("<H", len(kb)) + kb + struct.pack("<H", len(vb)) + vb
    return struct.pack("<BHB", 0, len(body), 0) + body


HTTP_GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: rwsgi-sample\r\nConnection: close\r\n\r\n"


def check_socket(kind, addr, fam):
    """'http', 'uwsgi', 'stats' or a short reason it does not serve."""
    first = exchange(kind, addr, fam, b"", 0.3)
    if first.lstrip().startswith(b"{"):
        return "stats"
    reply = exchange(kind, addr, fam, HTTP_GET, REQUEST_TIMEOUT)
    if MARKER in reply:
        return "http"
    head, _, body = reply.partition(b"\r\n\r\n")
    if body.lstrip().startswith(b"{") or b"application/json" in head:
        return "stats"
    reply2 = exchange(kind, addr, fam, uwsgi_packet(), REQUEST_TIMEOUT)
    if MARKER in reply2:
        return "uwsgi"
    line = (reply.split(b"\r\n", 1)[0] or reply2.split(b"\r\n", 1)[0] or b"no answer")
    return "no stub answer (%s)" % line[:80].decode("latin-1")


# ---------------------------------------------------------------------------------------------
# One config, inside its namespaces (`--one`).


def enter_scratch_root(scratch):
    """Overlay the real root with a tmpfs and chroot into it (private mounts only)."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", scratch], check=True)
    for d in ("upper", "work", "root"):
        os.mkdir(os.path.join(scratch, d))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (scratch, scratch),
                    scratch + "/root"], check=True)
    root = scratch + "/root"
    for m in ("/dev", "/dev/pts", "/dev/shm", "/sys"):
        if os.path.isdir(m):
            subprocess.run(["mount", "--rbind", m, root + m], check=False)
    subprocess.run(["mount", "-t", "proc", "proc", root + "/proc"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", root + "/tmp"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", root + "/run"], check=False)
    os.chroot(root)
    os.chdir("/")
    # The interpreter may live under /root (pyenv): let the config's uid reach it, as a
    # system Python is reachable in a real deployment.
    if os.path.isdir("/root"):
        os.chmod("/root", 0o711)
    # /var/run is usually a link to /run, which is empty now.
    os.makedirs("/run/lock", exist_ok=True)


def first_error(text):
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("rwsgi: ") and not line.startswith("rwsgi: warning"):
            return line.strip()
    for line in lines:
        low = line.lower()
        if "error" in low or "fatal" in low or "refused" in low or "cannot" in low \
                or "traceback" in low or "failed" in low:
            return line.strip()
    return lines[-1].strip() if lines else "exited with no output"


def classify_failure(reason):
    named = re.findall(r"option '([^']+)'", reason)
    for cat, prefixes in CATEGORY_OPTIONS.items():
        if any(o.startswith(prefixes) for o in named):
            return cat
    if "uwsgi module" in reason or "No module named 'uwsgi" in reason:
        return "needs uwsgi module"
    return "FAIL"


def run_one(binary, path, meta, scratch):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    enter_scratch_root(scratch)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(meta.get("env", {}))
    stubroot = "/rwsgi-sample-stubs"
    os.makedirs(stubroot, exist_ok=True)
    os.chmod(stubroot, 0o755)
    cwd = meta.get("cwd", "/")
    items = expand(read_items(path), path, env)
    # Files the deployment puts next to the config (another sample config, copied).
    for dest, sample in meta.get("files", {}).items():
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.join(CONFIGS, sample), dest)
        items += expand(read_items(dest), dest, env)
    args = meta.get("args", [])
    items += [(a[2:], b) for a, b in zip(args, args[1:]) if a.startswith("--")]
    for v in meta.get("venvs", []):
        items.append(("virtualenv", v))
    notes = prepare(items, cwd, stubroot)
    env["PYTHONPATH"] = stubroot
    fmt = {"yml": "--yaml", "yaml": "--yaml", "json": "--json"}.get(path.rsplit(".", 1)[-1],
                                                                     "--ini")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([binary, fmt, path] + meta.get("args", []), cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    result = {"notes": notes}
    end = time.monotonic() + START_TIMEOUT
    socks, stable_since = [], None
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        now = listeners()
        if now and now == socks:
            if stable_since and time.monotonic() - stable_since > 1.0:
                break
        else:
            socks, stable_since = now, time.monotonic()
        time.sleep(0.2)
    if proc.poll() is None and socks:
        served, bad = [], []
        chdir = (values(items, "chdir") or [cwd])[-1]
        for kind, addr, fam in socks:
            if kind == "unix" and not addr.startswith(("/", "@")):
                addr = os.path.join(chdir, addr)
            how = check_socket(kind, addr, fam)
            label = "%s:%s" % ("unix" if kind == "unix" else "tcp",
                               addr if kind == "unix" else addr[1])
            if how in ("http", "uwsgi"):
                served.append("%s %s" % (label, how))
            elif how != "stats":
                bad.append("%s %s" % (label, how))
        result["served"] = served
        if served and not bad:
            result["status"] = "OK"
        else:
            result["status"] = "FAIL"
            result["reason"] = "; ".join(bad) or "no socket served"
    elif proc.poll() is None:
        result["status"] = "FAIL"
        result["reason"] = "no listening socket after %ds" % START_TIMEOUT
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.seek(0)
    output = log.read().decode("utf-8", "replace")
    # A config that logs to files: their lines count as the server's output.
    for k, v in items:
        if k in ("logto", "logto2", "daemonize", "logger", "req-logger", "logger-req"):
            f = v.split()[-1]
            f = f[5:] if f.startswith("file:") else f
            if f.startswith("/") and os.path.isfile(f):
                output += "".join(open(f, errors="replace").readlines()[-50:])
    if "status" not in result:
        reason = first_error(output)
        result["status"] = classify_failure(reason)
        result["reason"] = reason
    result["warnings"] = sorted(set(
        m.group(1) for m in re.finditer(r"unknown option '([^']+)'", output)))
    result["output"] = output[-4000:]
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The driver.


def run_isolated(binary, path, meta, keep):
    scratch = tempfile.mkdtemp(prefix="rwsgi-sample-")
    cmd = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
           sys.executable, os.path.abspath(__file__), "--one", path, "--scratch", scratch,
           binary]
    try:
        p = subprocess.run(cmd, input=json.dumps(meta), capture_output=True, text=True,
                           timeout=START_TIMEOUT + 3 * REQUEST_TIMEOUT * 4 + 30)
        lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
        res = json.loads(lines[-1]) if lines else {
            "status": "FAIL", "reason": "runner: " + first_error(p.stderr or p.stdout)}
    except subprocess.TimeoutExpired:
        res = {"status": "FAIL", "reason": "runner timed out"}
    os.rmdir(scratch)  # only ever a mount point in the config's namespace: empty here
    if keep:
        with open(os.path.join(keep, os.path.basename(path) + ".log"), "w") as f:
            f.write("".join("# runner: %s\n" % n for n in res.get("notes", [])))
            f.write(res.get("output", ""))
    res.pop("output", None)
    return os.path.basename(path), res


def table(results):
    rows = ["| config | result | detail | unknown keys (warned) |", "|---|---|---|---|"]
    for name, r in results:
        detail = r.get("reason") or ", ".join(r.get("served", []))
        rows.append("| %s | %s | %s | %s |" % (name, r["status"], detail.replace("|", "\\|"),
                                               ", ".join(r.get("warnings", [])) or ""))
    ok = sum(1 for _, r in results if r["status"] == "OK")
    excused = sum(1 for _, r in results if r["status"].startswith("needs"))
    rows.append("")
    rows.append("%d of %d start and serve (%d more need static files, cheaper or the uwsgi "
                "module)" % (ok, len(results), excused))
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--only", action="append", help="run configs whose name starts with this")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--keep-logs", help="write each server's output to this directory")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.one:
        meta = json.loads(sys.stdin.read() or "{}")
        run_one(os.path.abspath(args.binary), args.one, meta, args.scratch)
        return
    if not args.binary:
        ap.error("the rwsgi binary is required")
    if os.geteuid() != 0:
        sys.exit("run.py needs root: it makes network, PID and mount namespaces")
    binary = os.path.abspath(args.binary)
    meta_all = json.load(open(META)) if os.path.exists(META) else {}
    names = sorted(n for n in os.listdir(CONFIGS) if n.endswith((".ini", ".yml", ".yaml",
                                                                  ".json")))
    if args.only:
        names = [n for n in names if any(n.startswith(o) for o in args.only)]
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = [ex.submit(run_isolated, binary, os.path.join(CONFIGS, n),
                          meta_all.get(n, {}), args.keep_logs) for n in names]
        results = [f.result() for f in futs]
    out = table(results)
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(out + "\n")


if __name__ == "__main__":
    main()
