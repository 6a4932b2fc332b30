#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/topic-remote.py - topics and interceptors under actorsd.

Three subscribers in two groups join "news" (marked remote in the app
file) and "private" (not remote).  A peer's frame to "topic:news" reaches
all three (each answers with a Pong); one to "topic:private", or to a topic
nobody declared, is rejected like an unknown actor and counted.  The
module's interceptor "nonneg" drops a negative Ping (no Pong, counted per
type in `actorsctl status --json`, listed per group); the group with
"trace": true logs one line per handled message; the text status shows
the topics.  Bad "topics" in the app file are refused.
"""
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True   # never write into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, actor, wait_for, TOP_BUILDDIR, ACTORSD  # noqa: E402
from zmq_peer import Peer, need_zmq, reject_fields, wait_log  # noqa: E402

need_zmq()
TOPICMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "topicmod.so")
ARGS = {"topics": ["news", "private"]}


def grp(name, actors, **kw):
    g = {"name": name, "module": TOPICMOD, "actors": actors}
    g.update(kw)
    return g


tap = Tap(timeout=90)
with tap:
    node = Node(tap, {"endpoint": "tcp://127.0.0.1:*",
                      "topics": [{"name": "news", "remote": True}, {"name": "private"},
                                 {"name": "empty", "remote": True}],
                      "groups": [grp("g1", [actor("s1", "tsub", ARGS), actor("s2", "tsub", ARGS)]),
                                 grp("g2", [actor("s3", "tsub", ARGS)], trace=True)]},
                name="topicremote")
    st = node.start()
    ep = st["gateway"]["advertise"]
    peer = Peer("tester")
    tap.cleanups.append(peer.close)

    peer.send(ep, "topic:news", "Ping", {"count": 41})
    got = []
    for _ in range(3):
        env = peer.recv(10)
        if env is None:
            break
        got.append(env)
    senders = sorted(e.get("sender_actor") for e in got)
    tap.ok(senders == ["s1", "s2", "s3"] and
           all(e.get("message_type") == "Pong" and e.get("message") == {"count": 41} for e in got),
           "a peer's frame to topic:news reached its three members in two groups (%r)" % (got,))
    tap.ok(peer.recv(0.3) is None, "and each exactly once")

    peer.send(ep, "topic:private", "Ping", {"count": 1})
    m = reject_fields(peer.recv(10))
    tap.ok(m is not None and m["reason"] == "Actor 'topic:private' not found",
           "a topic not marked remote is rejected like an unknown actor (%r)" % (m,))
    peer.send(ep, "topic:nosuch", "Ping", {"count": 1})
    m = reject_fields(peer.recv(10))
    tap.ok(m is not None and m["reason"] == "Actor 'topic:nosuch' not found",
           "so is a topic nobody declared (%r)" % (m,))

    peer.send(ep, "s3", "Ping", {"count": -5})
    peer.send(ep, "s3", "Ping", {"count": 7})
    env = peer.recv(10)
    tap.ok(env is not None and env.get("message") == {"count": 7} and peer.recv(0.3) is None,
           "the module interceptor dropped the negative Ping, the other was answered (%r)" % (env,))

    # A remote topic nobody joined: the publication is counted, not lost
    # without a trace (it reaches no one).
    peer.send(ep, "topic:empty", "Ping", {"count": 5})

    def empty_counted():
        s = node.status()
        e = {t["name"]: t for t in s.get("topics", [])}.get("empty")
        return e if e and e.get("published") == 1 else None
    empty = wait_for(empty_counted, 10, "the publication to 'empty' counted")
    tap.ok(empty.get("members") == 0 and empty.get("delivered") == 0,
           "a remote topic with no member: 1 publication, 0 delivered (%r)" % (empty,))

    st = node.status()
    topics = {t["name"]: t for t in st.get("topics", [])}
    news = topics.get("news", {})
    tap.ok(news.get("members") == 3 and news.get("remote") is True and news.get("published") == 1
           and news.get("delivered") == 3 and news.get("refused") == 0,
           "status --json: news has 3 members, 1 publication, 3 delivered (%r)" % (news,))
    priv = topics.get("private", {})
    tap.ok(priv.get("members") == 3 and priv.get("remote") is False and priv.get("published") == 0,
           "private: 3 members, nothing published (%r)" % (priv,))
    tap.ok(st["gateway"].get("unknown_receiver") == 2,
           "the two refused topic frames count as unknown receivers (%r)" %
           (st["gateway"].get("unknown_receiver"),))
    ics = st.get("interceptors", {})
    tap.ok(ics.get("g1") == ["nonneg"] and ics.get("g2") == ["nonneg", "trace"],
           "each group lists its interceptors: the module's, then the logger (%r)" % (ics,))
    drops = [t for t in st.get("types", []) if t["group"] == "g2" and t["type"] == "Ping"]
    tap.ok(len(drops) == 1 and drops[0]["dropped"] == 1 and drops[0]["dropped_by"] == {"nonneg": 1},
           "the drop is counted per type and interceptor (%r)" % (drops,))

    tap.ok(wait_log(node, "trace: actor=s3 type=Ping from=tester elapsed_ns="),
           "the traced group logs one line per handled message")
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    tap.ok("trace: actor=s1" not in log, "the untraced group logs none")

    rc, out, err = node.ctl("status")
    tap.ok(rc == 0 and "topics:" in out and "news" in out and "(remote)" in out and
           "interceptors:" in out,
           "actorsctl status shows topics and interceptors (%d)\n%s" % (rc, out))
    rc, out, err = node.ctl("metrics")
    tap.ok(rc == 0 and 'actors_topic_delivered_total{topic="news"} 3' in out and
           'actors_topic_members{topic="private"} 3' in out and
           'actors_interceptor_dropped_total{group="g2",interceptor="nonneg",type="Ping"} 1' in out,
           "actorsctl metrics has the topic and drop counters (%d)" % rc)
    tap.is_(node.terminate(), 0, "the node stops cleanly")

    # bad topic declarations are refused at load
    for topics, why in (([{"name": "a\nb"}], "expected a topic name"),
                        ([{"name": "x"}, {"name": "x"}], "duplicate topic"),
                        ([{"remote": True}], "missing required key 'name'"),
                        ([{"name": "x", "color": 1}], "unknown key"),
                        ({"name": "x"}, "expected an array of topics")):
        bad = Node(tap, {"topics": topics, "groups": [grp("g", [actor("s", "tsub")])]},
                   name="topicbad")
        bad.write_app()
        p = subprocess.run([ACTORSD, "--check", bad.app_path], capture_output=True, text=True,
                           timeout=30)
        tap.ok(p.returncode != 0 and why in p.stderr,
               "bad topics refused: %s (%d %r)" % (why, p.returncode, p.stderr.strip()[-200:]))
