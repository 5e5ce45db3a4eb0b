/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL's DTLS over an in-process datagram transport: the BIO the handshake
 * benchmark gives both OpenSSL ends (in-memory queues, bench_handshake.cc)
 * and the handshake tests give OpenSSL's client (a socketpair,
 * tests/handshake/hs_ossl.c). The caller's write and read move one datagram
 * each; the control answers what OpenSSL's DTLS code asks of a datagram BIO.
 * A library of its own so that both answer it the same way.
 *
 * Threads: a method is made on first use by the caller's thread; the
 * benchmark and the tests each use theirs from one thread.
 */
#ifndef STORMGATE_BENCH_DGRAM_BIO_H
#define STORMGATE_BENCH_DGRAM_BIO_H

#include <openssl/bio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A new BIO whose data (BIO_get_data()) is data, of the method *m: made on
 * first use from name, write and read, and kept in *m for the next ones (one
 * per program, never freed). The caller frees the BIO (SSL_free() does it
 * for an SSL's). NULL when OpenSSL is out of memory.
 */
BIO *sg_bench_dgram_bio_new(BIO_METHOD **m, const char *name,
                            int (*write)(BIO *b, const char *buf, int len),
                            int (*read)(BIO *b, char *buf, int len), void *data);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_BENCH_DGRAM_BIO_H */
