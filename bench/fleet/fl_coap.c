/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's CoAP codec (fl_coap.h), RFC 7252 §3. Pure; any thread.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "fl_coap.h"

static const char uri_path[] = "fleet";

int sg_fl_coap_request(uint8_t *out, size_t cap, uint16_t mid, uint32_t dev, uint32_t req)
{
	size_t n = 0, plen = sizeof(uri_path) - 1;

	if (cap < 4 + SG_FL_COAP_TOKEN_LEN + 1 + plen + 1 + 8)
		return -EMSGSIZE;
	out[n++] = (uint8_t)(SG_COAP_VERSION << 6 | SG_COAP_TYPE_CON << 4 | SG_FL_COAP_TOKEN_LEN);
	out[n++] = SG_COAP_CODE_POST;
	sg_store_be16(out + n, mid);
	n += 2;
	sg_store_be32(out + n, dev);
	sg_store_be32(out + n + 4, req);
	n += SG_FL_COAP_TOKEN_LEN;
	out[n++] = (uint8_t)(SG_COAP_OPT_URI_PATH << 4 | plen); /* delta 11 from 0, length 5 */
	memcpy(out + n, uri_path, plen);
	n += plen;
	out[n++] = SG_COAP_PAYLOAD_MARKER;
	sg_store_be32(out + n, dev);
	sg_store_be32(out + n + 4, req);
	return (int)(n + 8);
}

/* An option's extended delta or length (§3.1): nibble 13 adds a byte, 14 two, 15 is invalid. */
static int opt_ext(const uint8_t *in, size_t len, size_t *n, unsigned nib, uint32_t *v)
{
	if (nib < 13) {
		*v = nib;
		return 0;
	}
	if (nib == 13 && *n + 1 <= len) {
		*v = 13u + in[*n];
		*n += 1;
		return 0;
	}
	if (nib == 14 && *n + 2 <= len) {
		*v = 269u + sg_load_be16(in + *n);
		*n += 2;
		return 0;
	}
	return -EINVAL;
}

int sg_fl_coap_parse(const uint8_t *in, size_t len, struct sg_fl_coap *m)
{
	size_t n = 4 + SG_FL_COAP_TOKEN_LEN;

	if (len < n || in[0] >> 6 != SG_COAP_VERSION || (in[0] & 0x0f) != SG_FL_COAP_TOKEN_LEN)
		return -EINVAL;
	m->type = (in[0] >> 4) & 3;
	m->code = in[1];
	m->mid = sg_load_be16(in + 2);
	m->dev = sg_load_be32(in + 4);
	m->req = sg_load_be32(in + 8);
	while (n < len && in[n] != SG_COAP_PAYLOAD_MARKER) {
		uint32_t delta, olen;
		uint8_t b = in[n++];

		if (opt_ext(in, len, &n, b >> 4, &delta) != 0 ||
		    opt_ext(in, len, &n, b & 0x0f, &olen) != 0 || olen > len - n)
			return -EINVAL;
		n += olen;
	}
	/* a marker, then exactly our payload (§3: a marker with no payload is an error) */
	if (n + 1 + 8 != len)
		return -EINVAL;
	m->pl_dev = sg_load_be32(in + n + 1);
	m->pl_req = sg_load_be32(in + n + 5);
	return 0;
}

int sg_fl_coap_answer(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct sg_fl_coap m;
	uint8_t tok[SG_FL_COAP_TOKEN_LEN], pl[8];
	size_t n = 4 + SG_FL_COAP_TOKEN_LEN;

	if (sg_fl_coap_parse(in, len, &m) != 0 || m.type != SG_COAP_TYPE_CON ||
	    m.code != SG_COAP_CODE_POST)
		return -EINVAL;
	if (cap < n + 1 + sizeof(pl))
		return -EMSGSIZE;
	memcpy(tok, in + 4, sizeof(tok));
	memcpy(pl, in + len - sizeof(pl), sizeof(pl));
	out[0] = (uint8_t)(SG_COAP_VERSION << 6 | SG_COAP_TYPE_ACK << 4 | SG_FL_COAP_TOKEN_LEN);
	out[1] = SG_COAP_CODE_CONTENT;
	sg_store_be16(out + 2, m.mid);
	memcpy(out + 4, tok, sizeof(tok));
	out[n] = SG_COAP_PAYLOAD_MARKER;
	memcpy(out + n + 1, pl, sizeof(pl));
	return (int)(n + 1 + sizeof(pl));
}
