#!/usr/bin/env python3
"""mutate.py - the chaos generator: drops mutated DAG files into a live DAG folder.

    mutate.py --out DAGS [--count 2000] [--seconds 60] [--batch 20] [--seed 1]
              [--live ID]... [--live-file PATH]... [--huge 7] [--faults 0]
              [--max-present 0]
              [--manifest FILE] [--stage DIR] [--quiet]

Every operation's content and kind comes from one random.Random(seed): the same seed, count and
options give the same files (only the timing differs). The operations are spread over
--seconds in batches of --batch, at even intervals (0 seconds: as fast as possible).

The seeds are the repository's corpora: tests/dags/valid, examples, tests/dags/invalid,
tests/fuzz/corpus/dag_load and tests/fuzz/corpus/config. Operations (tests/chaos/README.md has
the table): mutants of a seed (truncation, bit flips, NULs, bad UTF-8, spliced seeds, shuffled
or re-indented lines, tokens such as '[' '&a' '---' inserted, ids set to a live DAG's), seeds
copied unchanged, fresh valid DAGs (half scheduled "@every Ns"), deep nesting (100,000 '[',
'{', nested lists, indentation), special files (empty, BOM only, binary, one long line, an
alias bomb, 10,000 documents, 20,000 errors), symlinks (to a valid file, to a live DAG's
file, /dev/zero, /dev/null, dangling, self loop, two-link loop; in place or renamed in),
FIFOs, files that vanish (unlinked or renamed away at once, renamed to another DAG name,
flapping contents, 8 MB written then unlinked or truncated), directories named *.yaml (the
literal `x.yaml` first, some holding files, some moved in whole, some removed), rewrites,
renames and deletions of earlier files, and --huge N huge files (default 7): just over
DAG_MAX_FILE_BYTES (sparse, real data, grown in place by appending), exactly at it (sparse
NULs), and big valid ones under it (a 60 MB comment, a 32 MB description, 200,000 tasks).
--faults N adds N valid files marked `gust-test-fault: crash|memory|hang` (in that order),
which the DAG processor obeys when the server runs with GUST_TEST_PARSER_FAULTS=1.

Each file is written in place (one write, or several through one open), or written in a
staging folder beside the DAG folder and renamed in (as editors and deploy tools do).
Fresh scheduled DAGs and huge files are never rewritten (the checker holds scheduled DAGs to
their schedule); --max-present N deletes the oldest of our entries beyond N (long runs).

The manifest (--manifest) has one JSON object per operation: i, t (seconds since the start),
op, kind, path (relative to --out), mode. The last line printed is a summary by op.
The staging folder (default: .NAME.chaos-stage beside the DAG folder) is left in place: it
holds the targets of the symlinks. Standard library only.
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SEED_DIRS = [
    ("valid", "tests/dags/valid"),
    ("valid", "examples"),
    ("invalid", "tests/dags/invalid"),
    ("fuzz_dag", "tests/fuzz/corpus/dag_load"),
    ("fuzz_config", "tests/fuzz/corpus/config"),
]

INTERESTING_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0xC0, 0x09, 0x0D, 0x0A, 0x22, 0x27, 0x3A, 0x5B,
                     0x5D, 0x7B, 0x7D, 0x2D, 0x26, 0x2A, 0x21, 0x25, 0x23, 0x7C, 0x3E, 0x20]
TOKENS = [b"[", b"]", b"{", b"}", b": ", b"- ", b"&a ", b"*a", b"*nope", b"!!binary ",
          b"!tag ", b"%YAML 1.1\n", b"---\n", b"...\n", b"\t", b"\r", b"\xef\xbb\xbf",
          b"\xff\xfe", b"${{", b"}}", b"${{ params.nope }}", b"? ", b"<<: *a\n", b"'", b'"',
          b"|\n", b">-\n", b"#", b"\\", b"\x00", b"\n  ", b"\n    - ", b"~", b"null",
          b"1e999", b"-1", b"0x", b"@every 0s", b"99999999999999999999999"]
BAD_UTF8 = [b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\xe2\x82",
            b"\xef\xbf\xbe", b"\xf4\x90\x80\x80"]
WEIRD_VALUES = [b"-1", b"1e999", b"null", b"~", b"[", b"{", b"''", b'""', b"@every 0s",
                b"${{ params.nope }}", b"!!binary AAAA", b"*undefined", b"99999999999999999",
                b"0x1F", b".inf", b"2024-02-30", b"[[[[[[", b"{a: {b: {c: }}}", b"yes", b"\x00"]

# Operation kinds and their weights (per mille).
OPS = [
    ("mutant", 560), ("copy", 40), ("same_id", 25), ("fresh", 20), ("special", 40),
    ("deep", 20), ("symlink", 50), ("vanish", 60), ("rewrite", 80), ("delete", 30),
    ("rename", 25), ("dir", 10), ("fifo", 10),
]


def max_file_bytes():
    """DAG_MAX_FILE_BYTES from src/dag/dag_load.h (64 MiB if it cannot be read)."""
    try:
        with open(os.path.join(ROOT, "src/dag/dag_load.h")) as f:
            m = re.search(r"#define\s+DAG_MAX_FILE_BYTES\s+\(([^)]*)\)", f.read())
        if m and re.fullmatch(r"[0-9u *]+", m.group(1)):
            v = 1
            for part in m.group(1).replace("u", "").split("*"):
                v *= int(part)
            return v
    except OSError:
        pass
    return 64 * 1024 * 1024


def load_seeds():
    seeds = []
    for cls, rel in SEED_DIRS:
        d = os.path.join(ROOT, rel)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not name.endswith(".err"):
                with open(p, "rb") as f:
                    seeds.append((cls, rel + "/" + name, f.read()))
    if not seeds:
        sys.exit("mutate: no seed files under " + ROOT)
    return seeds


class Chaos:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.out = args.out.rstrip("/") or "/"
        self.stage = args.stage or os.path.join(
            os.path.dirname(os.path.abspath(self.out)), "." + os.path.basename(
                os.path.abspath(self.out)) + ".chaos-stage")
        os.makedirs(self.stage, exist_ok=True)
        self.targets = os.path.join(self.stage, "targets")
        os.makedirs(self.targets, exist_ok=True)
        self.seeds = load_seeds()
        self.valid = [s for s in self.seeds if s[0] == "valid"]
        self.max_bytes = max_file_bytes()
        self.live = args.live or []
        self.live_files = [os.path.abspath(p) for p in (args.live_file or [])]
        self.present = []     # our entries (relative paths), oldest first
        self.protected = set()  # never rewritten, renamed or deleted (pruning aside)
        self.dirs = []        # our directories named *.yaml / *.yml (relative)
        self.manifest = open(args.manifest, "a") if args.manifest else None
        self.t0 = time.monotonic()
        self.counts = {}
        self.i = 0
        # Stable symlink targets outside the DAG folder: copies of some seeds.
        self.target_files = []
        for k, (cls, rel, data) in enumerate(self.valid + [self.seeds[-1]]):
            p = os.path.join(self.targets, "target_%02d.yaml" % k)
            with open(p, "wb") as f:
                f.write(data)
            self.target_files.append(p)

    # ---- helpers ---------------------------------------------------------------------------

    def log(self, op, kind, path, mode=""):
        self.counts[op] = self.counts.get(op, 0) + 1
        if self.manifest:
            self.manifest.write(json.dumps({
                "i": self.i, "t": round(time.monotonic() - self.t0, 3), "op": op,
                "kind": kind, "path": path, "mode": mode}) + "\n")

    def full(self, rel):
        return os.path.join(self.out, rel)

    def name(self, kind):
        r = self.rng.random()
        ext = ".yml" if self.rng.random() < 0.1 else ".yaml"
        if r < 0.03:
            base = "chaos %05d \u00e9_%s%s" % (self.i, kind, ext)
        else:
            base = "chaos_%05d_%s%s" % (self.i, kind, ext)
        live_dirs = [d for d in self.dirs if os.path.isdir(self.full(d))]
        if live_dirs and self.rng.random() < 0.1:
            return os.path.join(self.rng.choice(live_dirs), base)
        return base

    def add_present(self, rel, protect=False):
        if rel not in self.present:
            self.present.append(rel)
        if protect:
            self.protected.add(rel)

    def drop_present(self, rel):
        if rel in self.present:
            self.present.remove(rel)
        self.protected.discard(rel)
        if rel in self.dirs:
            self.dirs.remove(rel)
            pre = rel + "/"
            self.present = [p for p in self.present if not p.startswith(pre)]
            self.protected = {p for p in self.protected if not p.startswith(pre)}
            self.dirs = [d for d in self.dirs if not d.startswith(pre)]

    def write(self, rel, data, mode=None):
        """Write data at rel: in place (one or several writes) or staged and renamed in."""
        if mode is None:
            r = self.rng.random()
            mode = "inplace" if r < 0.45 else "chunked" if r < 0.6 else "rename"
        path = self.full(rel)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if mode == "rename":
            tmp = os.path.join(self.stage, "w%d" % self.i)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, path)
        elif mode == "chunked" and len(data) > 2:
            cuts = sorted(self.rng.randrange(len(data)) for _ in range(3))
            with open(path, "wb", buffering=0) as f:
                last = 0
                for c in cuts + [len(data)]:
                    f.write(data[last:c])
                    last = c
        else:
            mode = "inplace"
            with open(path, "wb") as f:
                f.write(data)
        return mode

    # ---- content ---------------------------------------------------------------------------

    def mutate(self, data):
        rng = self.rng
        data = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            m = rng.randrange(14)
            n = len(data)
            if m == 0 and n:                       # truncation
                del data[rng.randrange(n):]
            elif m == 1 and n:                     # bit flips
                for _ in range(rng.randint(1, 8)):
                    data[rng.randrange(n)] ^= 1 << rng.randrange(8)
            elif m == 2 and n:                     # interesting bytes
                for _ in range(rng.randint(1, 4)):
                    data[rng.randrange(n)] = rng.choice(INTERESTING_BYTES)
            elif m == 3:                           # a token inserted
                p = rng.randint(0, n)
                data[p:p] = rng.choice(TOKENS)
            elif m == 4:                           # NULs
                for _ in range(rng.randint(1, 3)):
                    p = rng.randint(0, len(data))
                    data[p:p] = b"\x00"
            elif m == 5 and n:                     # a range deleted
                p = rng.randrange(n)
                del data[p:p + rng.randint(1, 64)]
            elif m == 6 and n:                     # a range duplicated
                p = rng.randrange(n)
                data[p:p] = data[p:p + rng.randint(1, 256)]
            elif m == 7:                           # spliced with another seed
                other = rng.choice(self.seeds)[2]
                data = data[:rng.randint(0, n)] + other[rng.randint(0, len(other)):]
            elif m == 8:                           # lines: shuffle, duplicate, drop, indent
                lines = bytes(data).split(b"\n")
                if len(lines) > 1:
                    k = rng.randrange(len(lines))
                    op = rng.randrange(4)
                    if op == 0:
                        j = rng.randrange(len(lines))
                        lines[k], lines[j] = lines[j], lines[k]
                    elif op == 1:
                        lines.insert(k, lines[k])
                    elif op == 2:
                        del lines[k]
                    else:
                        lines[k] = b" " * rng.randint(1, 4) + lines[k] if rng.random() < 0.5 \
                            else lines[k].replace(b"  ", b"\t", 1)
                data = bytearray(b"\n".join(lines))
            elif m == 9:                           # line breaks
                data = bytearray(bytes(data).replace(b"\n", rng.choice([b"\r\n", b"\r"])))
            elif m == 10:                          # bad UTF-8
                p = rng.randint(0, n)
                data[p:p] = rng.choice(BAD_UTF8)
            elif m == 11:                          # a value replaced
                s = bytes(data)
                hits = [mm.end() for mm in re.finditer(rb": ", s)]
                if hits:
                    p = rng.choice(hits)
                    e = s.find(b"\n", p)
                    e = len(s) if e < 0 else e
                    data = bytearray(s[:p] + rng.choice(WEIRD_VALUES) + s[e:])
            elif m == 12 and self.live:            # the id of a live DAG
                data = bytearray(self.with_id(bytes(data), rng.choice(self.live)))
            elif m == 13:                          # an anchor and aliases
                p = rng.randint(0, n)
                data[p:p] = b"&x [a, b]\nz: *x\n"
        return bytes(data)

    @staticmethod
    def with_id(data, dag_id):
        body = re.sub(rb"(?m)^id:.*\n?", b"", data)
        return b"id: " + dag_id.encode() + b"\n" + body

    def fresh(self):
        """A valid DAG of our own; half have a short @every schedule."""
        rng = self.rng
        n = rng.randint(1, 4)
        lines = ["# chaos-fresh: a valid DAG written by tests/chaos/mutate.py"]
        scheduled = rng.random() < 0.5
        if scheduled:
            lines.append('schedule: "@every %ds"' % rng.randint(5, 15))
        lines.append("tasks:")
        for k in range(n):
            lines.append("  t%d:" % k)
            if k:
                lines.append("    depends: [t%d]" % (k - 1))
            lines.append("    run: echo chaos fresh %d %d" % (self.i, k))
        return ("\n".join(lines) + "\n").encode(), scheduled

    def special(self):
        rng = self.rng
        k = rng.randrange(10)
        if k == 0:
            return "empty", b""
        if k == 1:
            return "bom", b"\xef\xbb\xbf"
        if k == 2:
            return "binary", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 65536)))
        if k == 3:
            return "longline", b"tasks: {a: echo " + b"x" * rng.randint(1 << 16, 1 << 20) + b"}\n"
        if k == 4:  # the billion laughs
            s = b"tasks:\n  a: echo\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n"
            for j in range(1, 10):
                s += b"l%d: &l%d [%s]\n" % (j, j, b", ".join([b"*l%d" % (j - 1)] * 9))
            return "aliasbomb", s
        if k == 5:
            return "manydocs", b"tasks: {a: echo}\n---\n" * 10000
        if k == 6:
            s = b"tasks:\n" + b"".join(b"  t%d: {runn: x}\n" % j for j in range(20000))
            return "manyerrors", s
        if k == 7:
            return "comments", b"# only a comment\n" * rng.randint(1, 1000)
        if k == 8:
            return "crlf", rng.choice(self.valid)[2].replace(b"\n", b"\r\n")
        return "utf16", rng.choice(self.valid)[2].decode("latin-1").encode("utf-16")

    def deep(self):
        rng = self.rng
        k = rng.randrange(5)
        if k == 0:
            return "brackets", b"[" * 100000
        if k == 1:
            return "braces", b"tasks: " + b"{a: " * 100000
        if k == 2:
            return "dashes", b"tasks:\n" + b"".join(b"  " * j + b"- \n" for j in range(2000))
        if k == 3:
            return "indent", b"tasks:\n" + b"".join(b" " * j + b"k%d:\n" % j
                                                     for j in range(1, 2000))
        return "mixed", b"tasks: " + b"[{a: " * 50000 + b"]}" * 50000

    # ---- operations ------------------------------------------------------------------------

    def op_mutant(self):
        cls, rel, data = self.rng.choice(self.seeds)
        path = self.name("mutant")
        self.log("mutant", cls, path, self.write(path, self.mutate(data)))
        self.add_present(path)

    def op_copy(self):
        cls, rel, data = self.rng.choice(self.seeds)
        path = self.name("copy")
        self.log("copy", cls, path, self.write(path, data))
        self.add_present(path)

    def op_same_id(self):
        if not self.live:
            return self.op_mutant()
        dag_id = self.rng.choice(self.live)
        if self.live_files and self.rng.random() < 0.5:
            with open(self.rng.choice(self.live_files), "rb") as f:
                data = f.read()
        else:
            data = self.with_id(self.rng.choice(self.valid)[2], dag_id)
        path = self.name("sameid")
        self.log("same_id", dag_id, path, self.write(path, data))
        self.add_present(path)

    def op_fresh(self):
        data, scheduled = self.fresh()
        path = "chaos_%05d_fresh.yaml" % self.i
        self.log("fresh", "scheduled" if scheduled else "manual", path, self.write(path, data))
        self.add_present(path, protect=scheduled)

    def op_special(self):
        kind, data = self.special()
        path = self.name(kind)
        self.log("special", kind, path, self.write(path, data))
        self.add_present(path)

    def op_deep(self):
        kind, data = self.deep()
        path = self.name(kind)
        self.log("deep", kind, path, self.write(path, data))
        self.add_present(path)

    def op_symlink(self):
        rng = self.rng
        kinds = ["valid", "valid", "devzero", "devnull", "dangling", "selfloop", "pairloop"]
        if self.live_files:
            kinds.append("live")
        kind = rng.choice(kinds)
        path = self.name("link_" + kind)
        if kind == "valid":
            target = rng.choice(self.target_files)
        elif kind == "live":
            target = rng.choice(self.live_files)
        elif kind == "devzero":
            target = "/dev/zero"
        elif kind == "devnull":
            target = "/dev/null"
        elif kind == "dangling":
            target = os.path.join(self.stage, "no-such-file-%d.yaml" % self.i)
        elif kind == "selfloop":
            target = os.path.basename(path)
        else:
            other = os.path.join(os.path.dirname(path), "chaos_%05d_link_pairloop_b.yaml"
                                 % self.i)
            target = os.path.basename(other)
        inplace = rng.random() < 0.5
        links = [(path, target)]
        if kind == "pairloop":
            links.append((other, os.path.basename(path)))
        for p, t in links:
            full = self.full(p)
            os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
            if inplace:
                os.symlink(t, full)
            else:
                tmp = os.path.join(self.stage, "l%d" % self.i)
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(t, tmp)
                os.rename(tmp, full)
            self.add_present(p)
        self.log("symlink", kind, path, "inplace" if inplace else "rename")

    def op_vanish(self):
        rng = self.rng
        kind = rng.choice(["unlink", "rename_away", "rename_other", "flap", "big_unlink",
                           "big_truncate", "dir"])
        path = self.name("vanish_" + kind)
        full = self.full(path)
        data = self.mutate(rng.choice(self.seeds)[2])
        if kind == "unlink":
            with open(full, "wb") as f:
                f.write(data)
            os.unlink(full)
        elif kind == "rename_away":
            with open(full, "wb") as f:
                f.write(data)
            os.rename(full, full + ".gone")
            os.unlink(full + ".gone")
        elif kind == "rename_other":
            with open(full, "wb") as f:
                f.write(data)
            path2 = path.replace("vanish_rename_other", "renamed")
            os.rename(full, self.full(path2))
            self.add_present(path2)
        elif kind == "flap":
            for _ in range(5):
                with open(full, "wb") as f:
                    f.write(self.mutate(rng.choice(self.seeds)[2]))
            self.add_present(path)
        elif kind in ("big_unlink", "big_truncate"):
            big = b"tasks:\n  a: echo big\n" + b"# " + b"z" * 97 + b"\n"
            with open(full, "wb") as f:
                f.write(big[:22])
                f.write(big[22:] * (8 * 1024 * 1024 // 100))
            if kind == "big_unlink":
                os.unlink(full)
            else:
                with open(full, "r+b") as f:
                    f.truncate(rng.randint(0, 100))
                self.add_present(path)
        else:
            d = path + ".d.yaml"
            os.mkdir(self.full(d))
            os.rmdir(self.full(d))
        self.log("vanish", kind, path)

    def pick(self, regular_only=True):
        cands = [p for p in self.present if p not in self.protected and p not in self.dirs
                 and (not regular_only or (os.path.isfile(self.full(p))
                                           and not os.path.islink(self.full(p))))]
        return self.rng.choice(cands) if cands else None

    def op_rewrite(self):
        p = self.pick()
        if p is None:
            return self.op_mutant()
        try:
            with open(self.full(p), "rb") as f:
                old = f.read(1 << 20)
        except OSError:
            old = b""
        data = self.mutate(old if old and self.rng.random() < 0.5
                           else self.rng.choice(self.seeds)[2])
        self.log("rewrite", "", p, self.write(p, data))

    def op_delete(self):
        p = self.pick(regular_only=False)
        if p is None:
            return self.op_mutant()
        try:
            os.unlink(self.full(p))
        except OSError:
            pass
        self.drop_present(p)
        self.log("delete", "", p)

    def op_rename(self):
        p = self.pick(regular_only=False)
        if p is None:
            return self.op_mutant()
        q = self.name("renamed")
        try:
            os.makedirs(os.path.dirname(self.full(q)) or ".", exist_ok=True)
            os.rename(self.full(p), self.full(q))
        except OSError:
            return
        self.drop_present(p)
        self.add_present(q)
        self.log("rename", "", q, p)

    def op_dir(self):
        rng = self.rng
        if "x.yaml" not in self.dirs:
            kind, d = "x.yaml", "x.yaml"
            os.mkdir(self.full(d))
        else:
            kind = rng.choice(["mkdir", "move_in", "rmtree"])
            d = "chaos_%05d_dir%s" % (self.i, rng.choice([".yaml", ".yml"]))
            if kind == "rmtree":
                cands = [x for x in self.dirs if x != "x.yaml"
                         and not any(p in self.protected for p in self.present
                                     if p.startswith(x + "/"))]
                if not cands:
                    kind = "mkdir"
                else:
                    d = rng.choice(cands)
                    shutil.rmtree(self.full(d), ignore_errors=True)
                    self.drop_present(d)
            if kind == "mkdir":
                os.mkdir(self.full(d))
            elif kind == "move_in":
                tmp = os.path.join(self.stage, "d%d" % self.i)
                os.mkdir(tmp)
                names = []
                for k in range(3):
                    n = "inner_%d.yaml" % k
                    with open(os.path.join(tmp, n), "wb") as f:
                        f.write(self.mutate(rng.choice(self.seeds)[2]))
                    names.append(n)
                os.rename(tmp, self.full(d))
                for n in names:
                    self.add_present(d + "/" + n)
        if kind != "rmtree":
            self.dirs.append(d)
            self.add_present(d)
        self.log("dir", kind, d)

    def op_fifo(self):
        path = self.name("fifo")
        inplace = self.rng.random() < 0.5
        if inplace:
            os.mkfifo(self.full(path))
        else:
            tmp = os.path.join(self.stage, "f%d" % self.i)
            os.mkfifo(tmp)
            os.rename(tmp, self.full(path))
        self.add_present(path)
        self.log("fifo", "", path, "inplace" if inplace else "rename")

    def huge(self, k):
        """The k-th huge file (k cycles through the list)."""
        lim = self.max_bytes
        kinds = ["over_sparse", "under_comment", "over_data", "at_limit_nul", "many_tasks",
                 "grown_over", "long_scalar"]
        kind = kinds[k % len(kinds)]
        path = "chaos_%05d_huge_%s.yaml" % (self.i, kind)
        full = self.full(path)
        head = b'schedule: "@every 1h"\ntasks:\n  a: echo huge\n'
        line = b"# " + b"h" * 97 + b"\n"
        mode = "inplace"
        if kind == "over_sparse":
            with open(full, "wb") as f:
                f.truncate(lim + 1)
        elif kind == "at_limit_nul":
            with open(full, "wb") as f:
                f.truncate(lim)
        elif kind in ("over_data", "under_comment", "grown_over"):
            size = lim + 4096 if kind == "over_data" else \
                lim - (4 << 20) if kind == "under_comment" else 4096
            body = head + line * ((size - len(head)) // len(line) + 1)
            body = body[:size]
            if kind == "over_data":
                mode = self.write(path, body, "rename")
            else:
                with open(full, "wb") as f:
                    f.write(body)
            if kind == "grown_over":
                with open(full, "ab") as f:
                    chunk = line * 10486
                    while f.tell() <= lim:
                        f.write(chunk)
                mode = "append"
        elif kind == "many_tasks":
            body = b"tasks:\n" + b"".join(b"  t%d: echo %d\n" % (j, j) for j in range(200000))
            mode = self.write(path, body, "rename")
        else:
            body = b'description: "' + b"d" * (32 << 20) + b'"\ntasks:\n  a: echo\n'
            with open(full, "wb") as f:
                f.write(body)
        self.add_present(path, protect=True)
        self.log("huge", kind, path, mode)

    def fault(self, k):
        """A valid DAG that makes a processor started with GUST_TEST_PARSER_FAULTS=1 crash,
        allocate without end, or hang (dagproc.h): cycles crash, memory, hang."""
        kind = ["crash", "memory", "hang"][k % 3]
        path = "chaos_%05d_fault_%s.yaml" % (self.i, kind)
        data = b"# gust-test-fault: " + kind.encode() + b"\ntasks:\n  a: echo fault\n"
        self.log("fault", kind, path, self.write(path, data, "rename"))
        self.add_present(path, protect=True)

    def prune(self):
        while self.a.max_present and len(self.present) > self.a.max_present:
            p = self.present[0]
            full = self.full(p)
            if p in self.dirs:
                shutil.rmtree(full, ignore_errors=True)
            else:
                try:
                    os.unlink(full)
                except OSError:
                    pass
            self.drop_present(p)
            self.counts["prune"] = self.counts.get("prune", 0) + 1

    def run(self):
        a = self.a
        ops = [o for o, _ in OPS]
        weights = [w for _, w in OPS]
        huge_at = {}
        for k in range(a.huge if a.count > 2 * a.huge else 0):
            huge_at[(k + 1) * a.count // (a.huge + 1)] = k
        # Up to 3 faults come early (at 5%, 10%, 15%), so that a hang's stall ends well
        # before the run does; more are spread evenly.
        fault_at = {}
        for k in range(a.faults if a.count > 40 * a.faults else 0):
            at = (k + 1) * a.count // 20 if a.faults <= 3 else (k + 1) * a.count // (a.faults + 1)
            fault_at[at + 1] = k
        interval = a.seconds * a.batch / a.count if a.seconds > 0 and a.count else 0
        for self.i in range(a.count):
            if interval and self.i % a.batch == 0:
                due = self.t0 + (self.i // a.batch) * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if self.i == 0:
                self.op_dir()           # the directory named x.yaml comes first
                continue
            if self.i in huge_at:
                self.huge(huge_at[self.i])
                continue
            if self.i in fault_at:
                self.fault(fault_at[self.i])
                continue
            op = self.rng.choices(ops, weights)[0]
            getattr(self, "op_" + op)()
            self.prune()
        if self.manifest:
            self.manifest.close()
        took = time.monotonic() - self.t0
        if not a.quiet:
            print("mutate: %d operations in %.1f s (seed %d): %s; %d entries present" % (
                a.count, took, a.seed,
                ", ".join("%s %d" % kv for kv in sorted(self.counts.items())),
                len(self.present)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the DAG folder (must exist)")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--live", action="append", help="a live DAG id (same-id files)")
    ap.add_argument("--live-file", action="append", help="a live DAG file (symlinks, copies)")
    ap.add_argument("--huge", type=int, default=7,
                    help="how many huge files, spread evenly (they cycle through 7 kinds)")
    ap.add_argument("--faults", type=int, default=0,
                    help="files with gust-test-fault markers: crash, memory, hang, crash, ...")
    ap.add_argument("--max-present", type=int, default=0)
    ap.add_argument("--manifest")
    ap.add_argument("--stage", help="staging folder on the same file system as --out")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if not os.path.isdir(args.out):
        sys.exit("mutate: %s is not a folder" % args.out)
    if args.batch < 1 or args.count < 0:
        sys.exit("mutate: bad --batch or --count")
    Chaos(args).run()


if __name__ == "__main__":
    main()
