// SPDX-License-Identifier: MIT
//
// t/cxx-headers.cc - the public headers compile as C++11 and work there:
// <actors.h> and <actors/testkit.h> included from C++, message types from
// ACT_MESSAGE_TYPE / ACT_MESSAGE_TYPE_EMPTY and a hand-written
// `static const act_type`, an actor whose handler table names them, run
// under the testkit.  Built only when configure found a C++11 compiler.
#include <cstdio>
#include <cstring>

#include <actors.h>
#include <actors/testkit.h>

namespace {

int n_tests, n_failed;

void ok(bool cond, const char *what)
{
	++n_tests;
	std::printf("%sok %d - %s\n", cond ? "" : "not ", n_tests, what);
	if (!cond)
		++n_failed;
}

struct ping_msg {
	int32_t count;
	act_buf note;
};
struct empty_msg {
	char unused;
};

// A hand-written, file-local, const descriptor.
const act_field hand_fields[] = { ACT_FIELD(ping_msg, count, ACT_I32) };
const act_type hand_type = { "CxxHand", sizeof(ping_msg), ACT_ALIGNOF(ping_msg),
                             hand_fields, 1 };

struct counter {
	int64_t pings, hands, empties;
	char last_note[32];
};

void on_ping(act_ctx *, void *state, const void *msg);
void on_hand(act_ctx *, void *state, const void *msg);
void on_empty(act_ctx *, void *state, const void *msg);

} // namespace

// At namespace scope: the macros define descriptors with external linkage.
ACT_MESSAGE_TYPE(cxx_ping_type, ping_msg, "CxxPing",
                 ACT_FIELD(ping_msg, count, ACT_I32), ACT_FIELD(ping_msg, note, ACT_VSTR));
ACT_MESSAGE_TYPE_EMPTY(cxx_empty_type, empty_msg, "CxxEmpty");

namespace {

void on_ping(act_ctx *, void *state, const void *msg)
{
	counter *c = static_cast<counter *>(state);
	const ping_msg *m = static_cast<const ping_msg *>(msg);
	c->pings += m->count;
	std::snprintf(c->last_note, sizeof c->last_note, "%s", static_cast<const char *>(m->note.ptr));
}

void on_hand(act_ctx *, void *state, const void *msg)
{
	static_cast<counter *>(state)->hands += static_cast<const ping_msg *>(msg)->count;
}

void on_empty(act_ctx *, void *state, const void *)
{
	static_cast<counter *>(state)->empties++;
}

const act_handler handlers[] = {
	{ &cxx_ping_type, on_ping },
	{ &hand_type, on_hand },
	{ &cxx_empty_type, on_empty },
};

act_behaviour make_behaviour()
{
	act_behaviour b;
	std::memset(&b, 0, sizeof b);
	b.name = "cxx_counter";
	b.state_size = sizeof(counter);
	b.handlers = handlers;
	b.n_handlers = sizeof handlers / sizeof handlers[0];
	return b;
}

} // namespace

int main()
{
	std::printf("1..6\n");
	const act_behaviour b = make_behaviour();
	act_test_t *t = act_test_new();
	act_ref who;

	ok(t != nullptr, "a testkit from C++");
	if (!t)
		return 1;
	ok(act_test_add_type(t, &hand_type) == 0 &&
	   act_test_spawn(t, &b, "counter", nullptr, &who) == 0,
	   "a hand-written const type registers and an actor spawns");

	const char note[] = "from C++";
	ping_msg p = { 20, { note, static_cast<uint32_t>(std::strlen(note)), 0 } };
	ping_msg h = { 3, { nullptr, 0, 0 } };
	empty_msg e = { 0 };
	bool sent = act_test_send(t, ACT_NOBODY, who, &cxx_ping_type, &p) == 0 &&
	            act_test_send(t, ACT_NOBODY, who, &hand_type, &h) == 0 &&
	            act_test_send(t, ACT_NOBODY, who, &cxx_empty_type, &e) == 0;
	ok(sent, "messages of all three types are sent");
	ok(act_test_run(t) == 3, "three handlers ran (no Start handler)");

	const counter *c = static_cast<const counter *>(act_test_state(t, who));
	ok(c && c->pings == 20 && c->hands == 3 && c->empties == 1 &&
	   std::strcmp(c->last_note, note) == 0,
	   "each reached its handler with its fields (VSTR included)");
	ok(cxx_ping_type.align == alignof(ping_msg) && cxx_ping_type.n_fields == 2,
	   "ACT_MESSAGE_TYPE filled the descriptor (ACT_ALIGNOF is alignof in C++)");
	act_test_free(t);
	return n_failed != 0;
}
