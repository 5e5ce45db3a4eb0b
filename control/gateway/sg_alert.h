/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane's last record on a session: a closing alert (RFC 5246
 * §7.2) sealed under the session's own keys, so the device believes it and
 * starts a new handshake (`sessions kill`). An alert in the clear would be
 * an epoch-0 record, which a device with an established session discards
 * (RFC 6347 §4.1).
 */
#ifndef STORMGATE_CONTROL_SG_ALERT_H
#define STORMGATE_CONTROL_SG_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any alert record: header, the longest peer CID, nonce, 2 bytes, type, tag. */
#define SG_ALERT_BUF_LEN 320

/*
 * Seal the alert (level, description) with sa into buf (cap >=
 * SG_ALERT_BUF_LEN): tls12_cid with the peer's CID when sa says so
 * (RFC 9146), the SA's next write sequence number. The caller must own sa
 * (no worker may use it any more: sg_sess_delete_take()). On success the
 * record is at buf + *off, *len bytes. Returns 0, -EINVAL, or -EIO with the
 * record layer's refusal (e.g. sequence numbers exhausted). ctx belongs to
 * the calling thread; its key material is wiped before returning.
 */
int sg_alert_seal(struct sg_rec_ctx *ctx, struct sg_rec_sa *sa, const uint8_t *peer_cid,
                  uint8_t peer_cid_len, uint8_t level, uint8_t description, uint8_t *buf,
                  size_t cap, uint32_t *off, uint32_t *len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_ALERT_H */
