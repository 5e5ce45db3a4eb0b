#!/usr/bin/env python3
"""No import circle between the files of the control plane (issue 13), as TAP.

The files of control/ and dataplane/ form a stack: each may call the ones
below it, never one above. Two readings of "calls", each a graph with an
edge from the file that uses to the file that provides, and every cycle
fails the test, printed as "file -> file: what" until it closes:

* symbols: what each object file of the build defines and what it uses
  (nm from binutils); an edge from the object using a symbol to the object
  defining it. Only global symbols: a static function is the file's own.
* includes: which of our headers each source and header includes; x.c and
  x.h (same folder) are one file here, the header being the .c's interface,
  so a .c including the header of a file that includes its own header is a
  circle too. This sees what nm cannot: inline functions, macros, structs.

    test_layers.py BUILD_ROOT [--cc COMPILER...]

Which objects: those of every static library and executable that a
meson.build under control/ or dataplane/ defines, read from the build's
introspection (meson-info/intro-targets.json), so a library added or renamed
is covered without a list kept here, and a stale file in the build directory
is never read. Which sources: every .c and .h under control/, dataplane/ and
include/. The trees are one graph (the control plane uses the data plane's
libraries; a use back would close a circle across them) reported per tree.

With --cc, the test first plants a cycle (two objects calling each other,
in an archive; two files including each other's header) and checks that
both readings find it, so a broken parse cannot pass as "no cycle".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from sgtest import ROOT  # noqa: E402
from sgtest.tap import Tap  # noqa: E402

TREES = ('control', 'dataplane')
HEADER_TREES = TREES + ('include',)

# "<file or archive:member>:<value> <type> <name>"; an undefined symbol has no value.
NM_LINE = re.compile(r'^(?P<obj>.+):(?:[0-9a-fA-F]+)? +(?P<type>[A-Za-z?]) (?P<name>\S+)$')


def nm(args, path):
    """(object path, symbol) pairs nm prints for path (an archive or an object)."""
    out = subprocess.run(['nm', '-A'] + args + [path], check=True, capture_output=True,
                         text=True).stdout
    pairs = []
    for line in out.splitlines():
        m = NM_LINE.match(line)
        if not m:
            continue
        obj = m.group('obj')
        # An archive's lines name "archive:member"; meson's thin archives
        # hold the objects' paths as member names.
        if obj.startswith(path + ':'):
            obj = obj[len(path) + 1:]
        pairs.append((obj, m.group('name')))
    return pairs


def read_symbols(paths):
    """defs: symbol -> objects defining it; uses: object -> symbols it needs."""
    defs, uses = {}, {}
    for p in paths:
        for obj, sym in nm(['-g', '--defined-only'], p):
            defs.setdefault(sym, set()).add(obj)
            uses.setdefault(obj, set())
        for obj, sym in nm(['-u'], p):
            uses.setdefault(obj, set()).add(sym)
    return defs, uses


def edges_of(defs, uses):
    """user -> {definer: the first symbol (sorted) that makes the edge}."""
    graph = {o: {} for o in uses}
    for obj, syms in uses.items():
        for sym in sorted(syms):
            for d in defs.get(sym, ()):
                if d != obj and d not in graph[obj]:
                    graph[obj][d] = sym
    return graph


def components(graph):
    """Strongly connected components with more than one object (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def one_cycle(graph, comp):
    """A shortest cycle through the first object of comp, inside comp (BFS)."""
    start, members = comp[0], set(comp)
    prev, queue = {start: None}, [start]
    for v in queue:
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                return path + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def describe(graph, comp, name):
    """One cycle of comp as "a -> b: why" lines, then the rest of comp."""
    cyc = one_cycle(graph, comp)
    lines = [f'{name(a)} -> {name(b)}: {graph[a][b]}' for a, b in zip(cyc, cyc[1:])]
    rest = [name(o) for o in comp if o not in cyc]
    if rest:
        lines.append('also in this circle: ' + ', '.join(rest))
    return '\n'.join(lines)


INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def include_graph(root, trees):
    """unit -> {unit: the include line}, a unit being x.c and x.h of one folder."""
    files = []
    for tree in trees:
        for d, _, fs in os.walk(os.path.join(root, tree)):
            files += [os.path.relpath(os.path.join(d, f), root) for f in fs
                      if f.endswith(('.c', '.h'))]
    known, by_base = set(files), {}
    for f in files:
        if f.endswith('.h'):
            by_base.setdefault(os.path.basename(f), []).append(f)
    unit = lambda f: os.path.splitext(f)[0]  # noqa: E731
    graph = {unit(f): {} for f in files}
    for f in sorted(files):
        with open(os.path.join(root, f), encoding='utf-8', errors='replace') as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            # As the compiler looks: the including file's folder, then
            # include/ (stormgate/x.h), then a folder whose _dep exports it
            # (a header name found once in the trees).
            here = os.path.normpath(os.path.join(os.path.dirname(f), inc))
            if here in known:
                target = here
            elif os.path.exists(os.path.join(root, 'include', inc)):
                target = os.path.join('include', inc)
            elif len(by_base.get(inc, [])) == 1:
                target = by_base[inc][0]
            else:
                continue  # a system or generated header
            if unit(target) != unit(f) and unit(target) in graph:
                graph[unit(f)].setdefault(unit(target), f'{os.path.basename(f)} includes {inc}')
    return graph


def unit_name(root):
    """x.{c,h} when both exist, else the one file."""
    def name(u):
        ext = [e for e in ('c', 'h') if os.path.exists(os.path.join(root, f'{u}.{e}'))]
        return f'{u}.{{c,h}}' if len(ext) == 2 else f'{u}.{ext[0]}' if ext else u
    return name


def mangled(src, subdir):
    """The object name meson gives source src of a target defined in subdir."""
    return os.path.relpath(src, subdir).replace(os.sep, '_') + '.o'


def targets(build):
    """Files nm reads, and object path -> source path relative to the source tree."""
    with open(os.path.join(build, 'meson-info', 'intro-targets.json'), encoding='utf-8') as f:
        intro = json.load(f)
    src_root = os.path.realpath(ROOT)
    paths, names, missing = [], {}, []
    for t in intro:
        subdir = os.path.dirname(os.path.realpath(t['defined_in']))
        rel = os.path.relpath(subdir, src_root)
        if rel.split(os.sep)[0] not in TREES or t['type'] not in ('static library',
                                                                     'executable'):
            continue
        out = t['filename'][0]
        sources = [s for ts in t['target_sources'] for s in ts.get('sources', [])
                   if s.endswith('.c')]
        objdir = os.path.relpath(out + '.p', build)
        for s in sources:
            obj = os.path.join(objdir, mangled(os.path.realpath(s), subdir))
            names[obj] = os.path.relpath(os.path.realpath(s), src_root)
        if t['type'] == 'static library':
            if os.path.exists(out):
                paths.append(os.path.relpath(out, build))
            else:
                missing.append(out)
        else:
            for s in sources:
                obj = os.path.join(objdir, mangled(os.path.realpath(s), subdir))
                if os.path.exists(os.path.join(build, obj)):
                    paths.append(obj)
                else:
                    missing.append(obj)
    return paths, names, missing


def plant(d, cc):
    """Three sources in d: up.c and down.c call each other and include each
    other's header; leaf.c is called by both. Compiled with cc and archived."""
    src = {'up.h': 'int up(int x);\n',
           'down.h': 'int down(int x);\n',
           'leaf.h': 'int leaf(void);\n',
           'up.c': '#include "up.h"\n#include "down.h"\n#include "leaf.h"\n'
                   'int up(int x) { return x ? down(x - 1) : leaf(); }\n',
           'down.c': '#include "down.h"\n#include "up.h"\n#include "leaf.h"\n'
                     'int down(int x) { return up(x) + leaf(); }\n',
           'leaf.c': '#include "leaf.h"\nint leaf(void) { return 1; }\n'}
    for n, text in src.items():
        with open(os.path.join(d, 'planted', n), 'w', encoding='utf-8') as f:
            f.write(text)
    objs = []
    for n in ('up.c', 'down.c', 'leaf.c'):
        objs.append(n + '.o')
        subprocess.run(cc + ['-c', '-o', os.path.join(d, n + '.o'),
                             os.path.join(d, 'planted', n)], check=True)
    subprocess.run(['ar', 'rcs', 'libplanted.a'] + objs, cwd=d, check=True)


def self_check(tap, cc):
    """A planted cycle: both readings must find it, and only it."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, 'planted'))
        plant(d, cc)
        old = os.getcwd()
        os.chdir(d)
        try:
            graph = edges_of(*read_symbols(['libplanted.a']))
        finally:
            os.chdir(old)
        comps = components(graph)
        text = '\n'.join(describe(graph, c, str) for c in comps)
        tap.check('symbols: a planted cycle (up.c <-> down.c) is found and printed',
                  comps == [['down.c.o', 'up.c.o']] and 'down.c.o -> up.c.o: up' in text and
                  'up.c.o -> down.c.o: down' in text and 'leaf.c.o' in graph['up.c.o'],
                  text or 'no cycle found')
        graph = include_graph(d, ['planted'])
        comps = components(graph)
        text = '\n'.join(describe(graph, c, unit_name(d)) for c in comps)
        tap.check('includes: a planted cycle (up <-> down) is found and printed',
                  comps == [['planted/down', 'planted/up']] and
                  'planted/up.{c,h} -> planted/down.{c,h}: up.c includes down.h' in text,
                  text or 'no cycle found')


def report(tap, what, graph, name, trees):
    """One check per tree: no circle holds a file of it."""
    comps = components(graph)
    for tree in trees:
        mine = [c for c in comps if any(name(o).startswith(tree + '/') for o in c)]
        tap.check(f'{what}: no import circle between the files of {tree}/', not mine,
                  '\n\n'.join(describe(graph, c, name) for c in mine))


def main(argv):
    tap = Tap(detail_lines=60)
    build = os.path.realpath(argv[1])
    if '--cc' in argv:
        self_check(tap, argv[argv.index('--cc') + 1:])
    paths, names, missing = targets(build)
    tap.check('every library and program of control/ and dataplane/ is built', not missing,
              '\n'.join(missing))
    os.chdir(build)
    graph = edges_of(*read_symbols(paths))
    n_edges = sum(len(v) for v in graph.values())
    tap.check(f'symbols: the objects were read ({len(graph)} objects, {n_edges} edges)',
              len(graph) >= 20 and n_edges >= 20, f'{len(graph)} objects, {n_edges} edges')
    # An object whose source is unknown keeps its own path.
    report(tap, 'symbols', graph, lambda o: names.get(o, o), TREES)
    graph = include_graph(ROOT, HEADER_TREES)
    n_edges = sum(len(v) for v in graph.values())
    tap.check(f'includes: the sources were read ({len(graph)} files, {n_edges} edges)',
              len(graph) >= 20 and n_edges >= 20, f'{len(graph)} files, {n_edges} edges')
    report(tap, 'includes', graph, unit_name(ROOT), HEADER_TREES)
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
