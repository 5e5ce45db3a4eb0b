/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session registry: a table of operations (add, re-add, delete, slot reuse,
 * stale ids, bad arguments) each followed by the state it must leave, then
 * a larger run checked against a plain reference model after every step,
 * with identities interned and freed as their last session goes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sg_sessreg.h"

#define ID(gen, slot) ((uint64_t)(gen) << 32 | (slot))

enum op { ADD = 0, DEL };

static const struct {
	enum op op;
	uint64_t id;
	const char *ident;
	int rc;
	uint64_t sessions, identities; /* after the step */
} steps[] = {
	{ ADD, ID(1, 0), "dev-a", 0, 1, 1 },
	{ ADD, ID(1, 1), "dev-a", 0, 2, 1 }, /* a second session of the same device */
	{ ADD, ID(1, 2), "dev-b", 0, 3, 2 },
	{ ADD, ID(1, 1), "dev-c", 0, 3, 3 },    /* same session, re-keyed under another identity */
	{ DEL, ID(2, 0), NULL, -ENOENT, 3, 3 }, /* stale generation */
	{ DEL, ID(1, 0), NULL, 0, 2, 2 },       /* dev-a's last session: dev-a goes */
	{ DEL, ID(1, 0), NULL, -ENOENT, 2, 2 },
	{ ADD, ID(2, 2), "dev-a", 0, 2, 2 },        /* slot 2 reused by a new session: dev-b goes */
	{ ADD, ID(1, 99), "dev-a", -EINVAL, 2, 2 }, /* beyond capacity */
	{ ADD, ID(0, 3), "dev-a", -EINVAL, 2, 2 },  /* generation 0 is never an id */
	{ ADD, ID(1, 3), "", 0, 3, 2 }, /* an anonymous client: a session, no identity */
	{ DEL, ID(1, 3), NULL, 0, 2, 2 },
	{ DEL, ID(1, 99), NULL, -ENOENT, 2, 2 },
	{ DEL, ID(1, 1), NULL, 0, 1, 1 },
	{ DEL, ID(2, 2), NULL, 0, 0, 0 },
};

static void test_steps(void **state)
{
	struct sg_sessreg *r = sg_sessreg_create(16);
	uint64_t ids[8];
	size_t len;

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = steps[i].op == ADD ? sg_sessreg_add(r, steps[i].id, steps[i].ident,
		                                             strlen(steps[i].ident))
		                            : sg_sessreg_del(r, steps[i].id);

		if (rc != steps[i].rc || sg_sessreg_sessions(r) != steps[i].sessions ||
		    sg_sessreg_identities(r) != steps[i].identities) {
			print_message("step %zu: rc %d sessions %llu identities %llu\n", i, rc,
			              (unsigned long long)sg_sessreg_sessions(r),
			              (unsigned long long)sg_sessreg_identities(r));
			fail();
		}
		if (i == 3) {
			/* dev-a has slot 0 only; slot 1 is dev-c's now. */
			assert_int_equal(sg_sessreg_find(r, "dev-a", 5, ids, 8), 1);
			assert_int_equal(ids[0], ID(1, 0));
			assert_int_equal(sg_sessreg_find(r, "dev-c", 5, ids, 8), 1);
			assert_int_equal(ids[0], ID(1, 1));
			assert_memory_equal(sg_sessreg_identity(r, ID(1, 1), &len), "dev-c", 5);
			assert_int_equal(len, 5);
			assert_null(sg_sessreg_identity(r, ID(2, 1), &len));
		}
	}
	assert_int_equal(sg_sessreg_find(r, "dev-a", 5, ids, 8), 0);
	assert_int_equal(sg_sessreg_find(r, NULL, 0, ids, 8), 0);
	sg_sessreg_destroy(r);
	sg_sessreg_destroy(NULL);
	assert_null(sg_sessreg_create(0));
}

/* Credential tags and store flags (the session store's): kept per session, gone with its
 * slot's next use. */
