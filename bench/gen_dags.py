#!/usr/bin/env python3
"""Generate DAG files (and equivalent Makefiles) for bench/run.sh.

Deterministic (fixed seeds), standard library only.

  gen_dags.py many DIR N TASKS     N realistic DAG files of TASKS tasks each in DIR
  gen_dags.py big FILE TASKS       one layered DAG of TASKS tasks (1-3 depends each)
  gen_dags.py wide DIR N           W1: N independent tasks          -> DIR/w1.yaml, DIR/w1.mk
  gen_dags.py chain DIR N          W2: a chain of N tasks           -> DIR/w2.yaml, DIR/w2.mk
  gen_dags.py diamond DIR N        W3: 1 -> N -> 1 (fan-out/fan-in) -> DIR/w3.yaml, DIR/w3.mk

Every task of the exec workloads runs `true`; every Makefile target runs `true` too
(make execs /bin/true directly since the recipe has no shell metacharacters).
"""
import os
import random
import sys

SCHEDULES = [
    '"@daily"', '"@hourly"', '"*/15 * * * *"', '"0 3 * * *"', '"30 6 * * 1-5"',
    '"0 */4 * * *"', '"@weekly"', '"15 2 1 * *"', 'null',
]
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
VERBS = ["extract", "load", "clean", "join", "agg", "export", "check", "index", "copy", "report"]
NOUNS = ["orders", "users", "events", "sales", "logs", "stock", "prices", "clicks"]


