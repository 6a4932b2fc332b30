/* SPDX-License-Identifier: MIT */
/*
 * appfile.h - private: the application file of actorsd (JSON), parsed and
 * validated into plain structs.
 *
 * The daemon form of a node is described by one JSON file naming the node,
 * its endpoints, the supervision policy and the groups with their modules
 * and actors.  This module turns that file into a struct act__app, or into
 * exactly one error message that names the file, the place (line:column
 * for JSON syntax, columns counting characters; a JSON path such as
 * $.groups[1].actors[0].name otherwise), what is wrong and what was
 * expected.  Nothing here loads modules, binds sockets or touches the state
 * directory: the result is pure data.
 *
 * Schema (any other key is an error; defaults in brackets):
 *   node            required; 1..63 of [A-Za-z0-9_.-], not "." or ".."
 *   state_dir       ["."] relative to the app file's directory
 *   endpoint        ZMQ bind endpoint, tcp://HOST:PORT or ipc://PATH
 *   advertise       endpoint other nodes reply to [endpoint, with a
 *                   wildcard host * / 0.0.0.0 / [::] replaced by localhost]
 *   control_socket  [STATE_DIR/actorsd.sock] relative to the app file's
 *                   directory; at most 107 bytes once resolved
 *   runtime_dir     [$RUNTIME_DIRECTORY, $ACTORS_RUNTIME_DIR/NODE,
 *                   /run/actors/NODE for root, else
 *                   $XDG_RUNTIME_DIR/actors/NODE] where the region outlives
 *                   actorsd (tmpfs); "" for none
 *   metrics_endpoint HOST:PORT of a plain HTTP/1.0 listener serving GET
 *                   /metrics (numeric IPv4 or [IPv6] host; ":PORT" means
 *                   127.0.0.1) [none]
 *   strategy        one_for_one | one_for_all | rest_for_one [one_for_one]
 *   max_restarts    0..1024 [1] (ACT__SUP_MAX_RESTARTS, the restart window)
 *   period_ms       1..4294967295 [5000]
 *   module_timeout_ms 1..3600000 [10000]: how long loading the modules
 *                   (all of them: constructors, actors_module_init(),
 *                   binding) may take, at startup and for --check
 *   backoff         { initial_ms 0..3600000 [10], factor 1.0..1000.0 [2.0],
 *                     max_ms initial_ms..3600000 [10000],
 *                     reset_after_ms 0..86400000 [10000] }
 *   peers           { NAME: connectable endpoint, or
 *                     NAME: { endpoint (required), server_key (40-char
 *                     Z85) or server_key_file (relative to the app
 *                     file's dir; not both), peer_down_ms 1..3600000
 *                     [3000] }, ... }  (NAME as node); a server key
 *                     needs "curve" (the node's keypair is the client's)
 *   limits          { max_frame_bytes 256..2^30 [1048576],
 *                     max_depth 1..1000 [32],
 *                     max_string_bytes 1..max_frame_bytes [65536],
 *                     max_fields 1..65535 [256] }
 *   curve           { secret_key_file, public_key_file (both required,
 *                     relative to the app file's directory),
 *                     allow: non-empty array of 40-char Z85 keys (optional:
 *                     without it any client knowing the server key is
 *                     accepted) }; needs endpoint
 *   groups          required, 1..255 of {
 *       name        required, unique, as node
 *       module      required path of the .so, relative to the app file's dir
 *       restart     permanent | transient | temporary [permanent]
 *       ring_bytes  power of two 4096..1073741824 [262144]
 *       max_msg_bytes 64..ring_bytes/4 [65536]
 *       spin_us     0..1000000 [50];   max_redeliveries 1..1000 [3]
 *       heartbeat_ms 1..60000 [100]
 *       heartbeat_timeout_ms heartbeat_ms+1..600000 [1000]
 *       shutdown_ms 0..3600000 or "brutal_kill" [5000]
 *       hot_standby bool [false]
 *       quick_reap  bool [true]
 *       max_spawned 1..4194304: room for actors spawned at run time [16384]
 *       pool        1..64: run the group as that many identical workers
 *                   (members NAME#0..; counted as groups toward 255) [none]
 *       routing     round_robin | least_loaded | key_hash [round_robin];
 *                   needs pool
 *       key         the message field key_hash hashes (a name); required
 *                   with key_hash, refused with the others
 *       trace       bool [false]: log one line per handled message (intercept.c)
 *       actors      required, >= 1 of { name (required, unique in the whole
 *                   node, 1..63 bytes, no control characters), behaviour
 *                   (required, 1..255 bytes, no control characters), args
 *                   (any JSON), remote (bool [false]; needs endpoint) } }
 *
 * The JSON itself must be strict RFC 8259 JSON in UTF-8: no comments, no
 * trailing commas, no NUL bytes (raw or \u0000), no unpaired surrogates, no
 * duplicate keys in any object (args included), nesting at most 512 deep,
 * numbers finite.  An integer field rejects numbers written with a fraction
 * or an exponent ("1.0", "1e3").  Files larger than 16 MiB are refused, and
 * so is anything that is not a regular file (a FIFO, a device).
 */
