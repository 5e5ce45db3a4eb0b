#!/usr/bin/env python3
"""Function length audit, as TAP: every C (and C++) function of LIMIT or more
lines in control/, dataplane/ and bench/ is either on long_functions.txt (a
state machine or table that reads better whole, with the reason) or a test
failure. An allowlist row whose function is gone or now short fails too, so
the list says only what is true. A 'todo' row is a function still to split:
a TAP TODO (an expected failure) until it is, then a failure until the row
goes.

A brace-matching scan is enough: comments, strings and preprocessor lines are
blanked, then a '{' at file level (or inside a namespace, struct or class) opens
a function when the text before it ends in a parameter list and holds no '=';
an initialiser ('... = {') is data, not a function. A function's length runs
from the first line of its declaration to its closing brace.

    long_functions.py            TAP, for meson (suite unit)
    long_functions.py --list     every function of LIMIT+ lines, longest first
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

LIMIT = 80
TREES = ('control', 'dataplane', 'bench')
SOURCES = ('.c', '.h', '.cc')
ALLOWLIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'long_functions.txt')

# A literal or a comment, whichever starts first; raw strings are not used here.
LEXEME = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
PREPROC = re.compile(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', re.M)
# What may follow a C++ member function's parameter list.
QUALIFIERS = re.compile(r'(?:\s*\b(?:const|noexcept|override|final)\b)*\s*$')
CONTAINER = re.compile(r'^(?:.*\b(?:namespace|struct|class)\b[^()]*|extern\s+"")$', re.S)
IDENT = re.compile(r'([A-Za-z_~][\w:~]*)\s*$')


def blank(text):
    """text with comments, literals and preprocessor lines turned to spaces (newlines kept),
    so line numbers stay and no brace inside them counts."""
    def keep_lines(m):
        s = m.group(0)
        if s.startswith('"') or s.startswith("'"):
            return s[0] + re.sub(r'[^\n]', ' ', s[1:-1]) + s[-1]
        return re.sub(r'[^\n]', ' ', s)
    text = LEXEME.sub(keep_lines, text)
    return PREPROC.sub(keep_lines, text)


def close_paren(header):
    """Index of the '(' that matches header's last ')', or -1."""
    depth = 0
    for i in range(len(header) - 1, -1, -1):
        if header[i] == ')':
            depth += 1
        elif header[i] == '(':
            depth -= 1
            if depth == 0:
                return i
    return -1


def top_level(header, ch):
    """Whether ch stands in header outside every (), [] and <> pair."""
    depth = 0
    for c in header:
        if c in '([':
            depth += 1
        elif c in ')]':
            depth -= 1
        elif c == ch and depth == 0:
            return True
    return False


def function_name(header):
    """The function a declaration header names, or None when the header is no function's
    (an initialiser, a struct, an enum, a control statement)."""
    h = QUALIFIERS.sub('', header)
    if not h.endswith(')') or top_level(h, '='):
        return None
    # A constructor's initialiser list: the parameter list is the one before ' : '.
    m = re.search(r'\)\s*:(?!:)', h)
    if m:
        h = h[:m.start() + 1]
    i = close_paren(h)
    if i <= 0:
        return None
    m = IDENT.search(h[:i])
    if not m or m.group(1) in ('if', 'for', 'while', 'switch', 'return', 'sizeof'):
        return None
    return m.group(1)


def functions(path):
    """(name, first line, last line) of every function defined in path."""
    with open(path, encoding='utf-8', errors='replace') as f:
        text = blank(f.read())
    out = []
    stack = []  # one entry per open brace: 'container', 'other' or (name, first line)
    start = 0   # where the text before the next brace at this level starts
    for i, c in enumerate(text):
        if c == ';':
            if not stack or stack[-1] == 'container':
                start = i + 1
        elif c == '{':
            inside = stack and stack[-1] != 'container'
            if inside:
                stack.append('other')
                continue
            header = text[start:i]
            stripped = header.strip()
            name = function_name(stripped) if stripped else None
            if name:
                first = text.count('\n', 0, start + len(header) - len(header.lstrip())) + 1
                stack.append((name, first))
            elif CONTAINER.match(' '.join(stripped.split())) and '=' not in stripped:
                stack.append('container')
            else:
                stack.append('other')
            start = i + 1
        elif c == '}':
            if not stack:
                continue
            top = stack.pop()
            if isinstance(top, tuple):
                out.append((top[0], top[1], text.count('\n', 0, i) + 1))
            if not stack or stack[-1] == 'container':
                start = i + 1
    return out


