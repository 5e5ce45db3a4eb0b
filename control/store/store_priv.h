/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's front state, shared by the files of control/store/
 * that implement sg_store.h (store.c: sessions; store_meta.c: meta
 * records). Control plane only.
 */
#ifndef STORMGATE_CONTROL_STORE_PRIV_H
#define STORMGATE_CONTROL_STORE_PRIV_H

#include "sg_store.h"

struct sg_store {
	const struct sg_store_ops *ops;
	void *be;
	struct sg_store_sealer sealer;
	struct sg_store_stats stats; /* be is filled at sg_store_stats() */
};

#endif /* STORMGATE_CONTROL_STORE_PRIV_H */
