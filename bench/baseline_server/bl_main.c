/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-dtls-baseline: the OpenSSL DTLS 1.2 server a user would run
 * instead of Stormgate, written as a competent user would write it with
 * OpenSSL 3.0's libssl, and measured under the same fleet (docs/fleet.md,
 * "Baseline server"; issue 14).
 *
 *   stormgate-dtls-baseline --credentials FILE.csv [--listen ADDR:PORT]
 *       [--threads N] [--backend ADDR:PORT] [--backend-mode proxy|udp]
 *       [--source ADDR[,...]] [--max-clients N] [--idle-timeout D]
 *       [--hs-timeout D] [--ciphers LIST] [--stats]
 *
 * The main thread loads the credential CSV, makes the SSL_CTX and the
 * workers, says "ready" on stderr once every socket is bound, then waits
 * for SIGINT / SIGTERM (blocked in every thread, taken here by
 * sigtimedwait), printing a JSON line of counters a second with --stats. On
 * the signal the workers stop (close_notify to every client), the summary
 * line ("final": true) is printed, everything is freed, keys wiped, exit 0.
 * Exit 1 when it could not run (credentials, sockets), 2 on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/err.h>

#include <stormgate/time.h>

#include "baseline.h"

/*
 * udp mode: a socket per client, so descriptors for max_clients and some to
 * spare. The soft limit goes up to that; as root (CAP_SYS_RESOURCE) the hard
 * limit too, up to fs.nr_open. Says so when it stays below what was asked.
 */
static void raise_nofile(uint64_t max_clients)
{
	uint64_t want = max_clients + 1024, nr_open = 1048576;
	struct rlimit r;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f != NULL) {
		if (fscanf(f, "%" SCNu64, &nr_open) != 1)
			nr_open = 1048576;
		fclose(f);
	}
	if (want > nr_open)
		want = nr_open;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= want)
		return;
	if (r.rlim_max < want) {
		struct rlimit up = { .rlim_cur = want, .rlim_max = want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	r.rlim_cur = r.rlim_max < want ? r.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &r);
	if (r.rlim_cur < want)
		fprintf(stderr,
		        "stormgate-dtls-baseline: warning: %" PRIu64
		        " descriptors allowed, %" PRIu64
		        " wanted for --max-clients in udp mode: clients past it are refused\n",
		        (uint64_t)r.rlim_cur, want);
}

static int load(struct sg_bl_shared *s)
{
	uint64_t t0 = sg_mono_ns();
	int rc = sg_bl_creds_load(s->o->creds_path, &s->creds);

	if (rc != 0)
		return rc;
	fprintf(stderr, "stormgate-dtls-baseline: %zu credentials loaded in %.2f s\n", s->creds.n,
	        (double)(sg_mono_ns() - t0) / 1e9);
	return sg_bl_tls_init(s);
}

/* n workers made and their threads started; how many run in *started. */
static int start(struct sg_bl_shared *s, struct sg_bl_worker **w, pthread_t *tid, unsigned *started)
{
	unsigned i;
	int rc;

	for (i = 0; i < s->o->threads; i++) {
		w[i] = calloc(1, sizeof(*w[i]));
		if (w[i] == NULL)
			return -ENOMEM;
		rc = sg_bl_worker_init(w[i], s, i);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < s->o->threads; i++) {
		rc = pthread_create(&tid[i], NULL, sg_bl_worker_run, w[i]);
		if (rc != 0)
			return -rc;
		*started = i + 1;
	}
	return 0;
}

/* Until SIGINT or SIGTERM: a JSON line a second with --stats. */
static void wait_stop(struct sg_bl_shared *s, struct sg_bl_worker **w, const sigset_t *sigs,
                      uint64_t t0)
{
	struct sg_bl_counters *ctr[SG_BL_THREADS_MAX];
	struct timespec one = { .tv_sec = 1 };
	uint64_t next = t0 + SG_NS_PER_SEC;
	unsigned i;

	for (i = 0; i < s->o->threads; i++)
		ctr[i] = &w[i]->ctr;
	for (;;) {
		uint64_t now = sg_mono_ns();

		if (now >= next) {
			if (s->o->stats)
				sg_bl_stats_print(stdout, ctr, s->o->threads,
				                  (double)(now - t0) / 1e9, false);
			next += SG_NS_PER_SEC * ((now - next) / SG_NS_PER_SEC + 1);
		}
		one.tv_sec = 0;
		one.tv_nsec = (long)(next - now < SG_NS_PER_SEC ? next - now : SG_NS_PER_SEC - 1);
		if (sigtimedwait(sigs, NULL, &one) > 0)
			return;
	}
}

static void finish(struct sg_bl_shared *s, struct sg_bl_worker **w, uint64_t t0)
{
	struct sg_bl_counters *ctr[SG_BL_THREADS_MAX];
	unsigned i;

	for (i = 0; i < s->o->threads; i++)
		ctr[i] = &w[i]->ctr;
	sg_bl_stats_print(stdout, ctr, s->o->threads, (double)(sg_mono_ns() - t0) / 1e9, true);
}

int main(int argc, char **argv)
{
	static struct sg_bl_worker *w[SG_BL_THREADS_MAX];
	pthread_t tid[SG_BL_THREADS_MAX];
	struct sg_bl_opts o;
	struct sg_bl_shared s = { .o = &o, .ex_worker = -1 };
	unsigned started = 0, i;
	sigset_t sigs;
	uint64_t t0;
	int rc;

	rc = sg_bl_opts_parse(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the workers inherit it */
	signal(SIGPIPE, SIG_IGN);
	if (o.mode == SG_BL_BACKEND_UDP)
		raise_nofile(o.max_clients);
	rc = load(&s);
	if (rc == 0)
		rc = start(&s, w, tid, &started);
	t0 = sg_mono_ns();
	if (rc == 0) {
		fprintf(stderr, "stormgate-dtls-baseline: ready: %u worker(s), backend mode %s\n",
		        o.threads, o.mode == SG_BL_BACKEND_UDP ? "udp" : "proxy");
		wait_stop(&s, w, &sigs, t0);
	}
	atomic_store(&s.stop, true);
	for (i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		if (w[i]->rc != 0 && rc == 0)
			rc = w[i]->rc;
	}
	if (started == o.threads)
		finish(&s, w, t0);
	if (rc != 0)
		fprintf(stderr, "stormgate-dtls-baseline: %s\n", strerror(-rc));
	for (i = 0; i < o.threads; i++) {
		if (w[i] != NULL)
			sg_bl_worker_free(w[i]);
		free(w[i]);
	}
	SSL_CTX_free(s.ctx);
	sg_bl_bio_cleanup();
	sg_bl_creds_free(&s.creds);
	return rc == 0 ? 0 : 1;
}