#ifndef ACT_APPFILE_H
#define ACT_APPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <actors.h>

#define ACT__APP_MAX_FILE_BYTES (16u * 1024u * 1024u)
#define ACT__APP_MAX_GROUPS     255u
#define ACT__APP_SPARE_GROUPS   0u   /* default "spare_groups" */
#define ACT__APP_NAME_MAX       ((unsigned)ACT_NAME_MAX) /* node, group, peer and actor names */
#define ACT__APP_Z85_KEY_LEN    40u   /* a CURVE public key in Z85 */
#define ACT__APP_MODULE_TIMEOUT_MS     10000u
#define ACT__APP_MAX_MODULE_TIMEOUT_MS 3600000u


struct act__app_actor {
	char *name;
	char *behaviour;     /* the behaviour name the group's module registers */
	char *args_json;     /* compact JSON text; NULL if absent or null */
	bool remote;         /* reachable from the network */
	uint32_t group;      /* index into app->groups */
};

struct act__app_group {
	char *name;
	char *module;        /* path of the .so, resolved against base_dir */
	act_restart_type restart;
	uint32_t ring_bytes;
	uint32_t max_msg_bytes;
	uint32_t spin_us;
	uint32_t max_redeliveries;
	uint32_t heartbeat_ms;
	uint32_t heartbeat_timeout_ms;
	uint32_t shutdown_ms;   /* 0 when brutal_kill (as in act__group_def) */
	bool brutal_kill;
	bool hot_standby;
	bool quick_reap;
	bool trace;          /* the message-flow logger runs in its worker */
	uint32_t max_spawned;   /* 0: the default (ACT__DYN_SLOTS_DEFAULT) */
	uint32_t pool_n;        /* "pool": members, 0 = not a pool */
	act_pool_routing pool_routing;
	char *pool_key;         /* "key" (key_hash) or NULL */
	struct act__app_actor *actors;  /* in declaration order */
	uint32_t n_actors;
};

struct act__app_peer {
	char *name;
	char *endpoint;
	/* CURVE server key of the peer (Z85), from "server_key" or read by
	 * actorsd from "server_key_file"; "" for a plain peer. */
	char server_key[ACT__APP_Z85_KEY_LEN + 1];
	char *server_key_file;        /* resolved against base_dir, or NULL */
	uint32_t down_ms;             /* "peer_down_ms" (0: the default) */
};

struct act__app_backoff {
	uint32_t initial_ms;
	double factor;
	uint32_t max_ms;
	uint32_t reset_after_ms;
};

struct act__app_limits {
	uint32_t max_frame_bytes;
	uint32_t max_depth;
	uint32_t max_string_bytes;
	uint32_t max_fields;
};

