/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only program, built with ASan+UBSan whatever the build's own flags:
 * it commits the error its argument names, so that test_sanitizer_check.py
 * can show the daemon tests' sanitizer check fails on a real report.
 *   sanitizer_trigger clean | use-after-free | leak | overflow | shift
 * Values come from argv so that the compiler cannot fold the errors away.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep; /* the leak: overwritten, so nothing points to the block */

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "clean";
	int n = argc; /* 2 when called with one argument */

	if (strcmp(what, "clean") == 0) {
		char *p = malloc(16);

		if (p == NULL)
			return 1;
		p[0] = 'x';
		printf("clean %c\n", p[0]);
		free(p);
		return 0;
	}
	if (strcmp(what, "use-after-free") == 0) {
		char *volatile p = malloc((size_t)n * 8); /* volatile: GCC sees no use after free */

		if (p == NULL)
			return 1;
		free(p);
		return p[n]; /* heap-use-after-free */
	}
	if (strcmp(what, "leak") == 0) {
		keep = malloc((size_t)n * 100);
		keep = NULL; /* LeakSanitizer reports it at exit */
		return 0;
	}
	if (strcmp(what, "overflow") == 0) {
		int big = INT_MAX - 1 + n / 2; /* INT_MAX */

		printf("%d\n", big + n); /* signed integer overflow */
		return 0;
	}
	if (strcmp(what, "shift") == 0) {
		printf("%d\n", 1 << (n + 40)); /* shift exponent too large */
		return 0;
	}
	fprintf(stderr, "usage: sanitizer_trigger clean|use-after-free|leak|overflow|shift\n");
	return 2;
}
