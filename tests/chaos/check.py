#!/usr/bin/env python3
"""check.py - what the chaos test asserts, from the outside: the server's log, the store
through the CLI, and the DAG folder as it is now.

    check.py --gust BIN --home HOME --dags DAGS --log LOG [--late-ms 1000]
             [--live ID]... [--json FILE] [--examples 12]

Run it from the directory the server was started in, with --dags spelled as the server's
--dags was (file names in the log and the store are DAGS/NAME), once the server has seen
every change (the chaos test waits for a sentinel file first). Prints one line per problem
("PROBLEM CATEGORY: ..."; at most --examples per category, then a count), then summary lines
("chaos: ..."), and exits 1 if there was any problem.

1. Broken files. Every file the server would load (a name ending .yaml or .yml, not hidden,
   under DAGS, 16 folders deep at most; directories are not files) and that is present now:
   - is reported by `gust dags list` with a note naming it with a location
     (FILE:LINE:COL: error: ..., LINE within the file) or a reason (FILE: error: REASON), or
   - was loaded by the server (its last event in the log is "loaded FILE"), and then
     `gust dags validate FILE` must agree that it is valid.
   A file that validate finds broken and that dags list does not report is "unreported";
   one the log never mentions at all is also "unseen". A directory named *.yaml must never be
   reported. Non-regular files (FIFOs, symlinks to devices) count as broken without running
   validate on them (it would block on a FIFO).
2. Schedules. For every DAG the log shows loaded with a schedule "@every D" or "* * * * *"
   (and no jitter or conflicts in its file), every fire time L after it was loaded (and
   before it was removed) and up to now - late-ms must have a scheduled run with logical
   date L, created at most late-ms after L ("missed-fire", "late-create"), and, unless its
   max_active_runs was full at L, started at most late-ms after L ("late-start"). Runs of
   the --live DAGs and of files marked "# chaos-fresh" must not fail ("run-failed"). A
   "# chaos-fresh" DAG (written once) that appeared while the server ran must have no run
   for a fire time before its file's mtime ("before-first-seen": docs/server.md, a new DAG
   does not run for fire times that passed before it was first seen).
3. The log: no ERROR line, no sanitizer report, no "server: stopped" ("server-log").

--json FILE writes the counts (for bench/chaos.sh). Standard library only.
"""
import argparse
import calendar
import json
import os
import re
import stat
import subprocess
import sys
import time

LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (DEBUG|INFO |WARN |ERROR) (.*)$")
LOADED_RE = re.compile(r"^dagbag: loaded (.+): DAG '([^']+)' version (\d+), \d+ tasks?, "
                       r"schedule (.+) \(parsed in")
BROKEN_RE = re.compile(r"^dagbag: (.+?) is broken(?: \(\d+ problems?\)|: )")
READFAIL_RE = re.compile(r"^dagbag: (.+?): error: (.*)$")
REMOVED_RE = re.compile(r"^dagbag: (.+) was removed: DAG '([^']+)'")
RENAMED_RE = re.compile(r"^dagbag: (.+) now declares DAG '([^']+)' instead of '([^']+)'")
CREATED_RE = re.compile(r"^scheduler: DAG '([^']+)': created run (\S+) \(due (\S+)\)")
# In lines that are not the server's log lines (what the sanitizers print to stderr).
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                          r"runtime error:|^SUMMARY: ")
NOTE_RE = re.compile(r" BROKEN(?: \(the last good version is in use\))?: (.*?)"
                     r"(?: \(\+more; run 'gust dags validate .*'\))?$")
NOTE_PATH_RE = re.compile(r"^(.*?)(?::(\d+):(\d+))?: error: (.*)$")
VALIDATE_OK_RE = re.compile(r"^(.*): ok: DAG '([^']*)', \d+ tasks?$")
EVERY_RE = re.compile(r"^@every ((?:\d+(?:ms|w|d|h|m|s))+)$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}


def iso_ms(s):
    """2024-03-01T00:00:00.123Z or 2024-03-01T00:00:00Z -> ms since the epoch."""
    s = s.rstrip("Z")
    frac = 0
    if "." in s:
        s, f = s.split(".")
        frac = int((f + "000")[:3])
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) * 1000 + frac


