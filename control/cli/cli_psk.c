/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PSK of `stormctl credentials add`: the first line of a key file, or
 * standard input (typed with echo off on a terminal). Never an argument: a
 * process's command line is readable by every user in /proc/PID/cmdline.
 * stormctl's one thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sg_cli.h"

int sg_cli_read_psk(const char *file, char *buf, size_t len)
{
	struct termios old, noecho;
	int tty, restore = 0;
	size_t n;

	if (file != NULL && strcmp(file, "-") != 0) {
		FILE *f = fopen(file, "re");

		if (f == NULL) {
			fprintf(stderr, "stormctl: --key-file %s: %s\n", file, strerror(errno));
			return -1;
		}
		if (fgets(buf, (int)len, f) == NULL)
			buf[0] = '\0';
		fclose(f);
		n = strcspn(buf, "\r\n");
		buf[n] = '\0';
		if (n == 0)
			fprintf(stderr, "stormctl: --key-file %s: no PSK on its first line\n",
			        file);
		return n > 0 ? 0 : -1;
	}
	tty = isatty(STDIN_FILENO);
	if (tty) {
		fprintf(stderr, "PSK (hex): ");
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0;
		}
	}
	if (fgets(buf, (int)len, stdin) == NULL)
		buf[0] = '\0';
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0)
		fprintf(stderr, "stormctl: no PSK on standard input\n");
	return n > 0 ? 0 : -1;
}