def q(s):
    """YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def realistic_dag(rng, n, tasks):
    """One DAG of `tasks` tasks in the shape a real user writes."""
    out = []
    w = out.append
    w(f"id: dag_{n:05d}")
    w(f"description: {q('generated DAG %d for the validate benchmark' % n)}")
    w(f"schedule: {rng.choice(SCHEDULES)}")
    if rng.random() < 0.5:
        w(f"timezone: {rng.choice(TIMEZONES)}")
    w(f'start_date: "2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"')
    w(f"catchup: {rng.choice(['true', 'false'])}")
    if rng.random() < 0.3:
        w(f"max_active_runs: {rng.randint(1, 4)}")
    w(f"tags: [{rng.choice(NOUNS)}, generated]")
    # params: always `day` and `workers`; sometimes more
    w("params:")
    w(f"  workers: {{type: integer, default: {rng.randint(1, 8)}, minimum: 1, maximum: 64}}")
    w(f"  target: {q(rng.choice(['prod', 'staging', 'dev']))}")
    w(f"  dry_run: {rng.choice(['true', 'false'])}")
    if rng.random() < 0.5:
        w('  mode: {type: string, default: fast, enum: [fast, full]}')
    w("defaults:")
    w(f"  retries: {rng.randint(0, 3)}")
    w(f"  retry_delay: {rng.choice(['10s', '30s', '1m', '5m'])}")
    w(f"  timeout: {rng.choice(['10m', '1h', '2h'])}")
    w("tasks:")
    ids = []
    for i in range(tasks):
        tid = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_{i}"
        deps = []
        if ids:
            k = rng.choice([0, 1, 1, 1, 2, 2, 3]) if i > 1 else 1
            deps = sorted(set(rng.sample(ids[max(0, len(ids) - 8):], min(k, len(ids)))))
        form = rng.random()
        if not deps and form < 0.3:
            # short form
            w(f"  {tid}: echo {tid} ${{{{ params.target }}}} ${{{{ run.logical_date }}}}")
        else:
            w(f"  {tid}:")
            if deps:
                if len(deps) == 1 and rng.random() < 0.4:
                    w(f"    depends: {deps[0]}")
                else:
                    w(f"    depends: [{', '.join(deps)}]")
            pick = rng.random()
            if pick < 0.15 and deps:
                cmd = f"echo using ${{{{ outputs.{deps[0]} }}}} > \"$GUST_OUTPUT\""
            elif pick < 0.5:
                cmd = (f"./bin/{tid.split('_')[0]} --workers ${{{{ params.workers }}}}"
                       f" --date ${{{{ run.logical_date }}}} --target ${{{{ params.target }}}}")
            elif pick < 0.7:
                cmd = f"echo ${{{{ dag.id }}}}/${{{{ task.id }}}} run ${{{{ run.id }}}}"
            else:
                cmd = f"sleep 0 && echo {tid} done"
            if rng.random() < 0.25:
                w("    run: |")
                w(f"      set -e")
                w(f"      {cmd}")
            else:
                w(f"    run: {q(cmd)}")
            if rng.random() < 0.3:
                w(f"    retries: {rng.randint(1, 5)}")
                w(f"    retry_backoff: {rng.choice(['exponential', 'fixed'])}")
            if rng.random() < 0.2:
                w(f"    timeout: {rng.choice(['30s', '5m', '1h30m'])}")
            if rng.random() < 0.2:
                w("    env:")
                w(f"      TARGET: ${{{{ params.target }}}}")
                w(f"      DS: ${{{{ run.logical_date }}}}")
            if rng.random() < 0.1:
                w(f"    priority: {rng.randint(-10, 10)}")
            if rng.random() < 0.1:
                w(f"    trigger_rule: {rng.choice(['all_success', 'all_done', 'one_success'])}")
            if rng.random() < 0.1:
                w(f"    description: {q('step %d of %s' % (i, tid))}")
        ids.append(tid)
    return "\n".join(out) + "\n"


def gen_many(d, n, tasks):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(42)
    for i in range(n):
        with open(os.path.join(d, f"dag_{i:05d}.yaml"), "w") as f:
            f.write(realistic_dag(rng, i, tasks))


def gen_big(path, n):
    """Layered graph: layers of ~100 tasks; each task depends on 1-3 tasks of the previous
    one or two layers."""
    rng = random.Random(7)
    width = 100
    with open(path, "w") as f:
        f.write("id: big\ndescription: layered DAG for the validate benchmark\n")
        f.write('schedule: "@daily"\nparams:\n  n: 3\ntasks:\n')
        for i in range(n):
            layer = i // width
            f.write(f"  t{i}:\n")
            if layer == 0:
                f.write(f"    run: \"echo {i} ${{{{ params.n }}}}\"\n")
                continue
            lo = max(0, (layer - 2) * width)
            hi = layer * width
            k = rng.choice([1, 2, 2, 3])
            deps = sorted(set(rng.randrange(lo, hi) for _ in range(k)))
            f.write(f"    depends: [{', '.join('t%d' % d for d in deps)}]\n")
            f.write(f"    run: \"echo {i} ${{{{ params.n }}}}\"\n")


def write_pair(d, name, tasks):
    """tasks: list of (id, [deps]). Writes DIR/name.yaml and DIR/name.mk."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".yaml"), "w") as f:
        f.write(f"id: {name}\ntasks:\n")
        for tid, deps in tasks:
            if deps:
                f.write(f"  {tid}:\n    run: \"true\"\n    depends: [{', '.join(deps)}]\n")
            else:
                f.write(f"  {tid}: \"true\"\n")
    # Makefile: phony targets, recipe `true` (exec'd directly by make, no shell).
    sinks = set(t for t, _ in tasks)
    for _, deps in tasks:
        sinks.difference_update(deps)
    with open(os.path.join(d, name + ".mk"), "w") as f:
        f.write(".PHONY: all\nall: " + " ".join(sorted(sinks)) + "\n")
        f.write(".PHONY: " + " ".join(t for t, _ in tasks) + "\n")
        for tid, deps in tasks:
            f.write(f"{tid}: {' '.join(deps)}\n\ttrue\n")


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    kind = argv[1]
    if kind == "many":
        gen_many(argv[2], int(argv[3]), int(argv[4]))
    elif kind == "big":
        gen_big(argv[2], int(argv[3]))
    elif kind == "wide":
        n = int(argv[3])
        write_pair(argv[2], "w1", [(f"t{i}", []) for i in range(n)])
    elif kind == "chain":
        n = int(argv[3])
        write_pair(argv[2], "w2", [(f"t{i}", [f"t{i - 1}"] if i else []) for i in range(n)])
    elif kind == "diamond":
        n = int(argv[3])
        mids = [f"m{i}" for i in range(n)]
        write_pair(argv[2], "w3",
                   [("src", [])] + [(m, ["src"]) for m in mids] + [("sink", mids)])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
