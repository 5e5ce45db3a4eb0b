#!/usr/bin/env bash
# Lint: clang-format check (or --fix) and cppcheck over Stormgate's sources.
#   deploy/lint.sh SOURCE_ROOT [--fix]
set -euo pipefail
root=${1:?source root}
fix=${2:-}
cd "$root"
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cc' 2>/dev/null || find dataplane control include bench tests -name '*.[ch]' -o -name '*.cc')
if [ "$fix" = "--fix" ]; then
	clang-format -i "${files[@]}"
	exit 0
fi
status=0
clang-format --dry-run --Werror "${files[@]}" || status=1
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	--inline-suppr --suppress=missingIncludeSystem -Iinclude \
	dataplane control || status=1
exit $status
