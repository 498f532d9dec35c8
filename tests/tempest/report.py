"""Reads a Tempest run's subunit stream and turns it into what
scripts/tempest.sh prints and keeps.

Prints a table of passed / failed / skipped per API suite with totals,
writes every failure with its traceback to failures.txt and the failing
ids to failing.txt, and applies the ratchet of known-failures.txt: a
failure not on the list is a regression (exit 1), a listed test that
passed is reported so the list can shrink (not an error), and a stream
with no test at all means Tempest did not run (exit 1).

Usage: report.py RESULTS.subunit KNOWN_FAILURES OUTPUT_DIR
"""

import collections
import re
import sys
from pathlib import Path

import subunit
import testtools

PASSED = {"success", "xfail"}
FAILED = {"fail", "uxsuccess"}
SKIPPED = {"skip"}
SUITES = ("identity", "image", "compute", "network", "volume")
# "setUpClass (tempest.api.x.Class)": a class-level failure or skip
# stands for the whole class.
CLASS_FIXTURE = re.compile(r"^\w+ \((?P<name>[^)]+)\)$")


def plain_id(test_id):
    """The test's id without Tempest's attributes: `a.b.C.test_d[id-…,smoke]` → `a.b.C.test_d`."""
    return test_id.split("[", 1)[0]


def suite_of(test_id):
    match = CLASS_FIXTURE.match(test_id)
    parts = (match.group("name") if match else test_id).split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["tempest", "api"] else "other"


def read_results(path):
    """Maps each test id to (status, its traceback and requests)."""
    results = {}

    def record(test):
        if test["status"] in ("exists", "inprogress"):
            return
        details = test["details"]
        text = "".join(details[name].as_text() for name in ("traceback", "reason") if name in details)
        # With OS_LOG_CAPTURE the test's own log comes along: keep its
        # requests, which name the call that failed and its status.
        for name in (name for name in details if name.startswith("pythonlogging")):
            requests = [line for line in details[name].as_text().splitlines() if " Request (" in line]
            text += "".join(f"{line}\n" for line in requests)
        results[plain_id(test["id"])] = (test["status"], text)

    stream = subunit.ByteStreamToStreamResult(open(path, "rb"), non_subunit_name="stdout")
    collector = testtools.StreamToDict(record)
    collector.startTestRun()
    stream.run(collector)
    collector.stopTestRun()
    return results


def read_known_failures(path):
    known = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            known.add(line)
    return known


def table(results):
    counts = collections.defaultdict(collections.Counter)
    for test_id, (status, _) in results.items():
        kind = "passed" if status in PASSED else "failed" if status in FAILED else "skipped"
        counts[suite_of(test_id)][kind] += 1
    suites = [s for s in SUITES if s in counts] + sorted(set(counts) - set(SUITES))
    rows = [(s, counts[s]["passed"], counts[s]["failed"], counts[s]["skipped"]) for s in suites]
    rows.append(("total", *(sum(r[i] for r in rows) for i in (1, 2, 3))))
    lines = [f"| {'suite':<10} | {'passed':>6} | {'failed':>6} | {'skipped':>7} |", f"|{'-' * 12}|{'-' * 8}|{'-' * 8}|{'-' * 9}|"]
    lines += [f"| {s:<10} | {p:>6} | {f:>6} | {k:>7} |" for s, p, f, k in rows]
    return "\n".join(lines)


def main(results_path, known_path, out_dir):
    out = Path(out_dir)
    results = read_results(results_path)
    if not results:
        print("Tempest ran no test: see", out / "stestr.log", file=sys.stderr)
        return 1
    failing = sorted(t for t, (status, _) in results.items() if status in FAILED)
    with open(out / "failures.txt", "w") as report:
        for test_id in failing:
            report.write(f"=== {test_id}\n{results[test_id][1]}\n")
    (out / "failing.txt").write_text("".join(f"{t}\n" for t in failing))
    summary = table(results)
    (out / "summary.txt").write_text(summary + "\n")
    print(f"Tempest results (tracebacks in {out / 'failures.txt'}):")
    print(summary)

    known = read_known_failures(known_path)
    now_passing = sorted(t for t in known if t in results and results[t][0] in PASSED)
    for test_id in now_passing:
        print("now passing, remove from known-failures:", test_id)
    regressions = [t for t in failing if t not in known]
    for test_id in regressions:
        print("REGRESSION (fails, not in tests/tempest/known-failures.txt):", test_id)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
