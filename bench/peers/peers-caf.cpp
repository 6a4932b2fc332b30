// SPDX-License-Identifier: MIT
// bench/peers/peers-caf.cpp - the workloads of bench/peers/run.sh written
// for CAF 0.17 (actors in one process, CAF's own scheduler): ping-pong round
// trip, one-way throughput, restart of a killed child by a monitoring
// parent (CAF has no OTP supervisor: this is the idiom it offers), spawn
// rate.  Prints "peer: caf NAME VALUE UNIT" lines for run.sh.
//
//     peers-caf [SCALE]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "caf/all.hpp"

using namespace caf;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using started_atom = atom_constant<atom("started")>;

static uint64_t now_ns() {
  return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double median(std::vector<double> v) {
  if (v.empty())
    return -1;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// ---- ping-pong: median of 64-round-trip batch means, as bench-core --------
static constexpr int64_t rtt_batch = 64;

static behavior pong_fn(event_based_actor* self) {
  return {[=](int64_t x) { self->send(actor_cast<actor>(self->current_sender()), x); }};
}

struct ping_out {
  std::vector<double> batches;
};

static behavior ping_fn(event_based_actor* self, actor pong, int64_t warm, int64_t n,
                        std::shared_ptr<ping_out> out) {
  auto t0 = std::make_shared<uint64_t>(0);
  self->send(pong, int64_t{0});
  return {[=](int64_t x) {
    int64_t done = x + 1;
    if (done >= warm && (done - warm) % rtt_batch == 0) {
      uint64_t t = now_ns();
      if (done > warm)
        out->batches.push_back((double)(t - *t0) / rtt_batch);
      *t0 = t;
      if (done - warm >= n) {
        self->send_exit(pong, exit_reason::user_shutdown);
        self->quit();
        return;
      }
    }
    self->send(pong, done);
  }};
}

static void pingpong(actor_system& sys, int64_t n) {
  auto out = std::make_shared<ping_out>();
  auto p = sys.spawn(pong_fn);
  sys.spawn(ping_fn, p, n / 10, n, out);
  sys.await_all_actors_done();
  std::printf("peer: caf pingpong_rtt %.1f ns\n", median(out->batches));
}

// ---- one-way throughput: 64-byte messages, the consumer's rate ------------
struct tp_out {
  uint64_t t0 = 0, t1 = 0;
  int64_t n = 0;
};

static behavior consumer_fn(event_based_actor* self, int64_t n, std::shared_ptr<tp_out> out) {
  auto seen = std::make_shared<int64_t>(0);
  return {[=](int64_t seq, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {
    if (seq != *seen) {
      std::fprintf(stderr, "peers-caf: out of order\n");
      self->quit();
      return;
    }
    if (++*seen == 1)
      out->t0 = now_ns();
    if (*seen == n) {
      out->t1 = now_ns();
      out->n = n - 1;
      self->quit();
    }
  }};
}

static void producer_fn(event_based_actor* self, actor cons, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    self->send(cons, i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7);
}

static void throughput(actor_system& sys, int64_t n) {
  auto out = std::make_shared<tp_out>();
  auto c = sys.spawn(consumer_fn, n, out);
  sys.spawn(producer_fn, c, n);
  sys.await_all_actors_done();
  std::printf("peer: caf throughput_1to1 %.1f msgs/s\n",
              out->n > 0 ? (double)out->n * 1e9 / (double)(out->t1 - out->t0) : -1.0);
}

// ---- restart: kill the child, time until its successor answers ------------
static behavior child_fn(event_based_actor*) {
  return {[](ping_atom) { return pong_atom::value; }};
}

static behavior parent_fn(event_based_actor* self, actor measurer) {
  auto child = std::make_shared<actor>(self->spawn<monitored>(child_fn));
  self->send(measurer, *child);
  self->set_down_handler([=](down_msg&) {
    *child = self->spawn<monitored>(child_fn);
    self->send(measurer, *child);
  });
  return {[=](pong_atom) { self->send_exit(*child, exit_reason::user_shutdown);
                           self->quit(); }};
}

static void restart(actor_system& sys, int rounds) {
  std::vector<double> samples;
  {
    scoped_actor self{sys};
    auto parent = self->spawn(parent_fn, actor_cast<actor>(self));
    actor child;
    self->receive([&](actor c) { child = c; });
    for (int i = 0; i < rounds; i++) {
      uint64_t t0 = now_ns();
      anon_send_exit(child, exit_reason::kill);
      self->receive([&](actor c) { child = c; });
      self->request(child, infinite, ping_atom::value).receive(
        [&](pong_atom) {}, [&](error&) { std::fprintf(stderr, "peers-caf: no answer\n"); });
      samples.push_back((double)(now_ns() - t0) / 1000.0);
    }
    anon_send(parent, pong_atom::value);
  }
  sys.await_all_actors_done();
  std::printf("peer: caf restart_p50 %.1f us\n", median(samples));
}

// ---- spawn rate: spawn + the actor runs + it terminates, in batches -------
static void spawn_rate(actor_system& sys, int64_t n) {
  uint64_t t0 = now_ns();
  {
    scoped_actor self{sys};
    actor me = actor_cast<actor>(self);
    for (int64_t left = n; left > 0;) {
      int64_t k = std::min<int64_t>(left, 1000);
      for (int64_t i = 0; i < k; i++)
        self->spawn([me](event_based_actor* s) { s->send(me, started_atom::value); });
      int64_t got = 0;
      self->receive_for(got, k)([](started_atom) {});
      left -= k;
    }
  }
  double dt = (double)(now_ns() - t0);
  sys.await_all_actors_done();
  std::printf("peer: caf spawn_rate %.1f /s\n", (double)n * 1e9 / dt);
}

int main(int argc, char** argv) {
  double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (!(scale > 0))
    scale = 1.0;
  actor_system_config cfg;
  actor_system sys{cfg};
  std::printf("# caf %d, %zu scheduler threads\n", CAF_VERSION,
              sys.scheduler().num_workers());
  pingpong(sys, std::max<int64_t>(2000, (int64_t)(200000 * scale)));
  throughput(sys, std::max<int64_t>(100000, (int64_t)(5000000 * scale)));
  restart(sys, std::max(50, (int)(1000 * scale)));
  spawn_rate(sys, std::max<int64_t>(10000, (int64_t)(200000 * scale)));
  return 0;
}
