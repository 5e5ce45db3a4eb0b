/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the fleet's sans-I/O core sees of a packet buffer, and how it gets,
 * sends and frees one: the DPDK shell (fleet_main.c) keeps a struct
 * sg_fl_buf in each mbuf's private area; the unit tests use plain memory.
 * Thread: the lcore that owns the fleet core.
 */
#ifndef STORMGATE_FL_BUF_H
#define STORMGATE_FL_BUF_H

#include <stdint.h>

/* The fleet's two ports (docs/fleet.md, "Topology"). */
enum sg_fl_port {
	SG_FL_PORT_DEV = 0, /* the devices' link to the gateway */
	SG_FL_PORT_APP,     /* the gateway's backend link to our application server */
	SG_FL_PORT_MAX
};

struct sg_fl_buf {
	struct sg_fl_buf *next; /* delay line link */
	void *handle;           /* the shell's packet (an mbuf) */
	uint8_t *data;          /* buffer start */
	uint32_t due;           /* delay line: release tick */
	uint32_t dev;           /* the device it is for or from */
	uint16_t off;           /* the frame starts at data + off */
	uint16_t len;           /* frame bytes */
	uint16_t cap;           /* bytes at data */
	uint16_t l4_off;        /* received: UDP payload at data + off + l4_off */
	uint16_t l4_len;        /* its length */
};

/* The shell's packet operations. No call may block or make a system call. */
struct sg_fl_io {
	void *ctx;
	/* a buffer with off = 0, cap bytes of room; NULL when the pool is empty */
	struct sg_fl_buf *(*alloc)(void *ctx);
	void (*free)(void *ctx, struct sg_fl_buf *b);
	/* queue b (data + off, len bytes) for port; the shell owns it afterwards */
	void (*send)(void *ctx, enum sg_fl_port port, struct sg_fl_buf *b);
};

#endif /* STORMGATE_FL_BUF_H */
