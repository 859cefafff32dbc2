#!/usr/bin/env python3
"""Benchmarks of `gust server` (the scheduler daemon), for `bench/run.sh server`.

  server_bench.py GUST WORK [--quick]

GUST is the binary, WORK an empty folder for DAG folders and homes (the caller removes it).
Prints markdown tables on stdout, progress on stderr. Exits 1 if a sanity check fails (a run
missing or not successful, a wrong number of outcome files, a server that does not start or
stop). Standard library only.

1. midnight: N DAG files, schedule "@daily", two `true` tasks each (a -> b). The server starts
   with --now 3 s before midnight and --parallelism 32; from its log (server clock) and its
   store: when the last run was created, when that run started and when its first task
   started, when all N runs succeeded. Median of 3, a fresh home each.
2. idle: the same N DAGs, --now at noon (nothing due for 12 h): the server's CPU time over
   60 s, from /proc/PID/stat (utime + stime, in clock ticks) and /proc/PID/schedstat (ns).
3. e2e: W1 (10,000 independent `true` tasks) and W2 (a chain of 1,000) as one scheduled run
   (schedule "@daily", end_date = the logical date, --now 1 s before midnight, parallelism 2):
   time from the run's "started" log line to its "success" line; against `gust dags test
   --parallelism 2 --quiet` on the same tasks in the same invocation (process wall time).
   BENCH_DURABILITY="normal full" runs the server once per durability (config.yaml) in each
   repetition and prints the ratio of their medians.
"""
import datetime
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

MIDNIGHT = "2024-03-01T00:00:00Z"
MIDNIGHT_MS = 1709251200000


def log(msg):
    sys.stderr.write(f"[server bench] {msg}\n")
    sys.stderr.flush()


def die(msg):
    sys.stderr.write(f"bench: {msg}\n")
    sys.exit(1)


def ts_ms(line):
    """Log line 'YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL ...' -> ms since the epoch (server clock)."""
    t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


