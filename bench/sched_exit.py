#!/usr/bin/env python3
"""How long gust's attempt supervisors take to exit, from a sched_switch trace.

  perf record -a -g -e sched:sched_switch -o perf.data -- gust dags test ... --home H W2.yaml
  perf script -i perf.data -F comm,pid,time,trace,ip,sym > sched.txt
  find H -name supervisor -exec head -qn1 {} + | cut -d' ' -f1 > pids   # supervisor pids
  sched_exit.py sched.txt pids [SYMBOL]

For every supervisor pid it finds the first switch-out whose kernel stack contains SYMBOL
(default fsnotify_destroy_group: closing the inotify instance waits for an SRCU grace period)
and the switch-out where the process becomes a zombie, and prints the distribution of that
interval, the share of the traced wall time during which at least one supervisor is exiting,
and the most exiting at once. Whether that time delays the run depends on the executor: if it
waits to reap the supervisor before starting the next task, a chain pays it on every hop.
"""
import re
import sys


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    sym = argv[3] if len(argv) > 3 else "fsnotify_destroy_group"
    pids = {int(x.split()[0]) for x in open(argv[2]) if x.strip()}
    head = re.compile(r"\s(\d+)\s+([\d.]+):\s.*prev_pid=(\d+).*prev_state=(\S+) ==> .*next_pid=(\d+)")
    evs, cur = [], None
    for line in open(argv[1]):
        if line.strip() and not line[0].isspace():
            m = head.search(line)
            cur = None
            if m:
                cur = {"t": float(m.group(2)), "prev": int(m.group(3)), "st": m.group(4),
                       "next": int(m.group(5)), "stack": []}
                evs.append(cur)
        elif cur is not None and line.strip():
            cur["stack"].append(line.split()[-1])
    first, last = {}, {}
    seen = [evs[0]["t"], evs[-1]["t"]] if evs else []
    for e in evs:
        p = e["prev"]
        if p not in pids:
            continue
        if p not in first and any(sym in s for s in e["stack"]):
            first[p] = e["t"]
        if p in first and e["st"] in ("Z", "X"):
            last[p] = e["t"]
    iv = sorted((first[p], last[p]) for p in first if p in last)
    if not iv or not seen:
        print(f"no supervisor exit went through {sym}")
        return 1
    d = sorted(b - a for a, b in iv)
    union, end = 0.0, -1.0
    for a, b in iv:
        if a > end:
            union += b - a
            end = b
        elif b > end:
            union += b - end
            end = b
    span = max(seen) - min(seen)
    q = lambda f: 1000 * d[min(len(d) - 1, int(f * len(d)))]
    # most supervisors exiting at the same time
    pts = sorted([(a, 1) for a, _ in iv] + [(b, -1) for _, b in iv])
    cur = peak = 0
    for _, k in pts:
        cur += k
        peak = max(peak, cur)
    print(f"{len(d)} of {len(pids)} supervisor exits blocked in {sym}; "
          f"block-to-zombie ms: median {q(0.5):.2f}, p10 {q(0.1):.2f}, p90 {q(0.9):.2f}, "
          f"sum {1000 * sum(d):.0f}; some supervisor is exiting during {union:.3f} s of the "
          f"{span:.3f} s traced ({100 * union / span:.0f}%), at most {peak} at once")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