static void test_tags(void **state)
{
	static const uint8_t t1[SG_SESSREG_TAG_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t t2[SG_SESSREG_TAG_LEN] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	struct sg_sessreg *r = sg_sessreg_create(16);

	(void)state;
	assert_non_null(r);
	assert_int_equal(sg_sessreg_add(r, ID(1, 3), "dev-a", 5), 0);
	assert_null(sg_sessreg_tag(r, ID(1, 3))); /* none yet, no memory made */
	assert_int_equal(sg_sessreg_set_tag(r, ID(2, 3), t1), -ENOENT);  /* another generation */
	assert_int_equal(sg_sessreg_set_tag(r, ID(1, 4), t1), -ENOENT);  /* an empty slot */
	assert_int_equal(sg_sessreg_set_tag(r, ID(1, 16), t1), -ENOENT); /* out of range */
	assert_int_equal(sg_sessreg_set_store_flags(r, ID(2, 3), 0x20), -ENOENT); /* not its id */
	assert_int_equal(sg_sessreg_set_store_flags(r, ID(1, 3), 0), 0); /* no memory made */
	assert_int_equal(sg_sessreg_set_tag(r, ID(1, 3), t1), 0);
	assert_memory_equal(sg_sessreg_tag(r, ID(1, 3)), t1, SG_SESSREG_TAG_LEN);
	assert_null(sg_sessreg_tag(r, ID(2, 3)));
	/* The store flags the table does not keep (EMS), beside the tag. */
	assert_int_equal(sg_sessreg_store_flags(r, ID(1, 3)), 0);
	assert_int_equal(sg_sessreg_set_store_flags(r, ID(1, 3), 0x20), 0);
	assert_int_equal(sg_sessreg_store_flags(r, ID(1, 3)), 0x20);
	assert_int_equal(sg_sessreg_set_store_flags(r, ID(2, 3), 0x20), -ENOENT);
	assert_int_equal(sg_sessreg_store_flags(r, ID(2, 3)), 0);
	/* Two sessions of one identity keep their own tags (a credential changed between). */
	assert_int_equal(sg_sessreg_add(r, ID(1, 5), "dev-a", 5), 0);
	assert_int_equal(sg_sessreg_set_tag(r, ID(1, 5), t2), 0);
	assert_memory_equal(sg_sessreg_tag(r, ID(1, 3)), t1, SG_SESSREG_TAG_LEN);
	assert_memory_equal(sg_sessreg_tag(r, ID(1, 5)), t2, SG_SESSREG_TAG_LEN);
	/* The slot's next session starts without one; a deleted session has none. */
	assert_int_equal(sg_sessreg_add(r, ID(2, 3), "dev-b", 5), 0);
	assert_null(sg_sessreg_tag(r, ID(2, 3)));
	assert_int_equal(sg_sessreg_store_flags(r, ID(2, 3)), 0);
	assert_int_equal(sg_sessreg_set_tag(r, ID(2, 3), t1), 0);
	assert_int_equal(sg_sessreg_store_flags(r, ID(2, 3)), 0); /* not the old session's */
	assert_int_equal(sg_sessreg_del(r, ID(1, 5)), 0);
	assert_null(sg_sessreg_tag(r, ID(1, 5)));
	assert_int_equal(sg_sessreg_add(r, ID(2, 5), "dev-a", 5), 0);
	assert_null(sg_sessreg_tag(r, ID(2, 5)));
	sg_sessreg_destroy(r);
}

/* Many sessions over a few hundred identities, against a reference model. */
/* How a session's identity authenticated: kept per slot, PSK (0) costs no memory. */
static void test_auth(void **state)
{
	struct sg_sessreg *r = sg_sessreg_create(16);

	(void)state;
	assert_non_null(r);
	assert_int_equal(sg_sessreg_add(r, ID(1, 3), "dev-a", 5), 0);
	assert_int_equal(sg_sessreg_set_auth(r, ID(1, 3), 0), 0); /* a PSK: nothing made */
	assert_int_equal(sg_sessreg_auth(r, ID(1, 3)), 0);
	assert_int_equal(sg_sessreg_set_auth(r, ID(2, 3), 1), -ENOENT);  /* another generation */
	assert_int_equal(sg_sessreg_set_auth(r, ID(1, 16), 1), -ENOENT); /* out of range */
	assert_int_equal(sg_sessreg_add(r, ID(1, 4), "urn:dev:x509", 12), 0);
	assert_int_equal(sg_sessreg_set_auth(r, ID(1, 4), 1), 0);
	assert_int_equal(sg_sessreg_add(r, ID(1, 5), "urn:dev:rpk", 11), 0);
	assert_int_equal(sg_sessreg_set_auth(r, ID(1, 5), 2), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(1, 3)), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(1, 4)), 1);
	assert_int_equal(sg_sessreg_auth(r, ID(1, 5)), 2);
	assert_int_equal(sg_sessreg_auth(r, ID(2, 5)), 0); /* not that slot's session */
	/* The slot's next session, and a deleted one, start over as a PSK's. */
	assert_int_equal(sg_sessreg_add(r, ID(2, 4), "dev-b", 5), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(2, 4)), 0);
	assert_int_equal(sg_sessreg_del(r, ID(1, 5)), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(1, 5)), 0);
	assert_int_equal(sg_sessreg_add(r, ID(2, 5), "dev-c", 5), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(2, 5)), 0);
	sg_sessreg_destroy(r);
}

/*
 * An anonymous client (tls.client_auth optional): a slot with no identity,
 * in no identity's list, with its auth kind and store flags but no tag;
 * replacing it by a named session and back leaves the index right.
 */
