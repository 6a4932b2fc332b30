#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/ops-metrics-http.py - the metrics endpoint: GET /metrics over plain
HTTP/1.0 on the supervisor's loop, scraped and parsed with the real
OpenMetrics parser (python3-prometheus-client; skipped without it).

The scrape carries the per-actor families and the handling-time histograms,
agrees with `actorsctl actors --json`, and has the same families as
`actorsctl metrics`.  Hostile clients - garbage, a wrong method, a head
larger than the limit, a crowd of silent connections (slowloris) past the
connection cap - get short answers or are dropped, are counted, and never
keep a scraper out or stop the node.  A bad address is refused by
`actorsd --check`.
"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("1..0 # SKIP python3-prometheus-client (prometheus_client) is not installed")
    raise SystemExit(0)

from actorsd_harness import free_port, ACTORSD, TOP_BUILDDIR, Tap, Node, actor, group, wait_for

OBSMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "obsmod.so")
MAX_CONNS = 16          # httpd.c
REQ_MAX = 8192

tap = Tap(timeout=120)



def raw(port, data, timeout=10):
    """Sends data, returns everything the server answers before closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


def status_line(resp):
    return resp.split(b"\r\n", 1)[0].decode("latin-1")


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, fam, name, **labels):
    for s in fams[fam].samples if fam in fams else []:
        if s.name == name and s.labels == labels:
            return s.value
    return None


with tap:
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    node = Node(tap, {"metrics_endpoint": "127.0.0.1:%d" % port,
                      "groups": [group("work", [actor("slow", "slow"),
                                                actor("spawner", "spawner")], module=OBSMOD)]},
                name="mhttp",
                env={"ACTORS_STATS_SAMPLE": "1"})  # time every envelope
    node.start()
    for _ in range(3):
        node.ask("slow", "Ping", {"count": 1})
    node.ask("spawner", "Ping", {"count": 2})
    wait_for(lambda: all(a["handled"] == 1 for a in node.request({"cmd": "actors"})["actors"]
                         if a["name"].startswith("kid")), 20, "the kids to handle their Ping")

    # ---- a scrape ---------------------------------------------------------------
    with urllib.request.urlopen(url, timeout=10) as r:
        code, ctype, text = r.status, r.headers.get("Content-Type"), r.read().decode()
    tap.is_(code, 200, "GET /metrics: 200")
    tap.ok(ctype.startswith("application/openmetrics-text"), "OpenMetrics content type (%s)" % ctype)
    try:
        fams = families(text)
    except Exception as e:
        tap.diag("parse error: %s" % e)
        fams = {}
    tap.ok(len(fams) > 20, "the OpenMetrics parser accepts the scrape (%d families)" % len(fams))
    acts = {a["name"]: a for a in node.request({"cmd": "actors"})["actors"]}
    lab = {"group": "work", "actor": "slow"}
    tap.is_(value(fams, "actors_actor_handled", "actors_actor_handled_total", **lab),
            acts["slow"]["handled"], "slow's handled agrees with actorsctl actors")
    tap.is_(value(fams, "actors_actor_handling_seconds", "actors_actor_handling_seconds_count",
                  **lab), 3, "slow's handling-time histogram counts its three Pings")
    tap.is_(value(fams, "actors_actor_handling_seconds", "actors_actor_handling_seconds_bucket",
                  le="0.000524288", **lab), 0, "none of them took under 0.5 ms (each spun 1 ms)")
    tap.ok(value(fams, "actors_actor_handling_seconds", "actors_actor_handling_seconds_sum",
                 **lab) >= 0.003, "the sum is at least 3 ms")
    tap.is_(value(fams, "actors_actor_handled", "actors_actor_handled_total",
                  group="work", actor="kid1"), 1, "a spawned actor has its own series")
    tap.is_(value(fams, "actors_actor_mailbox_seconds", "actors_actor_mailbox_seconds_count",
                  **lab), 3, "slow's time-in-mailbox histogram counts its three Pings")
    tap.is_(value(fams, "actors_actor_mailbox_envelopes", "actors_actor_mailbox_envelopes", **lab),
            0, "slow's mailbox is empty")
    tap.is_(fams["actors_group_handling_seconds"].type if "actors_group_handling_seconds" in fams
            else None, "histogram", "a per-group handling-time histogram")
    tap.is_(value(fams, "actors_group_handling_seconds", "actors_group_handling_seconds_count",
                  group="work"), node.group("work")["handled"],
            "the group histogram counts what the group handled")
    rc, ctl_text, err = node.ctl("metrics")
    tap.is_(set(families(ctl_text)), set(fams), "the same families as actorsctl metrics")

    resp = raw(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    tap.ok(status_line(resp) == "HTTP/1.0 200 OK" and resp.endswith(b"\r\n\r\n"),
           "HEAD /metrics: 200, no body")
    tap.is_(status_line(raw(port, b"GET /metrics?x=1 HTTP/1.1\nHost: x\n\n")),
            "HTTP/1.0 200 OK", "a query string and bare LF line ends are accepted")

    # ---- refusals ---------------------------------------------------------------
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    tap.is_(code, 404, "GET /: 404")
    tap.is_(status_line(raw(port, b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")),
            "HTTP/1.0 405 Method Not Allowed", "POST: 405")
    tap.is_(status_line(raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")),
            "HTTP/1.0 400 Bad Request", "binary garbage (a TLS hello): 400")
    tap.is_(status_line(raw(port, b"GET /metrics\r\n\r\n")), "HTTP/1.0 400 Bad Request",
            "a request line without a version: 400")
    tap.is_(status_line(raw(port, b"GET /metrics HTTP/1.0\r\nX-Big: " + b"a" * (4 * REQ_MAX))),
            "HTTP/1.0 431 Request Header Fields Too Large", "a head over the limit: 431")

    # ---- slowloris: more silent connections than the cap ------------------------
    crowd = []
    for i in range(MAX_CONNS + 8):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /metr")   # and never the rest
        crowd.append(s)
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as r:
        code = r.status
        r.read()
    took = time.monotonic() - t0
    tap.ok(code == 200 and took < 3, "a scrape gets through %d silent connections (%.2f s)"
           % (len(crowd), took))
    # The survivors get 408 at their deadline (5 s after they connected).
    answers = []
    for s in crowd:
        s.settimeout(15)
        try:
            answers.append(s.recv(4096))
        except (ConnectionResetError, socket.timeout):
            answers.append(b"")
        s.close()
    n408 = sum(1 for a in answers if a.startswith(b"HTTP/1.0 408"))
    n_closed = sum(1 for a in answers if a == b"")
    tap.ok(n408 >= 1 and n408 + n_closed == len(crowd),
           "silent connections: %d got 408 at their deadline, %d were dropped for room"
           % (n408, n_closed))

    st = node.status()
    mh = st.get("metrics_http", {})
    tap.is_(mh.get("address"), "127.0.0.1:%d" % port, "status names the bound address")
    tap.ok(mh.get("evicted", 0) >= len(crowd) - MAX_CONNS,
           "the cap's evictions are counted (%s)" % mh.get("evicted"))
    tap.ok(mh.get("bad_requests", 0) >= 4 + n408,
           "bad requests are counted (%s)" % mh.get("bad_requests"))
    tap.ok(node.running() and all(g["state"] == "ready" for g in st["groups"]),
           "the node runs on, every group ready")
    with urllib.request.urlopen(url, timeout=10) as r:
        fams = families(r.read().decode())
    tap.is_(value(fams, "actors_metrics_http_answers", "actors_metrics_http_answers_total",
                  code="404"), 1, "answers are counted by code in the scrape itself")
    # A second node cannot have the same port: it says so and does not start.
    other = Node(tap, {"metrics_endpoint": "127.0.0.1:%d" % port,
                       "groups": [group("work", [actor("slow", "slow")], module=OBSMOD)]},
                 name="mhttp2")
    other.start(wait_ready=False)
    rc2 = other.wait_exit(30)
    with open(other.log_path, errors="replace") as f:
        log2 = f.read()
    tap.ok(rc2 == 111 and "metrics endpoint" in log2,
           "a second node on the same port exits 111, naming the endpoint (%s)" % rc2)
    tap.is_(node.terminate(), 0, "SIGTERM: exit 0")

    # ---- a bad address is an app-file error -------------------------------------
    d = node.path("bad")
    os.mkdir(d)
    for bad in ("localhost:9464", "127.0.0.1:99999", "127.0.0.1:", 9464):
        app = {"node": "b", "metrics_endpoint": bad,
               "groups": [group("work", [actor("slow", "slow")], module=OBSMOD)]}
        with open(os.path.join(d, "app.json"), "w") as f:
            json.dump(app, f)
        r = subprocess.run([ACTORSD, "--check", "app.json"], cwd=d, capture_output=True,
                           text=True, timeout=30)
        tap.ok(r.returncode != 0 and "metrics_endpoint" in r.stderr,
               "--check refuses metrics_endpoint %r (%s)" % (bad, r.stderr.strip()[:120]))
