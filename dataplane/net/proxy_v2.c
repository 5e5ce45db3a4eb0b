/* SPDX-License-Identifier: Apache-2.0 */
/* PROXY protocol v2 header codec; see include/stormgate/proxy_v2.h. */
#include <errno.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/proxy_v2.h>

static const uint8_t pp2_sig[SG_PP2_SIG_LEN] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

#define PP2_VERSION     0x20
#define PP2_CMD_LOCAL   0x00
#define PP2_CMD_PROXY   0x01
#define PP2_FAM_INET    0x10
#define PP2_FAM_INET6   0x20
#define PP2_TRANS_DGRAM 0x02
#define PP2_CLIENT_SSL  0x01

static const char dtls_version[] = "DTLSv1.2";

static uint8_t *put_tlv_hdr(uint8_t *p, uint8_t type, uint16_t len)
{
	p[0] = type;
	sg_store_be16(p + 1, len);
	return p + 3;
}

int sg_pp2_encode(uint8_t *buf, uint32_t cap, const struct sg_pp2_info *info)
{
	uint32_t alen, len;
	uint16_t ssl_len = 1 + 4 + 3 + (uint16_t)(sizeof(dtls_version) - 1);
	uint8_t *p;

	if (info->family != 4 && info->family != 6)
		return -EINVAL;
	if (info->identity_len > SG_PP2_IDENTITY_MAX || info->auth >= SG_PP2_AUTH_MAX)
		return -EINVAL;
	alen = info->family == 4 ? 4 : 16;
	len = SG_PP2_HDR_LEN + 2 * alen + 4 + 3 + ssl_len;
	if (info->has_session)
		len += 3 + SG_PP2_UNIQUE_ID_LEN;
	if (info->identity_len)
		len += 3 + info->identity_len;
	if (info->auth != SG_PP2_AUTH_PSK)
		len += 3 + 1;
	if (cap < len)
		return -ENOSPC;

	memcpy(buf, pp2_sig, SG_PP2_SIG_LEN);
	buf[12] = PP2_VERSION | PP2_CMD_PROXY;
	buf[13] = (info->family == 4 ? PP2_FAM_INET : PP2_FAM_INET6) | PP2_TRANS_DGRAM;
	sg_store_be16(buf + 14, (uint16_t)(len - SG_PP2_HDR_LEN));
	p = buf + SG_PP2_HDR_LEN;
	memcpy(p, info->src, alen);
	memcpy(p + alen, info->dst, alen);
	p += 2 * alen;
	sg_store_be16(p, info->sport);
	sg_store_be16(p + 2, info->dport);
	p += 4;

	p = put_tlv_hdr(p, SG_PP2_TYPE_SSL, ssl_len);
	*p++ = PP2_CLIENT_SSL | (info->auth == SG_PP2_AUTH_X509 || info->auth == SG_PP2_AUTH_RPK
	                                 ? SG_PP2_CLIENT_CERT_CONN | SG_PP2_CLIENT_CERT_SESS
	                                 : 0);
	memset(p, 0, 4); /* verify: 0 = the client presented credentials that verified */
	p += 4;
	p = put_tlv_hdr(p, SG_PP2_SUBTYPE_SSL_VER, sizeof(dtls_version) - 1);
	memcpy(p, dtls_version, sizeof(dtls_version) - 1);
	p += sizeof(dtls_version) - 1;

	if (info->has_session) {
		p = put_tlv_hdr(p, SG_PP2_TYPE_UNIQUE_ID, SG_PP2_UNIQUE_ID_LEN);
		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t)(info->session >> (56 - 8 * i));
		memcpy(p + 8, info->token, SG_PP2_TOKEN_LEN);
		p += SG_PP2_UNIQUE_ID_LEN;
	}
	if (info->identity_len) {
		p = put_tlv_hdr(p, SG_PP2_TYPE_PSK_IDENTITY, info->identity_len);
		memcpy(p, info->identity, info->identity_len);
		p += info->identity_len;
	}
	if (info->auth != SG_PP2_AUTH_PSK) {
		p = put_tlv_hdr(p, SG_PP2_TYPE_AUTH, 1);
		*p = info->auth;
	}
	return (int)len;
}

int sg_pp2_decode(const uint8_t *buf, uint32_t len, struct sg_pp2_info *info)
{
	uint32_t alen, total, off;

	memset(info, 0, sizeof(*info));
	if (len < SG_PP2_HDR_LEN || memcmp(buf, pp2_sig, SG_PP2_SIG_LEN) != 0)
		return -EINVAL;
	/* Only PROXY over UDP carries a device; LOCAL (health checks) has no payload for one. */
	if (buf[12] != (PP2_VERSION | PP2_CMD_PROXY))
		return -EINVAL;
	switch (buf[13]) {
	case PP2_FAM_INET | PP2_TRANS_DGRAM:
		info->family = 4;
		alen = 4;
		break;
	case PP2_FAM_INET6 | PP2_TRANS_DGRAM:
		info->family = 6;
		alen = 16;
		break;
	default:
		return -EINVAL;
	}
	total = SG_PP2_HDR_LEN + sg_load_be16(buf + 14);
	if (total > len || total < SG_PP2_HDR_LEN + 2 * alen + 4)
		return -EINVAL;
	off = SG_PP2_HDR_LEN;
	memcpy(info->src, buf + off, alen);
	memcpy(info->dst, buf + off + alen, alen);
	off += 2 * alen;
	info->sport = sg_load_be16(buf + off);
	info->dport = sg_load_be16(buf + off + 2);
	off += 4;

	while (off < total) {
		uint32_t tlen;

		if (total - off < 3)
			return -EINVAL;
		tlen = sg_load_be16(buf + off + 1);
		if (tlen > total - off - 3)
			return -EINVAL;
		switch (buf[off]) {
		case SG_PP2_TYPE_UNIQUE_ID:
			/* Ours is handle + token; any other length names no session of ours. */
			if (tlen == SG_PP2_UNIQUE_ID_LEN) {
				info->has_session = true;
				info->session = sg_load_be64(buf + off + 3);
				memcpy(info->token, buf + off + 3 + 8, SG_PP2_TOKEN_LEN);
			}
			break;
		case SG_PP2_TYPE_PSK_IDENTITY:
			if (tlen == 0 || tlen > SG_PP2_IDENTITY_MAX)
				return -EINVAL;
			info->identity = buf + off + 3;
			info->identity_len = (uint8_t)tlen;
			break;
		case SG_PP2_TYPE_AUTH:
			if (tlen != 1 || buf[off + 3] >= SG_PP2_AUTH_MAX)
				return -EINVAL;
			info->auth = buf[off + 3];
			break;
		default:
			break;
		}
		off += 3 + tlen;
	}
	return (int)total;
}