class Server:
    """A `gust server` in the background, stderr to LOG."""

    def __init__(self, gust, home, dags, now, par, logpath):
        self.logpath = logpath
        self.f = open(logpath, "w")
        self.p = subprocess.Popen(
            [gust, "server", "--home", home, "--dags", dags, "--now", now,
             "--parallelism", str(par)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.f)
        self.wait_for(lambda text: "server: ready" in text, 60, "server: ready")

    def text(self):
        with open(self.logpath) as f:
            return f.read()

    def wait_for(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            t = self.text()
            if pred(t):
                return t
            if self.p.poll() is not None:
                die(f"the server exited ({self.p.returncode}) before '{what}'; log: "
                    f"{self.logpath}\n{t[-2000:]}")
            if time.monotonic() > end:
                self.stop()
                die(f"no '{what}' after {timeout} s; log tail:\n{t[-2000:]}")
            time.sleep(0.05)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                die("the server did not stop within 60 s of SIGTERM")
        self.f.close()


def count_outcomes(d):
    n = 0
    for _, _, files in os.walk(d):
        if "outcome" in files:
            n += 1
    return n


def med(xs):
    return statistics.median(xs)


def fmt_s(ms):
    return f"{ms / 1000:.3f}"


def fmt_range(xs, f=fmt_s):
    return f"{f(med(xs))} ({f(min(xs))}-{f(max(xs))})"


# ------------------------------------------------------------------------------ midnight

def gen_daily(d, n):
    os.makedirs(d)
    for i in range(n):
        with open(os.path.join(d, f"d{i:04d}.yaml"), "w") as f:
            f.write('schedule: "@daily"\ntasks:\n  a: "true"\n  b:\n    run: "true"\n'
                    '    depends: [a]\n')


def midnight_once(gust, work, dags, n, rep):
    home = os.path.join(work, f"home-midnight-{rep}")
    lg = os.path.join(work, f"midnight-{rep}.log")
    s = Server(gust, home, dags, "2024-02-29T23:59:57Z", 32, lg)
    suffix = f"@{MIDNIGHT}: success"
    text = s.wait_for(lambda t: t.count(suffix) >= n, 300, f"{n} runs succeeded")
    time.sleep(0.2)  # anything after the last success would show up in the log
    cpu_ms = proc_cpu(s.p.pid)[0] * 1000 / os.sysconf("SC_CLK_TCK")
    s.stop()
    text = s.text()
    created, started, success = {}, {}, {}
    for line in text.splitlines():
        if "scheduler: DAG '" in line and ": created run " in line:
            rid = line.split(": created run ", 1)[1].split(" ", 1)[0]
            created[rid] = ts_ms(line)
        elif " INFO  run " in line:
            rest = line.split(" INFO  run ", 1)[1]
            rid, ev = rest.split(": ", 1)
            if ev.startswith("started"):
                started[rid] = ts_ms(line)
            elif ev.startswith("success"):
                success[rid] = ts_ms(line)
        elif " ERROR " in line or " WARN " in line:
            log(f"midnight rep {rep}: {line}")
    want = {f"d{i:04d}@{MIDNIGHT}" for i in range(n)}
    for name, got in (("created", created), ("started", started), ("success", success)):
        if set(got) != want:
            die(f"midnight rep {rep}: {len(got)} runs {name} in the log, expected {n} "
                f"(missing e.g. {sorted(want - set(got))[:3]}); log {lg}")
    # The store: every run and task instance successful, one attempt each.
    db = sqlite3.connect(os.path.join(home, "gust.db"))
    runs_ok = db.execute("select count(*) from runs where state = 'success'").fetchone()[0]
    tis = dict(db.execute("select state, count(*) from task_instances group by state"))
    n_att = db.execute("select count(*) from attempts").fetchone()[0]
    # first task start of each run (server clock, ms)
    first_task = dict(db.execute("select run_id, min(started_at) from task_instances "
                                 "group by run_id"))
    db.close()
    if runs_ok != n or tis != {"success": 2 * n} or n_att != 2 * n:
        die(f"midnight rep {rep}: store has {runs_ok} successful runs, task instances {tis}, "
            f"{n_att} attempts; expected {n}, {2 * n} success, {2 * n}")
    outc = count_outcomes(os.path.join(home, "logs"))
    if outc != 2 * n:
        die(f"midnight rep {rep}: {outc} outcome files, expected {2 * n}")
    last = max(created, key=lambda r: (created[r], r))
    return {
        "first_created": min(created.values()) - MIDNIGHT_MS,
        "last_created": created[last] - MIDNIGHT_MS,
        "last_started": started[last] - MIDNIGHT_MS,
        "last_first_task": first_task[last] - MIDNIGHT_MS,
        "all_first_task": max(first_task.values()) - MIDNIGHT_MS,
        "all_started": max(started.values()) - MIDNIGHT_MS,
        "all_success": max(success.values()) - MIDNIGHT_MS,
        "cpu": cpu_ms,
    }


def bench_midnight(gust, work, n, reps):
    dags = os.path.join(work, "dags-daily")
    gen_daily(dags, n)
    res = []
    for rep in range(reps):
        r = midnight_once(gust, work, dags, n, rep)
        log(f"midnight rep {rep}: " + ", ".join(f"{k} {v} ms" for k, v in r.items()))
        res.append(r)
    col = lambda k: [r[k] for r in res]
    print()
    print(f"### {n} DAGs due at the same midnight (parallelism 32, median of {reps} runs, "
          f"a fresh home each)")
    print()
    print("Seconds after midnight, server clock (its log and its store). Each DAG: "
          "`a -> b`, both `true`.")
    print()
    print("| event | median s (min-max) | goal / for scale |")
    print("|---|---:|---|")
    print(f"| first run created | {fmt_range(col('first_created'))} | |")
    print(f"| (a) last of the {n} runs created | {fmt_range(col('last_created'))} | "
          f"Airflow: ~30 s for 1,000 |")
    print(f"| (b) last-created run: \"started\" log line | {fmt_range(col('last_started'))} | |")
    print(f"| (b) last-created run: its first task started (store) | "
          f"{fmt_range(col('last_first_task'))} | |")
    print(f"| every run has a task started (store) | {fmt_range(col('all_first_task'))} | |")
    print(f"| (c) all {n} runs succeeded | {fmt_range(col('all_success'))} | |")
    print(f"| server process CPU, start to the end (s; zygote and supervisors not included) | "
          f"{fmt_range(col('cpu'))} | |")
    print(f"| throughput to (c), tasks/s | "
          f"{2 * n / (med(col('all_success')) / 1000):.0f} | |")
    return dags


# ------------------------------------------------------------------------------ idle

def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    with open(f"/proc/{pid}/schedstat") as f:
        ns = int(f.read().split()[0])
    vol = invol = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol = int(line.split()[1])
    return ticks, ns, vol + invol


def bench_idle(gust, work, dags, n, secs):
    hz = os.sysconf("SC_CLK_TCK")
    home = os.path.join(work, "home-idle")
    lg = os.path.join(work, "idle.log")
    s = Server(gust, home, dags, "2024-03-01T12:00:00Z", 32, lg)
    pid = s.p.pid
    t_start, ns_start, _ = proc_cpu(pid)
    time.sleep(2)  # settle after startup
    lines0 = s.text().count("\n")
    t0, ns0, cs0 = proc_cpu(pid)
    w0 = time.monotonic()
    time.sleep(secs)
    t1, ns1, cs1 = proc_cpu(pid)
    wall = time.monotonic() - w0
    text = s.text()
    s.stop()
    if "server: ready: %d DAG files" % n not in text:
        die(f"idle: expected 'ready: {n} DAG files' in {lg}")
    new_lines = text.count("\n") - lines0
    if "created run" in text:
        die(f"idle: a run was created at noon; log {lg}")
    cpu_s = (t1 - t0) / hz
    pct = 100 * cpu_s / wall
    met = "yes" if cpu_s < 0.01 * wall else "**NO**"
    print()
    print(f"### Idle: {n} DAGs loaded, nothing due (--now at noon)")
    print()
    print("| measure | value | goal | met |")
    print("|---|---:|---|---|")
    print(f"| CPU over {wall:.0f} s, utime+stime (/proc/PID/stat, {hz} ticks/s) | "
          f"{cpu_s:.2f} s ({pct:.3f}% of one core) | < 1% of one core (< {0.01 * wall:.2f} s) "
          f"| {met} |")
    print(f"| CPU over {wall:.0f} s, /proc/PID/schedstat | {(ns1 - ns0) / 1e6:.2f} ms | | |")
    print(f"| context switches over {wall:.0f} s (wake-ups) | {cs1 - cs0} | | |")
    print(f"| log lines over {wall:.0f} s | {new_lines} | | |")
    print(f"| CPU of startup (load {n} DAG files, until ready) | {t_start / hz:.2f} s "
          f"({ns_start / 1e6:.0f} ms schedstat) | | |")
    return cpu_s, wall


# ------------------------------------------------------------------------------ e2e

def server_dag(src, dst):
    """Copy a gen_dags.py DAG, adding a daily schedule that ends at the first run."""
    with open(src) as f:
        first, rest = f.read().split("\n", 1)
    with open(dst, "w") as f:
        f.write(first + '\nschedule: "@daily"\nend_date: ' + MIDNIGHT + "\n" + rest)


def e2e_server_once(gust, work, name, n, rep, durability):
    dags = os.path.join(work, f"dags-{name}")
    home = os.path.join(work, f"home-srv-{name}-{durability}-{rep}")
    lg = os.path.join(work, f"srv-{name}-{durability}-{rep}.log")
    os.makedirs(home)
    with open(os.path.join(home, "config.yaml"), "w") as f:
        f.write(f"durability: {durability}\n")
    s = Server(gust, home, dags, "2024-02-29T23:59:59Z", 2, lg)
    rid = f"{name}@{MIDNIGHT}"
    s.wait_for(lambda t: f"run {rid}: success" in t or f"run {rid}: failed" in t, 900,
               f"run {rid} ended")
    cpu_ticks = proc_cpu(s.p.pid)[0]  # the server process alone (not its zygote/supervisors)
    s.stop()
    text = s.text()
    st = [ts_ms(l) for l in text.splitlines() if f"run {rid}: started" in l]
    ok = [ts_ms(l) for l in text.splitlines() if f"run {rid}: success" in l]
    if len(st) != 1 or len(ok) != 1:
        die(f"server {name} rep {rep}: {len(st)} started and {len(ok)} success lines; log {lg}")
    if "created run" in text.split(f"created run {rid}", 1)[1]:
        die(f"server {name} rep {rep}: more than one run created; log {lg}")
    outc = count_outcomes(os.path.join(home, "logs"))
    if outc != n:
        die(f"server {name} rep {rep}: {outc} outcome files, expected {n}")
    db = sqlite3.connect(os.path.join(home, "gust.db"))
    nok = db.execute("select count(*) from task_instances where state = 'success'").fetchone()[0]
    db.close()
    if nok != n:
        die(f"server {name} rep {rep}: {nok} successful task instances, expected {n}")
    return ok[0] - st[0], cpu_ticks * 1000 / os.sysconf("SC_CLK_TCK")


def e2e_test_once(gust, work, name, n, rep):
    home = os.path.join(work, f"home-test-{name}-{rep}")
    f = os.path.join(work, f"{name}.yaml")
    t0 = time.monotonic()
    r = subprocess.run([gust, "dags", "test", f, "--parallelism", "2", "--quiet",
                        "--home", home], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms = (time.monotonic() - t0) * 1000
    if r.returncode != 0:
        die(f"dags test {name}: exit {r.returncode}: {r.stderr.decode()[-1000:]}")
    outc = count_outcomes(os.path.join(home, "logs"))
    if outc != n:
        die(f"dags test {name} rep {rep}: {outc} outcome files, expected {n}")
    return ms


def bench_e2e(gust, work, bench_dir, n_w1, n_w2, reps, w1_max_s):
    gen = os.path.join(bench_dir, "gen_dags.py")
    subprocess.run([sys.executable, gen, "wide", work, str(n_w1)], check=True)
    subprocess.run([sys.executable, gen, "chain", work, str(n_w2)], check=True)
    for name in ("w1", "w2"):
        os.makedirs(os.path.join(work, f"dags-{name}"))
        server_dag(os.path.join(work, f"{name}.yaml"),
                   os.path.join(work, f"dags-{name}", f"{name}.yaml"))
    durs = os.environ.get("BENCH_DURABILITY", "normal").split()
    res = {}
    w1_stop = False
    for rep in range(reps):
        for name, n in (("w2", n_w2), ("w1", n_w1)):
            if name == "w1" and w1_stop:
                continue
            t = e2e_test_once(gust, work, name, n, rep)
            res.setdefault(f"test-{name}", []).append(t)
            # The durabilities one after the other in each repetition: same machine state.
            for d in durs:
                v, cpu = e2e_server_once(gust, work, name, n, rep, d)
                res.setdefault(f"srv-{name}-{d}", []).append(v)
                res.setdefault(f"cpu-{name}-{d}", []).append(cpu)
                log(f"e2e {name} rep {rep}: dags test {t:.0f} ms, server ({d}) {v} ms "
                    f"(server process CPU {cpu:.0f} ms)")
                if name == "w1" and max(t, v) > w1_max_s * 1000:
                    w1_stop = True
            if name == "w1" and w1_stop:
                log(f"W1 took more than {w1_max_s} s: not repeated")
    print()
    print("### End to end through the server (parallelism 2, every task runs `true`)")
    print()
    print("server: the run's \"started\" to \"success\" log lines (server clock, ms resolution);"
          " dags test: wall time of the process (loading included). Median (min-max).")
    print()
    print("| workload | tasks | durability | dags test s | server s | server / dags test "
          "| server ms per task | server process CPU ms per task | goal | met |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---|---|")
    for name, label, n in (("w1", "W1 wide", n_w1), ("w2", "W2 chain", n_w2)):
        for d in durs:
            t, v = res[f"test-{name}"], res[f"srv-{name}-{d}"]
            ratio = med(v) / med(t)
            met = "yes" if ratio <= 1.5 else "**NO**"
            print(f"| {label} | {n} | {d} | {fmt_range(t)}, {len(t)} runs "
                  f"| {fmt_range(v)}, {len(v)} runs | {ratio:.2f}x | {med(v) / n:.2f} "
                  f"| {med(res[f'cpu-{name}-{d}']) / n:.3f} | <= 1.5x dags test | {met} |")
    if len(durs) > 1:
        print()
        base = durs[0]
        for name, label in (("w1", "W1"), ("w2", "W2")):
            for d in durs[1:]:
                a, b = res[f"srv-{name}-{base}"], res[f"srv-{name}-{d}"]
                print(f"{label} through the server, {d} / {base}: {med(b) / med(a):.2f}x "
                      f"(medians {fmt_s(med(b))} / {fmt_s(med(a))} s)")
    return res


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    gust, work = argv[1], argv[2]
    quick = "--quick" in argv[3:]
    only = [a for a in argv[3:] if not a.startswith("--")]
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    n_dags = 100 if quick else 1000
    idle_s = 10 if quick else 60
    n_w1, n_w2 = (500, 100) if quick else (10000, 1000)
    w1_max_s = float(os.environ.get("BENCH_W1_MAX_S", "30"))
    t0 = time.monotonic()
    dags = None
    if not only or "midnight" in only or "idle" in only:
        dags = bench_midnight(gust, work, n_dags, 3) if (not only or "midnight" in only) \
            else None
        if dags is None:
            dags = os.path.join(work, "dags-daily")
            gen_daily(dags, n_dags)
    if not only or "idle" in only:
        bench_idle(gust, work, dags, n_dags, idle_s)
    if not only or "e2e" in only:
        bench_e2e(gust, work, bench_dir, n_w1, n_w2, 3, w1_max_s)
    print()
    print(f"server section: {time.monotonic() - t0:.0f} s; load after: "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