def period_ms(schedule):
    """The period of a schedule whose fire times are multiples of it, else None."""
    s = schedule.strip('"')
    if s == "* * * * *":
        return 60000
    m = EVERY_RE.match(s)
    if not m:
        return None
    return sum(int(n) * UNIT_MS[u] for n, u in re.findall(r"(\d+)(ms|w|d|h|m|s)", m.group(1)))


def read_text(path, limit=None):
    try:
        with open(path, "rb") as f:
            data = f.read(limit) if limit else f.read()
        return data.decode("utf-8", "surrogateescape")
    except OSError:
        return None


class Check:
    def __init__(self, a):
        self.a = a
        self.problems = {}
        self.summary = {}

    def problem(self, cat, msg):
        self.problems.setdefault(cat, []).append(msg)

    def run_cli(self, args, timeout=300):
        p = subprocess.run([self.a.gust] + args + ["--home", self.a.home], capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), \
            p.stderr.decode("utf-8", "surrogateescape")

    # ---- the log ---------------------------------------------------------------------------

    def read_log(self):
        self.events = {}      # file -> [(ms, kind, detail)]
        self.dag_events = {}  # dag id -> [(ms, schedule or None, file)]
        self.created = {}     # run id -> (ms, dag id)
        self.ready_ms = None
        self.restarts = 0
        text = read_text(self.a.log) or ""
        for line in text.split("\n"):
            if not line:
                continue
            m = LOG_RE.match(line)
            if not m:
                if SANITIZER_RE.search(line):
                    self.problem("server-log", line[:300])
                continue
            ms, level, msg = iso_ms(m.group(1)), m.group(2).strip(), m.group(3)
            if level == "ERROR":
                self.problem("server-log", line[:300])
            if "processor" in msg.lower() and "restart" in msg.lower():
                self.restarts += 1
            if msg.startswith("server: ready"):
                self.ready_ms = ms
            elif msg.startswith("server: stopped"):
                self.problem("server-log", "the server stopped: " + line)
            if not (msg.startswith("dagbag: ") or msg.startswith("scheduler: ")):
                continue
            m = LOADED_RE.match(msg)
            if m:
                f, dag, sched = m.group(1), m.group(2), m.group(4)
                self.events.setdefault(f, []).append((ms, "loaded", dag))
                self.dag_events.setdefault(dag, []).append(
                    (ms, None if sched == "none" else sched, f))
                continue
            m = REMOVED_RE.match(msg)
            if m:
                self.events.setdefault(m.group(1), []).append((ms, "removed", m.group(2)))
                self.dag_events.setdefault(m.group(2), []).append((ms, None, m.group(1)))
                continue
            m = RENAMED_RE.match(msg)
            if m:
                self.dag_events.setdefault(m.group(3), []).append((ms, None, m.group(1)))
                continue
            m = BROKEN_RE.match(msg)
            if m:
                self.events.setdefault(m.group(1), []).append((ms, "broken", msg))
                continue
            m = READFAIL_RE.match(msg)
            if m:
                self.events.setdefault(m.group(1), []).append((ms, "broken", msg))
                continue
            m = CREATED_RE.match(msg)
            if m:
                self.created[m.group(2)] = (ms, m.group(1))
        self.log_lines = text.count("\n")

    # ---- the folder --------------------------------------------------------------------------

    def walk(self):
        """(files, dirs) the server would consider: relative to cwd, as DAGS/NAME."""
        files, dirs = [], []

        def rec(d, depth):
            try:
                names = sorted(os.listdir(d))
            except OSError:
                return
            for n in names:
                if n.startswith("."):
                    continue
                p = d + "/" + n
                try:
                    st = os.stat(p)
                    is_dir = stat.S_ISDIR(st.st_mode)
                except OSError:
                    is_dir = False
                if is_dir:
                    if n.endswith(".yaml") or n.endswith(".yml"):
                        dirs.append(p)
                    if depth < 16:
                        rec(p, depth + 1)
                elif n.endswith(".yaml") or n.endswith(".yml"):
                    files.append(p)

        rec(self.a.dags.rstrip("/"), 0)
        return files, dirs

    def validate(self, files):
        """file -> (True, dag id) or (False, first error line)."""
        out = {}
        todo = []
        for f in files:
            try:
                st = os.stat(f)
            except OSError as e:
                out[f] = (False, "%s: error: cannot open: %s" % (f, e.strerror))
                continue
            if not stat.S_ISREG(st.st_mode):
                out[f] = (False, "%s: error: is not a regular file" % f)
            else:
                todo.append(f)

        def parse(text):
            for line in text.split("\n"):
                m = VALIDATE_OK_RE.match(line)
                if m:
                    out[m.group(1)] = (True, m.group(2))
                    continue
                m = NOTE_PATH_RE.match(line)
                if m and m.group(1) not in out:
                    out[m.group(1)] = (False, line)

        def batch(fs):
            try:
                p = subprocess.run([self.a.gust, "dags", "validate"] + fs, capture_output=True,
                                   timeout=120)
                ok = p.returncode in (0, 1)
                parse(p.stdout.decode("utf-8", "surrogateescape") + "\n" +
                      p.stderr.decode("utf-8", "surrogateescape"))
            except subprocess.TimeoutExpired:
                ok = False
            if not ok:
                if len(fs) == 1:
                    out.setdefault(fs[0], (False, "%s: error: gust dags validate crashed or "
                                                  "timed out on it" % fs[0]))
                    self.problem("validate", "gust dags validate crashed or timed out on " +
                                 fs[0])
                else:
                    for f in fs:
                        if f not in out:
                            batch([f])

        for k in range(0, len(todo), 200):
            batch(todo[k:k + 200])
        for f in todo:
            out.setdefault(f, (False, "%s: error: validate printed nothing for it" % f))
        return out

    # ---- 1. broken files ---------------------------------------------------------------------

    def check_files(self):
        rc, listing, err = self.run_cli(["dags", "list"])
        if rc != 0:
            self.problem("dags-list", "gust dags list exited %d: %s" % (rc, err.strip()[:300]))
        notes = {}  # file -> [note]
        n_notes = 0
        for line in listing.split("\n"):
            m = NOTE_RE.search(line)
            if not m:
                continue
            n_notes += 1
            note = m.group(1)
            pm = NOTE_PATH_RE.match(note)
            if pm:
                notes.setdefault(pm.group(1), []).append(note)
            else:
                self.problem("no-location", "a BROKEN note that names no file: " + line[:300])
        files, dirs = self.walk()
        val = self.validate(files)
        present = set(files)
        counts = dict(present=len(files), dirs=len(dirs), broken=0, reported=0, loaded=0,
                      unreported=0, unseen=0, notes=n_notes,
                      notes_for_gone=sum(len(v) for k, v in notes.items()
                                         if k not in present and k not in dirs))
        for d in dirs:
            for note in notes.get(d, []):
                self.problem("dir-reported", "the directory %s is reported: %s" % (d, note))
            for ev in self.events.get(d, []):
                if ev[1] == "broken":
                    self.problem("dir-reported", "the log reports the directory %s: %s"
                                 % (d, ev[2][:300]))
        for f in files:
            valid, what = val.get(f, (False, "?"))
            if valid:
                what = "valid (DAG '%s')" % what
            evs = self.events.get(f, [])
            last = evs[-1] if evs else None
            fnotes = notes.get(f, [])
            if not valid:
                counts["broken"] += 1
            good = []
            for note in fnotes:
                pm = NOTE_PATH_RE.match(note)
                line_no, msg = pm.group(2), pm.group(4).strip()
                if not msg:
                    self.problem("no-location", "%s: a note without a message: %s" % (f, note))
                    continue
                if line_no is not None:
                    text = read_text(f) or ""
                    breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")
                    if int(line_no) < 1 or int(line_no) > breaks + 1:
                        self.problem("bad-location", "%s: line %s of a file of %d lines: %s"
                                     % (f, line_no, breaks + 1, note[:300]))
                        continue
                good.append(note)
            loaded = last is not None and last[1] == "loaded"
            if good:
                counts["reported"] += 1
                if loaded and valid and not any("already defined" in n for n in good):
                    self.problem("stale-report", "%s: loaded as DAG '%s' (validate agrees), "
                                 "but dags list still reports: %s" % (f, last[2], good[0][:300]))
                continue
            if fnotes:
                continue  # reported, but badly: the problem is recorded above
            if loaded and valid:
                counts["loaded"] += 1
                continue
            if loaded and not valid:
                self.problem("stale-loaded", "%s: the server's last word is 'loaded DAG %s', "
                             "but the file is broken now: %s" % (f, last[2], what[:300]))
                continue
            counts["unreported"] += 1
            if not evs:
                counts["unseen"] += 1
                self.problem("unseen", "%s (%s): no line of the log names it, and dags list "
                             "does not report it; validate: %s"
                             % (f, self.kind_of(f), what[:200]))
            else:
                self.problem("unreported", "%s (%s): dags list does not report it; the "
                             "log's last word: %s; validate: %s"
                             % (f, self.kind_of(f), last[2][:200], what[:200]))
        self.summary["files"] = counts

    @staticmethod
    def kind_of(f):
        try:
            st = os.lstat(f)
        except OSError:
            return "gone"
        if stat.S_ISLNK(st.st_mode):
            return "symlink to " + os.readlink(f)
        if stat.S_ISFIFO(st.st_mode):
            return "FIFO"
        return "%d bytes" % st.st_size

    # ---- 2. schedules -----------------------------------------------------------------------

    def check_schedules(self):
        late = self.a.late_ms
        now = int(time.time() * 1000)
        until = now - late
        rc, out, err = self.run_cli(["runs", "list", "--json", "--limit", "0"])
        try:
            runs = json.loads(out) if rc == 0 else []
        except ValueError:
            runs = []
            self.problem("runs-list", "gust runs list --json printed no JSON: " + out[:200])
        if rc != 0:
            self.problem("runs-list", "gust runs list exited %d: %s" % (rc, err.strip()[:300]))
        by_dag = {}
        for r in runs:
            if r.get("kind") == "scheduled" and r.get("logical_date"):
                by_dag.setdefault(r["dag_id"], {})[iso_ms(r["logical_date"])] = r
        s = dict(dags=0, expected=0, on_time=0, missed=0, late_created=0, late_started=0,
                 failed=0, skipped_dags=0, before_seen=0)
        # A DAG written while the server runs must not get a run for a fire time before its
        # file existed (docs/server.md: "A new DAG does not run for fire times that passed
        # before it was first seen"). Checked on the generator's fresh DAGs, which are
        # written once: their mtime is when they appeared.
        for dag, evs in sorted(self.dag_events.items()):
            ms, sched, f = evs[0]
            if sched is None or self.ready_ms is None or ms <= self.ready_ms:
                continue
            text = read_text(f, 1 << 16) or ""
            if "# chaos-fresh" not in text:
                continue
            try:
                born = int(os.stat(f).st_mtime * 1000)
            except OSError:
                continue
            for L, r in sorted(by_dag.get(dag, {}).items()):
                if L < born:
                    s["before_seen"] += 1
                    self.problem("before-first-seen", "%s: a run for a fire time %d ms before "
                                 "its file was written (%s), created %s" % (
                                     r["run_id"], born - L, fmt(born), r.get("created_at")))
        for dag, evs in sorted(self.dag_events.items()):
            # Intervals with one schedule: [start, end).
            intervals = []
            for k, (ms, sched, f) in enumerate(evs):
                end = evs[k + 1][0] if k + 1 < len(evs) else None
                if sched is None:
                    continue
                p = period_ms(sched)
                if p is None:
                    continue
                text = read_text(f, 1 << 20) or ""
                if re.search(r"(?m)^\s*(jitter|conflicts|start_date|end_date)\s*:", text):
                    s["skipped_dags"] += 1
                    continue
                m = re.search(r"(?m)^max_active_runs:\s*(\d+)", text)
                mar = int(m.group(1)) if m else 1
                strict = dag in (self.a.live or []) or "# chaos-fresh" in text
                if intervals and intervals[-1][2] == p and intervals[-1][1] == ms:
                    intervals[-1][1] = end  # the same schedule: one interval
                else:
                    intervals.append([ms, end, p, mar, strict])
            if not intervals:
                continue
            s["dags"] += 1
            have = by_dag.get(dag, {})
            for start, end, p, mar, strict in intervals:
                hi = until if end is None else min(until, end - late)
                first = (start // p + 1) * p
                for L in range(first, hi + 1, p):
                    s["expected"] += 1
                    r = have.get(L)
                    tag = "%s@%s" % (dag, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                         time.gmtime(L // 1000)))
                    if r is None:
                        s["missed"] += 1
                        self.problem("missed-fire", "%s: no scheduled run for the fire time %s "
                                     "(schedule period %d ms, loaded at %s)" % (
                                         dag, tag, p, fmt(start)))
                        continue
                    ok = True
                    c = iso_ms(r["created_at"]) if r.get("created_at") else None
                    if c is None or c - L > late:
                        ok = False
                        s["late_created"] += 1
                        self.problem("late-create", "%s: created %s ms after its fire time "
                                     "(limit %d)" % (r["run_id"], "?" if c is None else c - L,
                                                     late))
                    active = sum(1 for L2, r2 in have.items() if L2 < L and (
                        r2.get("started_at") and iso_ms(r2["started_at"]) <= L + late and (
                            not r2.get("ended_at") or iso_ms(r2["ended_at"]) > L)))
                    st = iso_ms(r["started_at"]) if r.get("started_at") else None
                    if active < mar and (st is None or st - L > late):
                        ok = False
                        s["late_started"] += 1
                        self.problem("late-start", "%s: %s (limit %d ms; %d of %d "
                                     "max_active_runs busy at its fire time)" % (
                                         r["run_id"], "not started (%s)" % r["state"]
                                         if st is None else "started %d ms after its fire "
                                         "time" % (st - L), late, active, mar))
                    if strict and r["state"] not in ("success", "running", "queued"):
                        ok = False
                        s["failed"] += 1
                        self.problem("run-failed", "%s: %s (%s)" % (
                            r["run_id"], r["state"], r.get("message")))
                    if ok:
                        s["on_time"] += 1
        self.summary["schedules"] = s

    def report(self):
        ex = self.a.examples
        n = 0
        for cat in sorted(self.problems):
            items = self.problems[cat]
            n += len(items)
            for msg in items[:ex]:
                print("PROBLEM %s: %s" % (cat, msg))
            if len(items) > ex:
                print("PROBLEM %s: ... and %d more" % (cat, len(items) - ex))
        f = self.summary.get("files", {})
        s = self.summary.get("schedules", {})
        print("chaos: files present %d (+%d directories named *.yaml): %d broken per validate, "
              "%d reported broken by dags list, %d loaded, %d unreported (%d never seen by "
              "the server); %d BROKEN notes, %d for files gone" % (
                  f.get("present", 0), f.get("dirs", 0), f.get("broken", 0),
                  f.get("reported", 0), f.get("loaded", 0), f.get("unreported", 0),
                  f.get("unseen", 0), f.get("notes", 0), f.get("notes_for_gone", 0)))
        print("chaos: schedules: %d DAGs checked (%d skipped: jitter/conflicts/dates), %d "
              "fires expected, %d on time, %d missed, %d created late, %d started late, %d "
              "failed; %d runs for fire times before their DAG's file was written" % (
                  s.get("dags", 0), s.get("skipped_dags", 0), s.get("expected", 0),
                  s.get("on_time", 0), s.get("missed", 0), s.get("late_created", 0),
                  s.get("late_started", 0), s.get("failed", 0), s.get("before_seen", 0)))
        print("chaos: log: %d lines, %d processor restart lines; problems: %s" % (
            self.log_lines, self.restarts,
            ", ".join("%s %d" % (c, len(v)) for c, v in sorted(self.problems.items()))
            or "none"))
        if self.a.json:
            self.summary["problems"] = {c: len(v) for c, v in self.problems.items()}
            self.summary["restart_lines"] = self.restarts
            self.summary["log_lines"] = self.log_lines
            with open(self.a.json, "w") as fp:
                json.dump(self.summary, fp, indent=1)
        return 1 if n else 0


def fmt(ms):
    return time.strftime("%H:%M:%S", time.gmtime(ms // 1000)) + ".%03d" % (ms % 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gust", required=True)
    ap.add_argument("--home", required=True)
    ap.add_argument("--dags", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--late-ms", type=int, default=1000)
    ap.add_argument("--live", action="append")
    ap.add_argument("--json")
    ap.add_argument("--examples", type=int, default=12)
    ap.add_argument("--only", choices=["files", "schedules"])
    a = ap.parse_args()
    c = Check(a)
    c.read_log()
    if a.only != "files":
        c.check_schedules()
    if a.only != "schedules":
        c.check_files()
    sys.exit(c.report())


if __name__ == "__main__":
    main()
