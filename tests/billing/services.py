#!/usr/bin/env python3
"""The ISP billing lab's services (tests/billing_lab.rs, incident 2 of INCIDENTS.md).

  services.py broker   PORT STATE_DIR [--no-ack]
      A durable message broker that requires acknowledgements: every published id is
      appended to STATE_DIR/queue.log before it is confirmed, every acknowledgement to
      acks.log, and what a consumer held unacknowledged when its connection ended goes back
      to the front of the queue. With --no-ack it is the incident's broker: a message counts
      as acknowledged once sent (logged to acks.log then), with no limit on what a consumer
      holds, so whatever sat in a dropped connection is gone. Logs `<unix time> connect|disconnect|requeue NAME [N]` to
      connections.log. Restarted, it reloads what was published and not acknowledged.
  services.py consumer NAME BROKER_ADDR BROKER_PORT HTTP_PORT STORE_DIR WRITE_S
      profile-sync: takes messages from the broker, writes each to STORE_DIR/NAME.store
      (WRITE_S seconds a message: the slow RAID), then acknowledges it. Its one thread also
      answers the heartbeat on HTTP_PORT (`heartbeat ok`), so a heartbeat waits behind the
      write in progress, as in the incident.
  services.py producer NAME BROKER_ADDR BROKER_PORT HTTP_PORT COUNT STATE_DIR
      provisioning: publishes COUNT ids NAME-1..NAME-COUNT (each confirmed by the broker and
      then logged to STATE_DIR/published.log), then answers `published COUNT` on HTTP_PORT.
  services.py store PORT REPLAY_S STATE_DIR
      radius-store: replays a backlog for REPLAY_S seconds (a line to STATE_DIR/replay-ADDR.log
      every 0.2 s, which its progress probe reads), then accepts connections on PORT.

Each daemonizes at once (the start command returns), records its pid in
STATE_DIR/NAME.pid (consumer, producer) or STATE_DIR/ROLE-ADDR.pid, and listens on the
host's address (LAB_ADDRESS). Every wait is bounded.
"""
import os, socket, sys, time

ADDR = os.environ.get("LAB_ADDRESS", "127.0.0.1")
# Messages a consumer may hold unacknowledged.
PREFETCH = 4


def daemonize(pid_path):
    if os.fork() > 0:
        os.wait()
        sys.exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    with open(pid_path, "w") as f:
        f.write("%d\n" % os.getpid())


def listener(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((ADDR, port))
    sock.listen(64)
    return sock


def answer_http(conn, body):
    """Reads one request (bounded) and answers it with `body`."""
    conn.settimeout(2.0)
    try:
        conn.recv(4096)
        data = body.encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (len(data), data))
    except OSError:
        pass
    conn.close()


def connect(addr, port):
    for _ in range(100):  # at most ~10 s
        try:
            return socket.create_connection((addr, port), timeout=2.0)
        except OSError:
            time.sleep(0.1)
    sys.exit(4)


def read_ids(path):
    try:
        with open(path) as f:
            return [line.split()[0] for line in f if line.strip()]
    except FileNotFoundError:
        return []


