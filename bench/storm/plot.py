"""DIR/SCENARIO.png: handshakes/s, goodput (answers/s) and connected devices over
time, one panel per run of the scenario, drawn by gnuplot (Debian's gnuplot-nox,
its pngcairo terminal). The script and the data go to gnuplot's standard input
as datablocks, so nothing but the PNG is written.

Run by bench/storm/storm.py's one thread.
"""
import shutil
import subprocess

PANEL_HEIGHT = 340


def _rows(series):
    """Data rows; the daemon's admission refusals (a total) as a rate between samples."""
    prev = None
    for p in series:
        refused = (p.get('daemon') or {}).get('admission_refused')
        rate = 'NaN'
        if refused is not None and prev is not None and p.get('t', 0) > prev[0]:
            rate = max(0, refused - prev[1]) / (p['t'] - prev[0])
        if refused is not None:
            prev = (p.get('t', 0), refused)
        yield [p.get('t', 0), p.get('handshakes_per_s', 0), p.get('answers_per_s', 0),
               p.get('connected', 0), rate]


def top_connected(panels):
    """The right axis' top: 10 % above the most devices connected, so the line
    stays clear of the frame."""
    most = max((p.get('connected', 0) for _, series, _ in panels for p in series), default=0)
    return max(10, round(most * 1.1))


def script(title, panels, png):
    """The gnuplot script drawing panels, a list of (name, series, marks) with
    marks a list of (t, label) drawn as vertical lines, into png. The daemon's
    admission refusals are drawn in a panel where it refused any."""
    out = [f'set terminal pngcairo noenhanced size 1000,{PANEL_HEIGHT * max(1, len(panels)) + 40} '
           'font ",9"', f'set output "{png}"']
    for i, (_, series, _) in enumerate(panels):
        out.append(f'$run{i} << EOD')
        out += [' '.join(str(v) for v in r) for r in _rows(series)]
        out.append('EOD')
    out += [f'set multiplot layout {max(1, len(panels))},1 title "{title}"',
            'set grid', 'set key outside top center horizontal', 'set xlabel "seconds"',
            'set ylabel "per second"', 'set y2label "connected devices"',
            'set ytics nomirror', 'set y2tics', 'set yrange [0:*]',
            f'set y2range [0:{top_connected(panels)}]']
    for i, (name, series, marks) in enumerate(panels):
        out.append('unset arrow')
        for t, label in marks:
            out.append(f'set arrow from {t}, graph 0 to {t}, graph 1 nohead dt 2 lc "gray40"')
            out.append(f'set label "{label}" at {t}, graph 0.95 left offset 0.5,0')
        out.append(f'set title "{name}"')
        refused = any((p.get('daemon') or {}).get('admission_refused') for p in series)
        out.append(f'plot $run{i} using 1:2 with lines lw 2 title "handshakes/s", '
                   f'$run{i} using 1:3 with lines lw 2 title "goodput (answers/s)", '
                   f'$run{i} using 1:4 axes x1y2 with lines lw 2 dt 3 title "connected"'
                   + (f', $run{i} using 1:5 with lines lw 1 title "admission refused/s"'
                      if refused else ''))
        out.append('unset label')
    out.append('unset multiplot')
    return '\n'.join(out) + '\n'


def draw(title, panels, png, timeout=60):
    """Draw panels into png with gnuplot; 0 or -errno (-ENOENT without gnuplot)."""
    exe = shutil.which('gnuplot')
    if exe is None:
        return -2
    r = subprocess.run([exe], input=script(title, panels, png), text=True,
                       capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f'gnuplot: exit {r.returncode}: {r.stderr.strip()[:2000]}')
    return 0
