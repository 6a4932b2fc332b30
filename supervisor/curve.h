/* SPDX-License-Identifier: MIT */
/*
 * curve.h - private: CURVE key files for actorsd and actorsctl.
 *
 * A key file holds one 40-character Z85 key (surrounding whitespace
 * ignored), the format zmq_curve_keypair() produces.  Keys come from
 * files only, never from the command line (where ps would show them).  A
 * secret key file must not be readable by group or others.
 */
#ifndef ACT_CURVE_H
#define ACT_CURVE_H

#include <stdbool.h>
#include <stddef.h>

struct act_node;
struct act__app;

/*
 * Reads a key file into out (41 bytes).  0, or a negative code with a
 * one-line reason in why: -ENOENT etc. from open, -EBADFD not a regular
 * file, -EINVAL not a Z85 key, -EACCES a secret file readable by group
 * or others.
 */
int act__curve_read_key(const char *path, bool secret, char out[41], char *why, size_t why_cap);

/*
 * Fills the registry's peer server keys from the app file (server_key, or
 * server_key_file read here).  0, or an actorsd exit code after printing
 * the reason on stderr.
 */
int act__curve_load_peers(struct act_node *n, const struct act__app *app);

/*
 * Writes a new keypair into dir as curve.secret (mode 0600) and
 * curve.public (0644); never overwrites.  0 or a negative code with the
 * reason in why.
 */
int act__curve_keygen(const char *dir, char *why, size_t why_cap);

#endif