def broker(port, state, acks):
    import asyncio
    from collections import deque

    published = read_ids(os.path.join(state, "queue.log"))
    acked = set(read_ids(os.path.join(state, "acks.log")))
    known = set(published)
    pending = deque(i for i in published if i not in acked)
    queue_log = open(os.path.join(state, "queue.log"), "a", buffering=1)
    acks_log = open(os.path.join(state, "acks.log"), "a", buffering=1)
    events = open(os.path.join(state, "connections.log"), "a", buffering=1)
    consumers = []  # [name, writer, unacked ids]

    def note(*words):
        events.write("%.3f %s\n" % (time.time(), " ".join(str(w) for w in words)))

    def dispatch():
        moved = True
        while pending and moved:
            moved = False
            for consumer in consumers:
                if pending and (not acks or len(consumer[2]) < PREFETCH):
                    message = pending.popleft()
                    if acks:
                        consumer[2].add(message)
                    else:
                        acks_log.write(message + "\n")
                    consumer[1].write(b"MSG %s\n" % message.encode())
                    moved = True

    async def handle(reader, writer):
        first = (await reader.readline()).decode().split()
        if not first:
            writer.close()
            return
        if first[0] == "PUB":
            line = first
            while line:
                message = line[1]
                if message not in known:
                    known.add(message)
                    queue_log.write(message + "\n")
                    pending.append(message)
                writer.write(b"OK %s\n" % message.encode())
                dispatch()
                line = (await reader.readline()).decode().split()
            writer.close()
            return
        consumer = [first[1], writer, set()]
        consumers.append(consumer)
        note("connect", consumer[0])
        dispatch()
        try:
            while True:
                line = (await reader.readline()).decode().split()
                if not line:
                    break
                if line[0] == "ACK" and line[1] in consumer[2]:
                    consumer[2].discard(line[1])
                    acks_log.write(line[1] + "\n")
                    dispatch()
        except (ConnectionError, OSError):
            pass
        consumers.remove(consumer)
        if consumer[2]:
            note("requeue", consumer[0], len(consumer[2]))
            pending.extendleft(sorted(consumer[2], reverse=True))
        note("disconnect", consumer[0])
        writer.close()
        dispatch()

    async def main():
        server = await asyncio.start_server(handle, ADDR, port, reuse_address=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def consumer(name, broker_addr, broker_port, http_port, store_dir, write_s):
    import selectors

    store = open(os.path.join(store_dir, name + ".store"), "a", buffering=1)
    sock = connect(broker_addr, broker_port)
    sock.settimeout(None)
    sock.sendall(b"SUB %s\n" % name.encode())
    http = listener(http_port)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "broker")
    selector.register(http, selectors.EVENT_READ, "http")
    buffered, waiting = b"", []
    while True:
        ready = selector.select(timeout=0 if waiting else 1.0)
        for key, _ in ready:
            if key.data == "broker":
                data = sock.recv(65536)
                if not data:
                    sys.exit(5)  # the broker went away
                buffered += data
                *lines, buffered = buffered.split(b"\n")
                waiting += [line.split()[1].decode() for line in lines if line.startswith(b"MSG ")]
        # One write per turn, then the heartbeats that queued behind it: one thread, as in
        # the incident, so a heartbeat is late by up to one write.
        if waiting:
            message = waiting.pop(0)
            store.write(message + "\n")
            time.sleep(write_s)
            sock.sendall(b"ACK %s\n" % message.encode())
        for key, _ in ready:
            if key.data == "http":
                conn, _ = http.accept()
                answer_http(conn, "heartbeat ok\n")


def producer(name, broker_addr, broker_port, http_port, count, state):
    sock = connect(broker_addr, broker_port)
    reader = sock.makefile("rb")
    with open(os.path.join(state, "published.log"), "a", buffering=1) as log:
        for i in range(1, count + 1):
            message = "%s-%d" % (name, i)
            sock.sendall(b"PUB %s\n" % message.encode())
            if reader.readline().split() != [b"OK", message.encode()]:
                sys.exit(6)
            log.write(message + "\n")
    sock.close()
    http = listener(http_port)
    while True:
        conn, _ = http.accept()
        answer_http(conn, "published %d\n" % count)


def store(port, replay_s, state):
    began = time.time()
    with open(os.path.join(state, "replay-%s.log" % ADDR), "a", buffering=1) as log:
        while time.time() - began < replay_s:
            log.write("%.3f replayed\n" % time.time())
            time.sleep(0.2)
    http = listener(port)
    while True:
        conn, _ = http.accept()
        conn.close()


def stop(pid_path):
    """Kills the process named in pid_path, if it runs, and waits (at most 2 s) for it."""
    try:
        pid = int(open(pid_path).read().strip())
        os.kill(pid, 9)
    except (OSError, ValueError):
        return
    for _ in range(100):
        try:
            with open("/proc/%d/status" % pid) as f:
                if any(l.startswith("State:") and ("Z" in l or "X" in l) for l in f):
                    return  # a zombie holds no socket
        except OSError:
            return
        time.sleep(0.02)


def main(args):
    role = args[0]
    if role == "broker":
        port, state = int(args[1]), args[2]
        daemonize(os.path.join(state, "broker-%s.pid" % ADDR))
        broker(port, state, "--no-ack" not in args)
    elif role == "consumer":
        name, baddr, bport, hport, store_dir, write_s = args[1:7]
        # A start replaces a running consumer, connection and all: what the incident's
        # "declared dead and reopened" did.
        stop(os.path.join(store_dir, name + ".pid"))
        daemonize(os.path.join(store_dir, name + ".pid"))
        consumer(name, baddr, int(bport), int(hport), store_dir, float(write_s))
    elif role == "producer":
        name, baddr, bport, hport, count, state = args[1:7]
        daemonize(os.path.join(state, name + ".pid"))
        producer(name, baddr, int(bport), int(hport), int(count), state)
    elif role == "store":
        port, replay_s, state = int(args[1]), float(args[2]), args[3]
        daemonize(os.path.join(state, "store-%s.pid" % ADDR))
        store(port, replay_s, state)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


main(sys.argv[1:])
