/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Security associations, names, the replay window entry points
 * and the datagram parser of the record layer.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/record.h>

#include "replay.h"

static const char *const status_names[SG_REC_STATUS_MAX] = {
	[SG_REC_OK] = "ok",
	[SG_REC_RUNT] = "runt",
	[SG_REC_TRUNCATED] = "truncated",
	[SG_REC_BAD_TYPE] = "bad_type",
	[SG_REC_BAD_VERSION] = "bad_version",
	[SG_REC_BAD_EPOCH] = "bad_epoch",
	[SG_REC_OVERSIZED] = "oversized",
	[SG_REC_BAD_SA] = "bad_sa",
	[SG_REC_KEY_EXHAUSTED] = "key_exhausted",
	[SG_REC_TOO_OLD] = "too_old",
	[SG_REC_REPLAYED] = "replayed",
	[SG_REC_AUTH_FAILED] = "auth_failed",
	[SG_REC_AUTH_LIMIT] = "auth_failed_limit",
	[SG_REC_BAD_INNER_PLAINTEXT] = "bad_inner_plaintext",
	[SG_REC_SEQ_EXHAUSTED] = "seq_exhausted",
	[SG_REC_NO_ROOM] = "no_room",
	[SG_REC_INVALID_OP] = "invalid_op",
	[SG_REC_CRYPTO_ERROR] = "crypto_error",
	[SG_REC_RECORD_LIMIT] = "record_limit",
};

const char *sg_rec_status_name(enum sg_rec_status status)
{
	if ((unsigned)status >= SG_REC_STATUS_MAX || !status_names[status])
		return "unknown";
	return status_names[status];
}

static const char *const aead_names[SG_AEAD_MAX] = {
	[SG_AEAD_AES_128_CCM_8] = "aes_128_ccm_8",
	[SG_AEAD_AES_128_CCM] = "aes_128_ccm",
	[SG_AEAD_AES_128_GCM] = "aes_128_gcm",
	[SG_AEAD_AES_256_GCM] = "aes_256_gcm",
	[SG_AEAD_CHACHA20_POLY1305] = "chacha20_poly1305",
	[SG_AEAD_AES_128_CBC_SHA256] = "aes_128_cbc_sha256",
};

const char *sg_aead_name(enum sg_aead aead)
{
	if ((unsigned)aead >= SG_AEAD_MAX)
		return "unknown";
	return aead_names[aead];
}

static int window_valid(unsigned w)
{
	return w >= SG_REPLAY_WINDOW_MIN && w <= SG_REPLAY_WINDOW_MAX && (w & (w - 1)) == 0;
}

int sg_rec_sa_init(struct sg_rec_sa *sa, unsigned window_bits, const struct sg_rec_sa_params *p)
{
	unsigned klen, ivlen, limit, flags_ok;
	int wide;

	if (!sa || !p || (unsigned)p->aead >= SG_AEAD_MAX || !window_valid(window_bits))
		return -EINVAL;
	wide = sg_aead_wide(p->aead);
	if (!p->rx_key || !p->tx_key)
		return -EINVAL;
	if (wide ? !p->rx_mac || !p->tx_mac : !p->rx_iv || !p->tx_iv)
		return -EINVAL;
	if (p->tx_seq > SG_DTLS_SEQ_MAX || p->rx_seq > SG_DTLS_SEQ_MAX)
		return -EINVAL;
	/*
	 * CBC takes no CIDs (RFC 9146 §5's MAC input for block ciphers is not
	 * implemented; the handshake declines connection_id with a CBC suite),
	 * hence no RFC 9853 checks either; encrypt_then_mac (RFC 7366) is
	 * CBC's alone.
	 */
	flags_ok = wide ? SG_SA_F_ETM : SG_SA_F_RX_CID | SG_SA_F_TX_CID | SG_SA_F_RRC;
	if (p->flags & ~flags_ok)
		return -EINVAL;
	/* RFC 8449 §4: a limit under 64 is illegal, one over 2^14 meaningless in DTLS 1.2. */
	if (p->max_plaintext && (p->max_plaintext < SG_TLS_RECORD_SIZE_LIMIT_MIN ||
	                         p->max_plaintext > SG_DTLS_MAX_PLAINTEXT))
		return -EINVAL;

	klen = sg_aead_key_len(p->aead);
	ivlen = sg_aead_iv_len(p->aead);
	memset(sa, 0, sg_rec_sa_size_for(window_bits, p->aead));
	sa->aead = (uint8_t)p->aead;
	sa->flags = p->flags | SG_SA_F_LIVE;
	sa->epoch = p->epoch;
	memcpy(sa->rx_key, p->rx_key, klen);
	memcpy(sa->tx_key, p->tx_key, klen);
	if (ivlen) {
		memcpy(sa->rx_iv, p->rx_iv, ivlen);
		memcpy(sa->tx_iv, p->tx_iv, ivlen);
	}
	if (wide) {
		struct sg_rec_sa_mac *m = sg_rec_sa_mac(sa, window_bits);

		memcpy(m->rx_mac, p->rx_mac, SG_DTLS_CBC_MAC_KEY_LEN);
		memcpy(m->tx_mac, p->tx_mac, SG_DTLS_CBC_MAC_KEY_LEN);
	}
	limit = p->max_plaintext ? p->max_plaintext : SG_DTLS_MAX_PLAINTEXT;
	sa->tx_word = (uint64_t)limit << SG_SA_TX_SEQ_BITS | p->tx_seq;
	/*
	 * Numbers below rx_seq were consumed by the handshake (the client's
	 * Finished opens the epoch, RFC 6347 §4.2.6): those still inside the
	 * window are marked seen, older ones fall left of it.
	 */
	sa->rx_top = p->rx_seq;
	if (p->rx_seq) {
		for (unsigned w = 0; w < window_bits / 64; w++)
			*replay_word(sa, w) = ~UINT64_C(0);
	}
	return 0;
}