static void test_anonymous(void **state)
{
	static const uint8_t t1[SG_SESSREG_TAG_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct sg_sessreg *r = sg_sessreg_create(16);
	uint64_t ids[4];
	size_t len = 99;

	(void)state;
	assert_non_null(r);
	assert_int_equal(sg_sessreg_add(r, ID(1, 2), NULL, 1), -EINVAL);
	assert_int_equal(sg_sessreg_add(r, ID(1, 2), NULL, 0), 0);
	assert_non_null(sg_sessreg_identity(r, ID(1, 2), &len));
	assert_int_equal(len, 0);
	assert_null(sg_sessreg_identity(r, ID(2, 2), &len));
	assert_int_equal(sg_sessreg_sessions(r), 1);
	assert_int_equal(sg_sessreg_identities(r), 0);
	assert_int_equal(sg_sessreg_set_auth(r, ID(1, 2), 3), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(1, 2)), 3);
	/* store flags without a tag (EMS of a session whose credential has no key) */
	assert_int_equal(sg_sessreg_set_store_flags(r, ID(1, 2), 0x20), 0);
	assert_int_equal(sg_sessreg_store_flags(r, ID(1, 2)), 0x20);
	assert_null(sg_sessreg_tag(r, ID(1, 2)));
	/* the slot's next session is named: found by its identity, no flags left over */
	assert_int_equal(sg_sessreg_add(r, ID(2, 2), "dev-a", 5), 0);
	assert_int_equal(sg_sessreg_store_flags(r, ID(2, 2)), 0);
	assert_int_equal(sg_sessreg_auth(r, ID(2, 2)), 0);
	assert_int_equal(sg_sessreg_find(r, "dev-a", 5, ids, 4), 1);
	assert_int_equal(sg_sessreg_set_tag(r, ID(2, 2), t1), 0);
	/* and anonymous again: out of dev-a's list, the identity freed */
	assert_int_equal(sg_sessreg_add(r, ID(3, 2), "", 0), 0);
	assert_int_equal(sg_sessreg_find(r, "dev-a", 5, ids, 4), 0);
	assert_int_equal(sg_sessreg_identities(r), 0);
	assert_null(sg_sessreg_tag(r, ID(3, 2)));
	assert_int_equal(sg_sessreg_del(r, ID(3, 2)), 0);
	assert_int_equal(sg_sessreg_sessions(r), 0);
	assert_int_equal(sg_sessreg_del(r, ID(3, 2)), -ENOENT);
	sg_sessreg_destroy(r);
}

static void test_model(void **state)
{
	enum { SLOTS = 4096, IDENTS = 300, ROUNDS = 40000 };
	struct sg_sessreg *r = sg_sessreg_create(SLOTS);
	uint32_t gen[SLOTS] = { 0 };
	int owner[SLOTS]; /* identity index, -1: none */
	uint64_t *ids = malloc(sizeof(*ids) * SLOTS);
	uint64_t live = 0, seed = 42;

	(void)state;
	assert_non_null(r);
	assert_non_null(ids);
	for (int s = 0; s < SLOTS; s++)
		owner[s] = -1;
	for (int round = 0; round < ROUNDS; round++) {
		char name[32];
		uint32_t s;
		int who;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		s = (uint32_t)(seed >> 33) % SLOTS;
		who = (int)((seed >> 20) % IDENTS);
		snprintf(name, sizeof(name), "urn:dev:ops:%05d", who);
		if ((seed >> 60) < 10) { /* add (or replace the slot) */
			live += owner[s] < 0;
			gen[s]++;
			owner[s] = who;
			assert_int_equal(sg_sessreg_add(r, ID(gen[s], s), name, strlen(name)), 0);
		} else if (owner[s] >= 0) {
			assert_int_equal(sg_sessreg_del(r, ID(gen[s], s)), 0);
			owner[s] = -1;
			live--;
		}
		assert_int_equal(sg_sessreg_sessions(r), live);
		if (round % 997 == 0) {
			/* Every identity's list matches the model exactly. */
			uint64_t idents = 0;

			for (int w = 0; w < IDENTS; w++) {
				size_t want = 0, n;

				snprintf(name, sizeof(name), "urn:dev:ops:%05d", w);
				for (int k = 0; k < SLOTS; k++)
					want += owner[k] == w;
				n = sg_sessreg_find(r, name, strlen(name), ids, SLOTS);
				assert_int_equal(n, want);
				idents += want > 0;
				for (size_t k = 0; k < n; k++) {
					uint32_t sl = (uint32_t)ids[k];

					assert_int_equal(owner[sl], w);
					assert_int_equal(ids[k] >> 32, gen[sl]);
				}
			}
			assert_int_equal(sg_sessreg_identities(r), idents);
		}
	}
	free(ids);
	sg_sessreg_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),     cmocka_unit_test(test_model),
		cmocka_unit_test(test_tags),      cmocka_unit_test(test_auth),
		cmocka_unit_test(test_anonymous),
	};

	return cmocka_run_group_tests_name("sessreg", tests, NULL, NULL);
}
