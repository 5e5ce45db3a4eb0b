"""TAP output for the Python integration and end-to-end tests (meson reads it).

    from sgtest.tap import Tap
    t = Tap()
    t.check('the daemon starts', ok, detail)   # returns ok
    t.skip('IPv6', 'no IPv6 here')
    t.todo('a known debt is paid', ok, why)    # TAP TODO: meson fails it once it passes
    sys.exit(t.finish())                        # prints the plan and the results
"""
import sys


class Tap:
    def __init__(self, detail_lines=40, progress=False):
        self.results = []
        self.detail_lines = detail_lines
        self.progress = progress  # also say each result on stderr as it comes

    def check(self, name, ok, detail=''):
        self.results.append((name, bool(ok), detail))
        if self.progress:
            sys.stderr.write(f'{"ok" if ok else "NOT OK"}: {name}\n')
            sys.stderr.flush()
        return bool(ok)

    def skip(self, name, why):
        self.results.append((name, None, why))

    def todo(self, name, ok, why):
        """A check known to fail until a debt is paid: 'not ok ... # TODO why' (an expected
        failure); once it passes, meson counts the TODO's pass as unexpected, which fails the
        test until the TODO is removed."""
        self.results.append((name, 'todo' if not ok else 'todo-ok', why))

    def finish(self, footer=None):
        """Print everything; 1 if a check failed or none ran, else 0."""
        print(f'1..{len(self.results)}')
        failed = 0
        for i, (name, ok, detail) in enumerate(self.results, 1):
            if ok is None:
                print(f'ok {i} - {name} # SKIP {detail}')
                continue
            if ok in ('todo', 'todo-ok'):
                print(f'{"ok" if ok == "todo-ok" else "not ok"} {i} - {name} # TODO {detail}')
                failed += ok == 'todo-ok'
                continue
            print(f'{"ok" if ok else "not ok"} {i} - {name}')
            if not ok:
                failed += 1
                for line in str(detail).splitlines()[:self.detail_lines]:
                    print(f'#   {line}')
        if footer:
            print(f'# {footer}')
        sys.stdout.flush()
        return 1 if failed or not self.results else 0
