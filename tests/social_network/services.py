#!/usr/bin/env python3
"""The social network's stand-in services, for tests/social_network_lab.rs.

  services.py serve NAME PORT BODY LOAD_S STATE [--needs URL,URL...]
      With --needs, first finds its peers: one of the URLs must answer 200 (the cluster
      descriptions it reads its members from), else it exits 1. Then daemonizes. Loads for LOAD_S seconds, appending one line every 100 ms to
      STATE/load-NAME-ADDR.log (what a progress probe reads: the cluster descriptions being
      read in), then answers every GET on ADDR:PORT with 200 and BODY.
  services.py stop NAME PORT STATE
      Stops that service (SIGTERM) and returns once it is gone (at most 3 s).

ADDR is the host's (LAB_ADDRESS). Every start, refusal and stop is logged as
"<unix time> <what> NAME ADDR [URL]" in STATE/services.log (what: start, found-peers with
the URL that answered, no-peers, refused, stopped): what the fleet saw, for the test.

A service refuses to start (exit 1) while its host's login profile,
LAB_DIR/h<N>/etc/profile.d/fleet.sh, still holds the looping PROMPT_COMMAND line: the
incident's bash loop, standing in, so a start before the preparation step fails the run.
"""
import os, re, signal, sys, time

addr = os.environ.get("LAB_ADDRESS", "127.0.0.1")


def log(state, what, name, detail=""):
    with open(os.path.join(state, "services.log"), "a") as f:
        f.write(("%.6f %s %s %s %s" % (time.time(), what, name, addr, detail)).rstrip() + "\n")


def pid_path(state, name):
    return os.path.join(state, "%s-%s.pid" % (name, addr))


def profile_loops():
    number = re.search(r"(\d+)$", os.environ.get("LAB_HOST", ""))
    if not number:
        return False
    path = os.path.join(os.environ.get("LAB_DIR", "/nonexistent"), "h" + number.group(1),
                        "etc", "profile.d", "fleet.sh")
    try:
        text = open(path).read()
    except OSError:
        return False
    return re.search(r"^PROMPT_COMMAND=.*fleet-loop", text, re.M) is not None


def found_peers(urls):
    import urllib.request
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return url
        except OSError:
            pass
    return None


def serve(name, port, body, load_s, state, needs):
    if profile_loops():
        log(state, "refused", name)
        sys.stderr.write("fleet.sh: PROMPT_COMMAND loops (fleet-loop); login shells hang\n")
        sys.exit(1)
    if needs:
        source = found_peers(needs)
        if source is None:
            log(state, "no-peers", name)
            sys.stderr.write("%s: no peer list from %s\n" % (name, ", ".join(needs)))
            sys.exit(1)
        log(state, "found-peers", name, source)
    progress = os.path.join(state, "load-%s-%s.log" % (name, addr))
    open(progress, "w").close()  # a restart starts over: what was read is lost
    if os.fork() > 0:
        os.wait()
        sys.exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    with open(pid_path(state, name), "w") as f:
        f.write("%d\n" % os.getpid())
    log(state, "start", name)
    signal.signal(signal.SIGTERM, lambda *_: (log(state, "stopped", name), os._exit(0)))
    for i in range(int(round(load_s / 0.1))):
        with open(progress, "a") as f:
            f.write("loaded %d\n" % (i + 1))
        time.sleep(0.1)
    import http.server

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = (body + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    http.server.HTTPServer((addr, int(port)), Answer).serve_forever()


def stop(name, state):
    try:
        pid = int(open(pid_path(state, name)).read().strip())
        os.unlink(pid_path(state, name))
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    for _ in range(150):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)


if sys.argv[1] == "serve":
    needs = sys.argv[8].split(",") if sys.argv[7:8] == ["--needs"] else []
    serve(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6], needs)
elif sys.argv[1] == "stop":
    stop(sys.argv[2], sys.argv[4])
else:
    sys.exit("usage: services.py serve|stop ...")
