/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential CSV the daemon imports (docs/config.md, "Credential CSV":
 * identity,psk_hex[,key_lifetime[,state]]), read back by the bench tools that
 * play its devices or serve them (stormgate-hsload, stormgate-dtls-baseline).
 * libc and libcrypto (OPENSSL_cleanse) only. Any thread; no state.
 */
#ifndef STORMGATE_BENCH_CRED_CSV_H
#define STORMGATE_BENCH_CRED_CSV_H

#include <stddef.h>
#include <stdint.h>

/* One enabled device: 0 to go on, or -errno to stop the read with it. */
typedef int (*sg_cred_csv_fn)(const char *identity, size_t id_len, const uint8_t *key,
                              unsigned key_len, void *ctx);

/*
 * Read the CSV at path: fn for each enabled row, in file order (a row whose
 * state is "disabled" is left out; '#' comments, blank lines and a first
 * "identity,..." header are skipped). On failure prints "prog: path:line:
 * reason" on stderr. Returns 0, -EINVAL (a malformed row or line), -ENOENT
 * (no enabled row), fn's -errno, or the file's -errno. The key bytes it
 * handled are wiped from its buffers; fn copies what it keeps.
 */
int sg_cred_csv_read(const char *path, const char *prog, sg_cred_csv_fn fn, void *ctx);

#endif /* STORMGATE_BENCH_CRED_CSV_H */
