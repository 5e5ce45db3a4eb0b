/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main() for a fuzz target built without libFuzzer (gcc): replay every file
 * of the corpus directories (or files) given as arguments through
 * LLVMFuzzerTestOneInput, so CI runs the corpus under ASan+UBSan with any
 * compiler. Prints TAP: one line per argument.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0;

	printf("1..%d\n", argc - 1);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		unsigned files = 0;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;

			while (d && (de = readdir(d)) != NULL) {
				char path[4096];

				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
				if (replay_file(path) == 0)
					files++;
			}
			if (d)
				closedir(d);
		} else if (replay_file(argv[i]) == 0) {
			files++;
		}
		/* An empty corpus replays nothing: that is a failure, not a pass. */
		printf("%s %d - %s: %u inputs\n", files ? "ok" : "not ok", i, argv[i], files);
		failed |= files == 0;
	}
	/* Also the empty input. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	return failed;
}