void sg_rec_sa_restore_floors(struct sg_rec_sa *sa, unsigned window, uint64_t tx_seq,
                              uint64_t rx_top)
{
	const uint64_t end = SG_DTLS_SEQ_MAX + 1; /* 2^48: exhausted */

	if (!sa || !window_valid(window))
		return;
	tx_seq = tx_seq < end ? tx_seq : end;
	rx_top = rx_top < end ? rx_top : end;
	sa->tx_word = (sa->tx_word & ~SG_SA_TX_SEQ_MASK) | tx_seq;
	/* Unlike sg_rec_sa_init() the numbers below the top were not all seen,
	 * but some may have been: refusing them all is what makes a replay of a
	 * record from before the restart impossible. */
	sa->rx_top = rx_top;
	for (unsigned w = 0; w < window / 64; w++)
		*replay_word(sa, w) = rx_top ? ~UINT64_C(0) : 0;
}

void sg_rec_sa_wipe(struct sg_rec_sa *sa, unsigned window_bits)
{
	if (!sa)
		return;
	if (!window_valid(window_bits))
		window_bits = SG_REPLAY_WINDOW_DEFAULT; /* the two lines, keys included */
	/* A CBC SA's MAC keys follow it: its AEAD byte says the SA is that wide. */
	sg_wipe(sa, sg_rec_sa_size_for(window_bits, sa->aead));
}

enum sg_rec_status sg_rec_replay_check(const struct sg_rec_sa *sa, unsigned window_bits,
                                       uint64_t seq)
{
	return replay_check(sa, window_bits, seq);
}

void sg_rec_replay_update(struct sg_rec_sa *sa, unsigned window_bits, uint64_t seq)
{
	replay_update(sa, window_bits, seq);
}

unsigned sg_rec_parse(const uint8_t *dgram, size_t len, unsigned cid_len, struct sg_rec_hdr *recs,
                      unsigned max)
{
	size_t off = 0;
	unsigned n = 0;

	if (!dgram || !recs || cid_len > SG_DTLS_CID_MAX)
		return 0;

	/* RFC 6347 §4.1: records are packed back to back until the datagram ends. */
	while (off < len && n < max) {
		struct sg_rec_hdr *h = &recs[n++];
		const uint8_t *r = dgram + off;
		size_t left = len - off;
		unsigned hdr;

		memset(h, 0, sizeof(*h));
		h->off = (uint32_t)off;
		h->type = r[SG_DTLS_HDR_OFF_TYPE];
		hdr = h->type == SG_DTLS_CT_TLS12_CID ? SG_DTLS_HDR_LEN_CID(cid_len)
		                                      : SG_DTLS_HDR_LEN;
		h->hdr_len = (uint16_t)hdr;
		if (left < hdr) {
			h->len = (uint32_t)left;
			h->status = SG_REC_RUNT;
			break;
		}
		h->version = sg_load_be16(r + SG_DTLS_HDR_OFF_VER);
		h->epoch = sg_load_be16(r + SG_DTLS_HDR_OFF_EPOCH);
		h->seq = sg_load_be48(r + SG_DTLS_HDR_OFF_SEQ);
		h->frag_len = sg_load_be16(r + hdr - 2);
		if (h->frag_len > SG_DTLS_MAX_CIPHERTEXT) {
			/* RFC 6347 §4.1.1: past 2^14 + 2048, whatever the datagram holds. */
			h->len = (uint32_t)left;
			h->status = SG_REC_OVERSIZED;
			break;
		}
		if (h->frag_len > left - hdr) {
			/* A length past the end leaves nothing after it framable. */
			h->len = (uint32_t)left;
			h->status = SG_REC_TRUNCATED;
			break;
		}
		h->len = hdr + h->frag_len;
		h->status = SG_REC_OK;
		off += h->len;
	}
	return n;
}
