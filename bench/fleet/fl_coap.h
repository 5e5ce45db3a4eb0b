/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's CoAP messages (RFC 7252 §3): a device's confirmable POST to
 * /fleet whose 8-byte token and 8-byte payload both carry the device index
 * and its request number, and the application server's piggybacked ACK
 * (2.05 Content, §5.2.1) echoing token and payload. Pure functions, any
 * thread.
 */
#ifndef STORMGATE_FL_COAP_H
#define STORMGATE_FL_COAP_H

#include <stddef.h>
#include <stdint.h>

/* RFC 7252 §3, §4.8, §12.1 */
#define SG_COAP_VERSION        1
#define SG_COAP_TYPE_CON       0
#define SG_COAP_TYPE_NON       1
#define SG_COAP_TYPE_ACK       2
#define SG_COAP_TYPE_RST       3
#define SG_COAP_CODE_POST      0x02 /* 0.02 */
#define SG_COAP_CODE_CONTENT   0x45 /* 2.05 */
#define SG_COAP_OPT_URI_PATH   11
#define SG_COAP_PAYLOAD_MARKER 0xff
#define SG_COAP_ACK_TIMEOUT_MS 2000 /* §4.8 ACK_TIMEOUT */
#define SG_COAP_ACK_RANDOM_PCT 50   /* ACK_RANDOM_FACTOR 1.5 */
#define SG_COAP_MAX_RETRANSMIT 4

#define SG_FL_COAP_TOKEN_LEN 8  /* device index, request number (big-endian) */
#define SG_FL_COAP_REQ_MAX   32 /* our request's bytes */

/* A parsed message of ours. */
struct sg_fl_coap {
	uint8_t type; /* SG_COAP_TYPE_* */
	uint8_t code;
	uint16_t mid; /* message id */
	uint32_t dev; /* from the token */
	uint32_t req;
	uint32_t pl_dev; /* from the payload */
	uint32_t pl_req;
};

/*
 * Write the request of device dev, number req, message id mid into out (cap
 * bytes). Returns its length or -EMSGSIZE.
 */
int sg_fl_coap_request(uint8_t *out, size_t cap, uint16_t mid, uint32_t dev, uint32_t req);

/*
 * Parse a message of ours (len bytes): header, an 8-byte token, well-formed
 * options (§3.1, skipped), a payload marker and an 8-byte payload. Returns
 * 0 or -EINVAL.
 */
int sg_fl_coap_parse(const uint8_t *in, size_t len, struct sg_fl_coap *m);

/*
 * The application server's answer to request in (len bytes), written into
 * out (cap bytes; may be in itself): a piggybacked ACK 2.05 with the same
 * message id, token and payload. Returns its length, -EINVAL (not a CON
 * request of ours) or -EMSGSIZE.
 */
int sg_fl_coap_answer(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

#endif /* STORMGATE_FL_COAP_H */
