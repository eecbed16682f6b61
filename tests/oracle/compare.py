#!/usr/bin/env python3
"""Differential run: the oracle (apiserver.py) against the crate's conformance runner.

Generates mutated NetworkPolicy objects (mutate.py), writes them into scenario files
(the shared FORMAT.md format: a `policies` list, no queries), runs

    cargo run --release --example conformance -- --json FILE...

in the crate checkout given by --crate, and compares per object (by position in the
file): accepted or refused, and when both refuse, the first refused field. Prints the
agreement and the disagreeing cases grouped by class. Exits 1 when accept/refuse
agreement is below 100% (or, with --require-fields, when a first field differs; with
--min-fields PCT, when fewer than PCT% of the objects both refuse name the same first
field up to what the apiserver leaves unnamed), 2 when the runner cannot be run.

Example: python3 tests/oracle/compare.py --crate . --seed 1 --limit 20000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from oracle import apiserver, mutate  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def strip_indices(path: str) -> str:
    """spec.ingress[0].ports[1].port -> spec.ingress.ports.port (map keys go too)."""
    return re.sub(r"\[[^\]]*\]", "", path or "")


def loose(path: str) -> str:
    """Indices dropped, map keys written as `.key`: matchLabels[app] and matchLabels.app
    compare equal, and so do ports[0] and ports[1]."""
    path = re.sub(r"\[[0-9]+\]", "", path or "")
    return re.sub(r"\[([^\]]*)\]", r".\1", path)


def write_scenarios(mutants, outdir, chunk):
    files = []
    for start in range(0, len(mutants), chunk):
        part = mutants[start : start + chunk]
        path = os.path.join(outdir, f"oracle-{start:06d}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"description": "mutated NetworkPolicy objects for the apiserver oracle",\n')
            f.write(' "namespaces": [], "pods": [], "queries": [],\n "policies": [\n')
            f.write(",\n".join(m.text for m in part))
            f.write("\n]}\n")
        files.append((path, part))
    return files


def run_crate(crate, files, runner):
    cmd = runner.split() + ["--json"] + [p for p, _ in files]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=crate, capture_output=True, text=True)
    took = time.time() - t0
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"compare: the runner failed (exit {proc.returncode}): {' '.join(cmd[:6])} ...")
    by_file = defaultdict(list)
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if "policy" in o:
            by_file[o["file"]].append(o)
    return by_file, took


def classify(m, o, c):
    """One comparison: returns (agree_accept, field_level, kind)."""
    oracle_refuses = not o.accepted
    crate_refuses = bool(c.get("rejected"))
    if oracle_refuses != crate_refuses:
        if oracle_refuses:
            return False, None, f"oracle refuses ({o.stage}), crate accepts"
        return False, None, "oracle accepts, crate refuses"
    if not oracle_refuses:
        return True, None, None
    cf = c.get("field") or ""
    e0 = o.errors[0]
    if cf == e0.field:
        return True, "exact", None
    # A decode error names no index or map key in Go (UnmarshalTypeError.Field), so only
    # there is a path that differs in indices/keys counted apart; in validation errors
    # the apiserver names indices, and any difference is a different field.
    if o.stage == "decode" and (loose(cf) == loose(e0.field) or (e0.go_field and loose(cf) == e0.go_field)):
        return True, "modulo-indices", f"both refuse ({o.stage}), first field differs only in indices/keys"
    # apiVersion/kind refusals carry no field path in the apiserver's answer: which of the
    # two names the oracle gives is a convention.
    if o.stage == "typemeta" and cf.lower() in ("apiversion", "kind") and e0.field in ("apiVersion", "kind"):
        return True, "modulo-indices", f"both refuse ({o.stage}), apiVersion and kind named differently"
    if any(cf == e.field for e in o.errors):
        return True, "another", f"both refuse ({o.stage}), crate names a later oracle error"
    return True, "none", f"both refuse ({o.stage}), different field"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crate", default=REPO_ROOT, help="crate checkout to run (default: this repository)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=int, default=2000, help="number of mutated objects")
    ap.add_argument("--chunk", type=int, default=5000, help="objects per scenario file")
    ap.add_argument("--keep", metavar="DIR", help="write the scenario files here and keep them")
    ap.add_argument("--examples", type=int, default=3, help="examples printed per disagreement class")
    ap.add_argument("--summary-classes", type=int, default=12, help="classes listed per kind in the summary")
    ap.add_argument("--max-text", type=int, default=400, help="characters of each example object printed")
    ap.add_argument("--json-out", metavar="FILE", help="write every disagreement as JSON lines")
    ap.add_argument("--require-fields", action="store_true", help="also fail when a first field differs")
    ap.add_argument(
        "--min-fields",
        type=float,
        metavar="PCT",
        help="also fail when, of the objects both refuse, fewer than PCT%% name the same first field "
        "up to what the apiserver leaves unnamed",
    )
    ap.add_argument(
        "--runner",
        default="cargo run --quiet --release --example conformance --",
        help="command that runs the conformance runner (in --crate)",
    )
    a = ap.parse_args(argv)

    t0 = time.time()
    mutants = mutate.generate(a.seed, a.limit)
    oracle = [apiserver.check(m.text) for m in mutants]
    t_oracle = time.time() - t0
    print(f"generated and checked {len(mutants)} objects with the oracle in {t_oracle:.1f}s", file=sys.stderr)

    outdir = a.keep or tempfile.mkdtemp(prefix="netpol-oracle-")
    os.makedirs(outdir, exist_ok=True)
    files = write_scenarios(mutants, outdir, a.chunk)
    print(f"running the crate's runner in {a.crate} on {len(files)} file(s) in {outdir}", file=sys.stderr)
    by_file, took = run_crate(os.path.abspath(a.crate), files, a.runner)
    print(f"runner finished in {took:.1f}s", file=sys.stderr)

    results = []
    idx = 0
    for path, part in files:
        lines = by_file.get(path, [])
        if len(lines) != len(part):
            raise SystemExit(f"compare: {path}: the runner printed {len(lines)} policy lines for {len(part)} objects")
        for m, c in zip(part, lines):
            results.append((m, oracle[idx], c))
            idx += 1

    n = len(results)
    agree = 0
    field_levels = Counter()
    both_refuse = 0
    groups = defaultdict(list)
    counts = Counter()
    for m, o, c in results:
        ok, level, kind = classify(m, o, c)
        counts[("oracle", "refuses" if not o.accepted else "accepts")] += 1
        counts[("crate", "refuses" if c.get("rejected") else "accepts")] += 1
        if ok:
            agree += 1
        if level is not None:
            both_refuse += 1
            field_levels[level] += 1
        if kind is not None and level != "exact":
            groups[(kind, m.klass)].append((m, o, c))

    print()
    print(f"objects: {n} (seed {a.seed}); crate: {os.path.abspath(a.crate)}")
    print(
        f"oracle: {counts[('oracle', 'accepts')]} accepted, {counts[('oracle', 'refuses')]} refused; "
        f"crate: {counts[('crate', 'accepts')]} accepted, {counts[('crate', 'refuses')]} refused"
    )
    print(f"accept/refuse agreement: {agree}/{n} = {100.0 * agree / n:.2f}%")
    per_stage = defaultdict(lambda: [0, 0])
    for m, o, c in results:
        st = per_stage[o.stage or "accepted"]
        st[0] += 1
        st[1] += int(bool(c.get("rejected")) == (not o.accepted))
    print("  by the oracle's verdict: " + "; ".join(
        f"{k} {v[1]}/{v[0]}" for k, v in sorted(per_stage.items(), key=lambda kv: -kv[1][0])))
    if both_refuse:
        ex = field_levels["exact"]
        loose = ex + field_levels["modulo-indices"]
        print(
            f"both refuse: {both_refuse}; first field equal: {ex} = {100.0 * ex / both_refuse:.2f}%; "
            f"equal up to what the apiserver leaves unnamed (indices and map keys of decode errors; apiVersion vs kind): "
            f"{loose} = {100.0 * loose / both_refuse:.2f}%; "
            f"crate names a later oracle error: {field_levels['another']}; other field: {field_levels['none']}"
        )

    # Disagreements, grouped: first by kind, then by mutation class, largest first.
    by_kind = defaultdict(list)
    for (kind, klass), items in groups.items():
        by_kind[kind].append((klass, items))
    order = sorted(by_kind, key=lambda k: (not k.startswith("oracle"), -sum(len(i) for _, i in by_kind[k])))
    if order:
        print()
        print("disagreements by kind and mutation class (class = mutation @ abstract path; multi = several mutations):")
        for kind in order:
            print(f"  {kind}: {sum(len(i) for _, i in by_kind[kind])}")
            classes = sorted(by_kind[kind], key=lambda ci: -len(ci[1]))
            for klass, items in classes[: a.summary_classes]:
                print(f"    {len(items):6d}  {klass}")
            if len(classes) > a.summary_classes:
                rest = sum(len(i) for _, i in classes[a.summary_classes :])
                print(f"    {rest:6d}  ({len(classes) - a.summary_classes} more classes)")
    for kind in order:
        classes = sorted(by_kind[kind], key=lambda ci: -len(ci[1]))
        total = sum(len(i) for _, i in classes)
        print()
        print(f"== {kind}: {total} object(s) in {len(classes)} class(es)")
        for klass, items in classes:
            print(f"-- [{len(items)}] {klass}")
            for m, o, c in items[: a.examples]:
                text = m.text if len(m.text) <= a.max_text else m.text[: a.max_text] + "..."
                print(f"   #{m.index} {m.mutations}")
                print(f"     object: {text}")
                errs = "; ".join(
                    (f"{e.field}" + (f" (go: {e.go_field})" if e.go_field else "") + f": {e.message[:140]}")
                    for e in o.errors[:3]
                ) or "accepted"
                print(f"     oracle: {errs}")
                print(f"     crate:  " + (f"refused at {c.get('field')!r}" if c.get("rejected") else "accepted"))

    if a.json_out:
        with open(a.json_out, "w", encoding="utf-8") as f:
            for (kind, klass), items in groups.items():
                for m, o, c in items:
                    f.write(
                        json.dumps(
                            {
                                "kind": kind,
                                "class": klass,
                                "index": m.index,
                                "mutations": m.mutations,
                                "object": m.text,
                                "oracle": o.to_json(),
                                "crate": c,
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
    if agree < n:
        return 1
    if a.require_fields and field_levels["exact"] != both_refuse:
        return 1
    loose_equal = field_levels["exact"] + field_levels["modulo-indices"]
    if a.min_fields is not None and both_refuse and 100.0 * loose_equal / both_refuse < a.min_fields:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
