/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-dtls-baseline's parts (bench/baseline_server/): the OpenSSL DTLS
 * 1.2 server a user would run instead of Stormgate, measured under the same
 * fleet (docs/fleet.md, "Baseline server").
 *
 *   bl_main.c     command line, set-up, the threads, statistics, summary  main thread
 *   bl_opts.c     the command line, checked                                main thread
 *   bl_creds.c    the credential CSV in a hash table (PSK lookups)         loaded by main,
 *                                                                          read by workers
 *   bl_tls.c      the SSL_CTX: suites, groups, PSK and cookie callbacks    main; callbacks
 *                                                                          on workers
 *   bl_bio.c      the datagram BIO: one received datagram in, sendto out   worker
 *   bl_table.c    a worker's clients by address, and their timers          worker
 *   bl_client.c   one client: its SSL through handshake, records, end      worker
 *   bl_backend.c  plaintext to the backend and its answers back            worker
 *   bl_worker.c   a worker's loop: epoll, datagrams, new clients, timers   worker
 *   bl_stats.c    the counters, their names and the JSON lines             workers count,
 *                                                                          main prints
 *
 * Threads: --threads workers, each with its own SO_REUSEPORT socket (the
 * kernel keeps a client's 4-tuple on one socket, so on one worker), epoll,
 * client table, timers and backend socket: nothing a worker touches per
 * datagram is shared but the read-only credentials and the SSL_CTX. The main
 * thread waits for signals and prints the counters workers publish with
 * relaxed atomic stores.
 */
#ifndef STORMGATE_BENCH_BASELINE_H
#define STORMGATE_BENCH_BASELINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#define BL_IDENTITY_MAX 128 /* docs/config.md, "Credential CSV" */
#define BL_PSK_MAX      64  /* bytes */
#define BL_THREADS_MAX  64
#define BL_SOURCES_MAX  64
#define BL_DGRAM_MAX    2048 /* largest datagram taken (records fit in one link MTU) */
#define BL_BATCH        32   /* datagrams per recvmmsg() */
#define BL_TOKEN_LEN    8    /* SG_PP2_TOKEN_LEN */

/* ---- options (bl_opts.c) ---- */

enum bl_backend_mode { BL_BACKEND_PROXY = 0, BL_BACKEND_UDP = 1 };

struct bl_opts {
	struct sockaddr_storage listen, backend;
	struct sockaddr_storage src[BL_SOURCES_MAX]; /* port 0 */
	unsigned n_src;
	enum bl_backend_mode mode;
	const char *creds_path, *ciphers;
	unsigned threads;
	uint64_t max_clients;
	uint64_t idle_timeout_s; /* 0: never */
	uint64_t hs_timeout_s;
	bool stats;
};

/* argv into *o: 0; 1 after --help; 2 on a usage error (said on stderr). */
int bl_opts_parse(int argc, char **argv, struct bl_opts *o);

socklen_t bl_sa_len(const struct sockaddr_storage *ss);

/* ---- credentials (bl_creds.c) ---- */

/* The CSV's enabled devices in an open-addressing table over one arena. */
struct bl_creds {
	uint8_t *arena; /* per device: id_len, key_len, identity, key */
	size_t arena_len, arena_cap;
	uint64_t *slots; /* arena offset + 1; 0: empty */
	size_t n_slots, n;
	uint64_t seed;
};

/*
 * Reads identity,psk_hex[,key_lifetime[,state]] rows (docs/config.md,
 * "Credential CSV"; blank, '#' and header lines skipped, disabled rows left
 * out, a repeated identity's last row wins) into *c. 0, or -errno with the
 * file and line of the first bad row on stderr. bl_creds_free() wipes.
 */
int bl_creds_load(const char *path, struct bl_creds *c);
void bl_creds_free(struct bl_creds *c);

/*
 * The key of identity (id_len bytes) into *key / *key_len, and the stored
 * identity (for the PROXY v2 header) into *stored; -ENOENT when unknown.
 * Any thread once loaded (read-only).
 */
int bl_creds_find(const struct bl_creds *c, const char *identity, size_t id_len,
                  const uint8_t **key, unsigned *key_len, const char **stored);

/* ---- counters (bl_stats.c) ---- */

enum bl_ctr {
	BL_DGRAMS_IN = 0,        /* from devices */
	BL_DGRAMS_OUT,           /* to devices */
	BL_BACKEND_OUT,          /* plaintext datagrams to the backend */
	BL_BACKEND_IN,           /* answers taken from it */
	BL_HS_COMPLETED,         /* handshakes completed */
	BL_HS_FAILED,            /* handshakes failed (alerts, timeouts, errors) */
	BL_HS_TIMEOUT,           /* ... of them: --hs-timeout passed (the device vanished) */
	BL_UNKNOWN_ID,           /* ... of them: PSK identity not in the CSV */
	BL_HELLO_VERIFY,         /* HelloVerifyRequests sent */
	BL_REPLACED,             /* a client's new handshake replaced its old one */
	BL_CLOSED_NOTIFY,        /* sessions the device ended with close_notify */
	BL_CLOSED_IDLE,          /* sessions ended by --idle-timeout */
	BL_CLOSED_ERROR,         /* sessions ended by a fatal record error */
	BL_DROP_JUNK,            /* from an unknown address, not a ClientHello */
	BL_DROP_SIZE,            /* too short for a DTLS record, or longer than BL_DGRAM_MAX */
	BL_DROP_MAX_CLIENTS,     /* --max-clients reached */
	BL_DROP_BACKEND_BAD,     /* an answer without a valid PROXY v2 header */
	BL_DROP_BACKEND_UNKNOWN, /* an answer for no live client */
	BL_DROP_BACKEND_FORGED,  /* an answer whose token is not the client's */
	BL_DROP_NO_PORT,         /* udp mode: no source port left for a client */
	BL_DROP_SEND,            /* a send that failed (buffer full, unreachable) */
	BL_CTR_MAX
};
#define BL_DROP_FIRST BL_DROP_JUNK

/* A worker's counters, written by it alone, read by the main thread. */
struct bl_counters {
	_Atomic uint64_t v[BL_CTR_MAX];
	_Atomic uint64_t clients; /* live */
};

static inline void bl_count(struct bl_counters *c, enum bl_ctr i)
{
	atomic_store_explicit(&c->v[i], atomic_load_explicit(&c->v[i], memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/*
 * One JSON line of the sums of n workers' counters (t: seconds since the
 * start; final: the summary, with "final": true) on out.
 */
void bl_stats_print(FILE *out, struct bl_counters *const *w, unsigned n, double t, bool final);

/* ---- the TLS context (bl_tls.c) ---- */

/* What every worker shares, read-only once the threads run. */
struct bl_shared {
	const struct bl_opts *o;
	SSL_CTX *ctx;
	struct bl_creds creds;
	_Atomic uint64_t clients; /* over all workers, against --max-clients */
	atomic_bool stop;
	int ex_worker; /* SSL ex_data index: the worker of a listener SSL */
};

/*
 * The DTLS 1.2 server context: --ciphers (default: the PSK and ECDHE-PSK AEAD
 * suites of Stormgate's list OpenSSL has, in its order), X25519 and P-256,
 * PSK from s->creds, cookies (bl_tls.c), tickets but no session cache,
 * buffers released while idle. 0 or -errno (said on stderr).
 */
int bl_tls_init(struct bl_shared *s);

/* ---- the datagram BIO (bl_bio.c) ---- */

struct bl_worker;

/* A worker's key for clients: address family, address and port. */
struct bl_addr {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* network byte order */
};

/* ss (AF_INET / AF_INET6) as a key, and back (its length). bl_table.c. */
void bl_addr_from_sa(struct bl_addr *a, const struct sockaddr_storage *ss);
socklen_t bl_addr_to_sa(const struct bl_addr *a, struct sockaddr_storage *ss);

/*
 * A BIO that reads back the one datagram bl_bio_feed() gave it, then says
 * "retry", and sends what OpenSSL writes to its peer on the worker's device
 * socket. NULL on allocation failure.
 */
BIO *bl_bio_new(struct bl_worker *w);
void bl_bio_feed(BIO *b, const struct bl_addr *peer, const uint8_t *d, size_t len);
/* Whether the BIO sent anything since the last bl_bio_feed(). */
bool bl_bio_wrote(BIO *b);
const struct bl_addr *bl_bio_peer(BIO *b);
void bl_bio_cleanup(void);

/* ---- clients (bl_table.c, bl_client.c) ---- */

enum bl_fd_kind { BL_FD_DEVICES = 1, BL_FD_BACKEND, BL_FD_CLIENT_BACKEND };

enum bl_state { BL_HANDSHAKE = 1, BL_ESTABLISHED, BL_DEAD };

struct bl_client {
	enum bl_fd_kind kind; /* BL_FD_CLIENT_BACKEND: first, the epoll tag */
	enum bl_state state;
	struct bl_addr addr;
	SSL *ssl;
	int be_fd;         /* udp mode: its connected backend socket; else -1 */
	uint32_t heap_idx; /* in the worker's timer heap */
	uint64_t deadline; /* the heap's key: its next timer, ns */
	uint64_t start_ns, last_ns;
	uint64_t handle; /* PROXY v2 unique id: worker, serial */
	uint8_t token[BL_TOKEN_LEN];
	const char *identity; /* in the credentials, once the PSK callback found it */
	uint8_t id_len;
	struct bl_client *next_dead;
};

/* A worker's clients: open addressing by address, and a min-heap of timers. */
struct bl_table {
	struct bl_client **slots;
	size_t n_slots, n;
	uint64_t seed;
	struct bl_client **heap;
	size_t heap_n, heap_cap;
};

int bl_table_init(struct bl_table *t);
void bl_table_free(struct bl_table *t);
struct bl_client *bl_table_find(const struct bl_table *t, const struct bl_addr *a);
/* Adds c (its address not yet in t) with its deadline; 0 or -ENOMEM. */
int bl_table_add(struct bl_table *t, struct bl_client *c);
void bl_table_del(struct bl_table *t, struct bl_client *c);
/* c's next timer is now deadline (ns; UINT64_MAX: none). */
void bl_table_set_deadline(struct bl_table *t, struct bl_client *c, uint64_t deadline);
/* The client whose timer is due by now, or NULL. */
struct bl_client *bl_table_due(const struct bl_table *t, uint64_t now);
/* The earliest deadline, UINT64_MAX when none. */
uint64_t bl_table_next(const struct bl_table *t);

/* ---- a worker (bl_worker.c) ---- */

struct bl_worker {
	enum bl_fd_kind kind_dev; /* epoll tags of its two sockets */
	enum bl_fd_kind kind_be;
	unsigned index;
	struct bl_shared *s;
	int dev_fd, be_fd, ep_fd; /* be_fd: proxy mode's backend socket */
	SSL *listener;            /* stateless cookie exchange (DTLSv1_listen) */
	struct bl_table table;
	struct bl_client *dead; /* freed after the epoll batch */
	uint64_t serial, now;
	unsigned next_src;
	uint8_t cookie_secret[2][32];
	uint8_t cookie_gen;
	uint64_t cookie_rotated;
	struct bl_counters ctr;
	BIO_ADDR *listen_peer;     /* DTLSv1_listen()'s out-parameter */
	uint8_t buf[BL_DGRAM_MAX]; /* plaintext from devices */
	uint8_t rx[BL_BATCH][BL_DGRAM_MAX];
	int rc; /* the thread's exit: 0 or -errno */
};

/* The worker's sockets, epoll and listener; 0 or -errno (said on stderr). */
int bl_worker_init(struct bl_worker *w, struct bl_shared *s, unsigned index);
/* Its thread: runs until s->stop. */
void *bl_worker_run(void *arg);
void bl_worker_free(struct bl_worker *w);

/* A new client at address a for the listener SSL that verified its cookie. */
struct bl_client *bl_client_new(struct bl_worker *w, const struct bl_addr *a, SSL *ssl);
/* A datagram from the client's device (already fed to its BIO). */
void bl_client_input(struct bl_worker *w, struct bl_client *c);
/* Its timer fired: retransmission, handshake or idle timeout. */
void bl_client_timer(struct bl_worker *w, struct bl_client *c);
/* Plaintext from the backend for the client's device. */
void bl_client_send(struct bl_worker *w, struct bl_client *c, const uint8_t *d, size_t len);
/*
 * Ends the client: counted under why (BL_CTR_MAX: not counted), close_notify
 * when it had a session and notify, out of the table; freed by
 * bl_client_reap() after the epoll batch (events may still name it).
 */
void bl_client_end(struct bl_worker *w, struct bl_client *c, enum bl_ctr why, bool notify);
void bl_client_reap(struct bl_worker *w);

/* bl_backend.c: the client's plaintext to the backend; answers back. */
int bl_backend_open(struct bl_worker *w, struct bl_client *c);
void bl_backend_forward(struct bl_worker *w, struct bl_client *c, const uint8_t *d, size_t len);
void bl_backend_proxy_input(struct bl_worker *w);
void bl_backend_udp_input(struct bl_worker *w, struct bl_client *c);

/* Cookie secrets of worker w (bl_tls.c): rotated every 30 s, two live. */
void bl_cookie_rotate(struct bl_worker *w, uint64_t now);

#endif /* STORMGATE_BENCH_BASELINE_H */
