#!/usr/bin/env python3
"""The results table of docs/storms.md from SCENARIO.json files: one Markdown row
each, in the table's column order, so the large runs fill the table the same way
the small ones did.

    python3 bench/storm/table.py storm-results/*/*.json [--note 'what else ran']

Reads only the files it is given; prints the rows on stdout.
"""
import argparse
import json
import sys

HEADER = ('| scenario | N | kx | server | connected | s to all connected | peak hs/s | '
          'capacity hs/s | goodput ratio, or the scenario\'s figure | RTT p99 ms | '
          'misdelivered (all runs) | nonce reuse (all runs) | '
          'date, what else ran |')


def num(v, digits=0):
    """A number as the table writes it (thousands separated), '—' for none."""
    if v is None:
        return '—'
    if isinstance(v, float) and digits:
        return f'{v:,.{digits}f}'
    return f'{round(v):,}' if isinstance(v, (int, float)) else str(v)


def figure(doc):
    """The scenario's own figure for the goodput column."""
    sc = doc.get('scenario')
    if sc == 'overload':
        off = f'{num(doc.get("goodput_ratio_admission_off"), 2)} off'
        if doc.get('admission_policy') is None:  # the baseline has no admission
            return off
        return f'{num(doc.get("goodput_ratio"), 2)} on, {off}'
    if sc == 'expiry':
        rk = doc.get('rekey') or {}
        return 'peak/mean ' + ' / '.join(f'{num((v or {}).get("peak_to_mean"), 2)} ({k})'
                                         for k, v in sorted(rk.items()))
    if sc == 'restart':
        r = doc.get('restart') or {}
        out = (f'full goodput after {num(r.get("seconds_to_full_goodput"), 1)} s; '
               f'sessions survived: {"yes" if r.get("sessions_survived") else "no"}')
        if r.get('kind'):  # issue 15's figures, from the runs that name their kind
            out = (f'{r["kind"]}: {out}; {num(r.get("handshakes_after_restart"), 0)} '
                   f'handshakes after, {num(r.get("requests_lost"), 0)} requests lost')
        return out
    if sc == 'steady':
        return f'loss {num(doc.get("loss"), 4)}'
    return '—'


def worst(doc, key):
    """The largest value of key over every run of the scenario (misdelivered and
    nonce_reuse must be 0 in all of them, not only in the headline run)."""
    values = [r.get(key) for r in (doc.get('runs') or {}).values()] + [doc.get(key)]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def row(doc, note=''):
    opts = doc.get('options') or {}
    return '| ' + ' | '.join([
        doc.get('scenario', '?'), num(doc.get('devices')), opts.get('kx', '?'),
        doc.get('server', '?') + ('' if opts.get('link', 'memif') == 'memif'
                                  else f' ({opts.get("link")})'),
        num(doc.get('connected')), num(doc.get('seconds_to_all_connected'), 2),
        num(doc.get('peak_handshakes_per_s')), num(doc.get('capacity_handshakes_per_s')),
        figure(doc), num(doc.get('rtt_p99_ms'), 1), num(worst(doc, 'misdelivered')),
        num(worst(doc, 'nonce_reuse')), ', '.join(x for x in ((doc.get('date') or '')[:10], note)
                                               if x)]) + ' |'


def main(argv):
    p = argparse.ArgumentParser(description='docs/storms.md rows from SCENARIO.json files')
    p.add_argument('files', nargs='+')
    p.add_argument('--note', default='', help='what else ran on the machine')
    a = p.parse_args(argv)
    print(HEADER)
    print('|' + '---|' * HEADER.count(' | ') + '---|')
    for path in a.files:
        with open(path, encoding='utf-8') as f:
            print(row(json.load(f), a.note))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