struct act__app_curve {
	bool enabled;                 /* the "curve" object was given */
	char *secret_key_file;        /* resolved against base_dir */
	char *public_key_file;
	char (*allow)[ACT__APP_Z85_KEY_LEN + 1]; /* NUL-terminated keys */
	uint32_t n_allow;             /* 0: any client */
};

struct act__app {
	char *path;            /* the file's name as used in messages */
	char *base_dir;        /* what relative paths were resolved against, or NULL */
	char *node;
	char *state_dir;       /* resolved */
	char *runtime_dir;     /* resolved; NULL: the default, "": none (recover.h) */
	char *control_socket;  /* resolved */
	char *endpoint;        /* NULL: no network endpoint */
	char *metrics_endpoint; /* NULL: no HTTP metrics listener */
	/* NULL when there is no endpoint, or when its port (or ipc path) is the
	 * wildcard "*": the daemon must then advertise what it actually bound
	 * (ZMQ_LAST_ENDPOINT, wildcard host replaced by localhost). */
	char *advertise;
	act_strategy strategy;
	uint32_t max_restarts;
	uint32_t period_ms;
	uint32_t module_timeout_ms; /* loading all modules, at startup and --check */
	/* "spare_groups": participants the region gets beyond the groups, for
	 * groups a reload adds (reload.c); default ACT__APP_SPARE_GROUPS. */
	uint32_t spare_groups;
	bool has_backoff;      /* "backoff" was given; values are filled either way */
	struct act__app_backoff backoff;
	struct act__app_limits limits;
	struct act__app_curve curve;
	struct act__app_topic { char *name; bool remote; } *topics; /* "topics", in file order */
	uint32_t n_topics;
	struct act__app_peer *peers;   /* in file order */
	uint32_t n_peers;
	struct act__app_group *groups; /* in declaration (start) order */
	uint32_t n_groups;
	uint32_t n_actors;     /* over all groups */
};

/*
 * Reads, parses and validates the app file at path into *app.  Relative
 * paths in the file are resolved against the file's directory, made
 * absolute with the current directory.  Returns 0 (free *app with
 * act__app_free), or a negative code with *app zeroed and one message,
 * NUL-terminated and truncated to err_cap, in err (may be NULL):
 *   -EINVAL  bad content ("FILE:LINE:COL: syntax error: ..." or
 *            "FILE: $.json.path: ...")
 *   -EFBIG   larger than ACT__APP_MAX_FILE_BYTES
 *   -ENOMEM  out of memory
 *   other    the file could not be opened or read (-ENOENT, -EACCES,
 *            -EISDIR...), "FILE: cannot open: ..."; -EINVAL with
 *            "FILE: cannot read: not a regular file (a FIFO)" for anything
 *            but a regular file or a directory
 * Never waits for a writer (a FIFO is refused without blocking); blocks
 * on file I/O only.  Any thread: nothing global is written (cJSON
 * sets its global error pointer only when a parse fails, and text reaches
 * cJSON only after our own checker accepted it).
 */
int act__app_load(const char *path, struct act__app *app, char *err, size_t err_cap);

/*
 * As act__app_load for the len bytes at text (need not be NUL-terminated).
 * path_for_messages names the input in messages (NULL: "<input>");
 * base_dir is what relative paths are resolved against (NULL: they are kept
 * relative).  Never reads or writes files.
 */
int act__app_parse(const char *text, size_t len, const char *path_for_messages,
                   const char *base_dir, struct act__app *app, char *err, size_t err_cap);

/* Frees everything app owns and zeroes it.  NULL-safe, idempotent. */
void act__app_free(struct act__app *app);


/* The settings of file group g a running group takes (and a reload
 * changes): into a registry's group definition. */
struct act__group_def;
void act__app_group_settings(struct act__group_def *gd, const struct act__app_group *g);

#endif