def scan(root=ROOT, limit=LIMIT):
    """{'path:name': lines} of every function of limit or more lines under TREES."""
    found = {}
    for tree in TREES:
        for d, dirs, files in os.walk(os.path.join(root, tree)):
            dirs.sort()
            for f in sorted(files):
                if not f.endswith(SOURCES):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root)
                for name, first, last in functions(path):
                    n = last - first + 1
                    if n >= limit:
                        found[f'{rel}:{name}'] = max(n, found.get(f'{rel}:{name}', 0))
    return found


def allowlist(path=ALLOWLIST):
    """{'path:name': (kind, reason)} of the list: kind 'whole' for a function that reads
    better whole, 'todo' for one still to split (a row that starts with 'todo')."""
    rows = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            kind = 'whole'
            if line.startswith('todo '):
                kind, line = 'todo', line[5:].strip()
            key, _, why = line.partition(' ')
            rows[key] = (kind, why.strip())
    return rows


def self_test(check):
    """The scanner on a made-up file: a function, an initialiser, a struct with a member
    function, a prototype, braces in strings and comments."""
    import tempfile
    src = ('static const int tbl[] = {\n1,\n2,\n};\n'
           'struct s { int a; };\n'
           'int proto(int x);\n'
           'static int\nlong_one(int a, /* { */ const char *s)\n{\n'
           '\tconst char *t = "}{";\n\tif (a) {\n\t\treturn 1;\n\t}\n\treturn 0;\n}\n'
           'namespace {\nstruct R {\n\tint get() const\n\t{\n\t\treturn 1;\n\t}\n};\n}\n'
           'Foo::Foo(int a) : a_(a), b_(0)\n{\n}\n')
    with tempfile.NamedTemporaryFile('w', suffix='.cc', delete=False) as f:
        f.write(src)
    try:
        got = functions(f.name)
    finally:
        os.unlink(f.name)
    want = [('long_one', 7, 15), ('get', 18, 21), ('Foo::Foo', 24, 26)]
    check('the scanner finds functions (not initialisers, structs or prototypes) and their '
          'first and last lines', got == want, f'got {got}\nwant {want}')


def main():
    found = scan()
    if '--list' in sys.argv[1:]:
        for key, n in sorted(found.items(), key=lambda kv: -kv[1]):
            print(f'{n:5d} {key}')
        return 0
    tap = Tap()
    self_test(tap.check)
    allowed = allowlist()
    name = os.path.basename(ALLOWLIST)
    new = sorted(f'{k} ({found[k]} lines)' for k in found if k not in allowed)
    tap.check(f'no function of {LIMIT}+ lines in {", ".join(TREES)} but those on {name}',
              not new, 'split these, or list a table or state machine with the reason:\n'
              + '\n'.join(new))
    whole = {k: why for k, (kind, why) in allowed.items() if kind == 'whole'}
    stale = sorted(k for k in whole if k not in found)
    tap.check(f'every function {name} keeps whole has {LIMIT}+ lines', not stale,
              'gone or short now: remove the row\n' + '\n'.join(stale))
    bare = sorted(k for k, (_, why) in allowed.items() if not why)
    tap.check(f'every row of {name} says why', not bare, '\n'.join(bare))
    # A debt the list records: an expected failure until the function is split, then an
    # unexpected pass (a failure) until its row goes.
    for k, (kind, why) in sorted(allowed.items()):
        if kind == 'todo':
            tap.todo(f'{k} is split under {LIMIT} lines'
                     + (f' (now {found[k]})' if k in found else ''), k not in found, why)
    return tap.finish(footer=f'{len(found)} functions of {LIMIT}+ lines, '
                      f'{len(whole)} kept whole')


if __name__ == '__main__':
    sys.exit(main())
