/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a port's devargs (config ports[].devargs) say: PCI device or vdev,
 * and the ethdev name DPDK gives it. Read by the EAL argv builder and by
 * the gateway's port set-up. Any thread; no state.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include "sg_config.h"

/* "0000:01:00.0" or "01:00.0" (then a ',' or the end). */
int sg_devargs_is_pci(const char *d)
{
	size_t i = 0, colons = 0, dots = 0;

	for (; d[i] != '\0' && d[i] != ','; i++) {
		if (d[i] == ':')
			colons++;
		else if (d[i] == '.')
			dots++;
		else if (!isxdigit((unsigned char)d[i]))
			return 0;
	}
	return i > 0 && (colons == 1 || colons == 2) && dots == 1;
}

int sg_devargs_name(const char *devargs, char *name, size_t len)
{
	size_t n = strcspn(devargs, ",");
	int colons = 0;

	for (size_t i = 0; i < n; i++)
		colons += devargs[i] == ':';
	int w = snprintf(name, len, "%s%.*s",
	                 sg_devargs_is_pci(devargs) && colons == 1 ? "0000:" : "", (int)n, devargs);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
