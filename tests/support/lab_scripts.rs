//! The programs the lab installs in its directory: the BMCs' chassis control, the per-host
//! service, and the port keeper of large labs.

/// The BMC's chassis_control program: `chassis-ctl HOSTDIR TAG get power | set power 0|1 |
/// set reset 1 | set boot X`. Power on starts the host's sshd (daemonized, tagged) and waits
/// for its pid file; power off kills every process tagged with the host's tag.
pub const CHASSIS_CTL: &str = r#"#!/bin/sh
dir=$1; tag=$2; shift 2
pidf="$dir/sshd.pid"
echo "$(date +%s.%N) $*" >> "$dir/chassis.log"
live() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null; }
is_on() { live "$(cat "$pidf" 2>/dev/null)"; }
on() {
  is_on && return 0
  rm -f "$pidf"
  BLACKSTART_LAB="$tag" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1
  i=0
  while [ ! -s "$pidf" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done
}
# sshd hides its environment (setproctitle), so: the listener's process tree, plus every
# process with the tag in its environment (sessions, daemons started over SSH).
victims() {
  master=$(cat "$pidf" 2>/dev/null)
  if live "$master" && grep -qF "$dir/sshd_config" "/proc/$master/cmdline" 2>/dev/null; then
    ps -e -o pid=,ppid= | awk -v root="$master" '
      { kids[$2] = kids[$2] " " $1 }
      END { n = split(root, q, " "); out = ""
            for (i = 1; i <= n; i++) { p = q[i]; out = out " " p
              m = split(kids[p], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] }
            print out }'
  fi
  grep -lzxF "BLACKSTART_LAB=$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
}
off() {
  any=0
  for sig in TERM KILL; do
    pids=$(victims)
    [ -z "$pids" ] && break
    kill -s $sig $pids 2>/dev/null
    i=0
    while [ $i -lt 100 ]; do
      any=0; for p in $pids; do live "$p" && any=1; done
      [ $any = 0 ] && break
      sleep 0.02; i=$((i+1))
    done
    [ $any = 0 ] && break
  done
  rm -f "$pidf"
}
case "$1 $2" in
  "get power") if is_on; then echo "power:1"; else echo "power:0"; fi ;;
  "set power") if [ "$3" = 1 ]; then on; else off; fi ;;
  "set reset") off; on ;;
  *) ;;
esac
exit 0
"#;

/// The lab's service. See [`Lab::service_command`].
pub const LAB_SERVICE: &str = r#"#!/usr/bin/env python3
"""lab_service.py PORT DELAY_S [--fail] [--hang] [--addr A] [--since UNIX_TIME]  |  lab_service.py --stop PORT [--addr A]"""
# http.server is imported only in the daemon, after the start command has returned, and the
# delay counts from the start: importing it first cost the start command 150-300 ms on a
# loaded machine (the controller waited for that, and the port opened that much past DELAY_S).
# --since: the moment the start command began (the shell's `date`), so the interpreter's own
# start (30-60 ms on a loaded machine) is inside DELAY_S, as a real service's start is inside
# the time it declares.
import os, signal, sys, time

began = time.time()

here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
addr = os.environ.get("LAB_ADDRESS", "127.0.0.1")
if "--addr" in args:
    i = args.index("--addr"); addr = args[i + 1]; del args[i:i + 2]
if "--since" in args:
    i = args.index("--since"); began = min(began, float(args[i + 1])); del args[i:i + 2]
flags = {a for a in args if a.startswith("--")}
pos = [a for a in args if not a.startswith("--")]

def pidfile(port):
    return os.path.join(here, "run", "%s_%s.pid" % (addr, port))

if "--stop" in flags:
    try:
        pid = int(open(pidfile(pos[0])).read().strip())
        os.kill(pid, signal.SIGTERM)
        os.unlink(pidfile(pos[0]))
    except (OSError, ValueError):
        pass
    sys.exit(0)

port, delay = int(pos[0]), float(pos[1])
if "--fail" in flags:
    sys.stderr.write("lab_service: failing on purpose\n")
    sys.exit(3)
if "--hang" in flags:
    time.sleep(3600)
    sys.exit(0)

if os.fork() > 0:
    os.wait()
    sys.exit(0)
os.setsid()
if os.fork() > 0:
    os._exit(0)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
with open(pidfile(port), "w") as f:
    f.write("%d\n" % os.getpid())
with open(os.path.join(here, "run", "starts.log"), "a") as f:
    f.write("%.3f %s %d\n" % (time.time(), addr, port))
import http.server
time.sleep(max(0.0, began + delay - time.time()))

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

http.server.HTTPServer((addr, port), Ok).serve_forever()
"#;

/// One process that holds the services' ports for a whole large lab, so a thousand services
/// cost one Python process rather than a thousand (about 10 MB each). See
/// [`super::lab::Lab::port_service_command`]. Lines on the FIFO: `ADDR PORT DELAY_S` listens on
/// `ADDR:PORT` after `DELAY_S` and accepts (then closes) every connection; `ADDR PORT stop`
/// closes it. A repeated start of a port already open or pending changes nothing, as starting
/// a running service does not. Each open is logged as `<unix time> ADDR PORT`.
pub const PORT_KEEPER: &str = r#"#!/usr/bin/env python3
import asyncio, os, sys, time

fifo, log_path = sys.argv[1], sys.argv[2]
log = open(log_path, "a", buffering=1)
servers, pending = {}, {}

async def handle(reader, writer):
    writer.close()

async def open_later(key, delay):
    await asyncio.sleep(delay)
    try:
        servers[key] = await asyncio.start_server(handle, key[0], key[1], reuse_address=True, backlog=128)
        log.write("%.3f %s %d\n" % (time.time(), key[0], key[1]))
    except OSError as e:
        log.write("%.3f %s %d error %s\n" % (time.time(), key[0], key[1], e))
    finally:
        pending.pop(key, None)

def request(line):
    parts = line.split()
    if len(parts) != 3:
        return
    key = (parts[0], int(parts[1]))
    if parts[2] == "stop":
        task = pending.pop(key, None)
        if task:
            task.cancel()
        server = servers.pop(key, None)
        if server:
            server.close()
    elif key not in servers and key not in pending:
        pending[key] = asyncio.ensure_future(open_later(key, float(parts[2])))

async def main():
    # Opened read-write so the FIFO never reports end of file between writers.
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    buffer = b""
    ready = asyncio.Event()
    asyncio.get_running_loop().add_reader(fd, ready.set)
    while True:
        await ready.wait()
        ready.clear()
        try:
            buffer += os.read(fd, 65536)
        except BlockingIOError:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            try:
                request(line.decode())
            except ValueError:
                pass

asyncio.run(main())
"#;
