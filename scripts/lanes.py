"""Run the whole pytest suite as parallel lanes, one per broker, and report like one run.

Most of the suite waits on brokers (timeouts, redeliveries, restarts of private nodes), so
one pytest process per broker finishes in about the time of the slowest lane instead of
the sum of all. Each broker still sees about the load of one serial run: its tests run
one after another, as before (the compare lane adds one more client). A test marked for
several brokers runs once, in the first lane that names one of them. Each lane writes
``.cache/lanes/<lane>.log``; the script prints each lane's progress while they run, the
full output of every lane that failed, and the summary lines of all of them. Exit
status: 0 when every lane passed.

    python scripts/lanes.py [pytest options...]     # e.g. -x, --durations=20
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".cache" / "lanes"

#: Each lane: its name, its -m expression and where it looks. Together they take every
#: test exactly once (tests/core/test_lanes.py checks that). The compare tests on real
#: brokers have a lane of their own: on SQS alone they take about 9 minutes.
BROKERS = "kafka or rabbitmq or sqs or redis or nats"
LANES: list[tuple[str, str, list[str]]] = [
    ("kafka", "kafka", ["--ignore=tests/compare"]),
    ("rabbitmq", "rabbitmq and not kafka", ["--ignore=tests/compare"]),
    ("sqs", "sqs and not (kafka or rabbitmq)", ["--ignore=tests/compare"]),
    ("compare", "kafka or rabbitmq or sqs", ["tests/compare"]),
    ("redis+nats", "(redis or nats) and not (kafka or rabbitmq or sqs)", []),
    ("memory", f"not ({BROKERS})", []),
]

#: Lanes that start only when another has ended: the compare lane waits for the kafka lane
#: (about 7 minutes), so at most 5 pytest processes share a 2-core machine (6 at once made
#: timing-bound tests fail under load); it still ends before the sqs lane.
AFTER: dict[str, str] = {"compare": "kafka"}

#: Seconds between progress lines.
_EVERY = 60.0

_PERCENT = re.compile(r"\[\s*(\d+)%\]")
_SUMMARY = re.compile(r"^=+ .*(passed|failed|error|no tests ran).* =+$")


@dataclass
class Lane:
    name: str
    marks: str
    where: list[str]
    log: Path
    after: str | None = None
    started: float = field(default_factory=time.monotonic)
    process: subprocess.Popen[bytes] | None = None
    code: int | None = None
    ended: float | None = None

    def progress(self) -> str:
        """The last ``[ NN%]`` pytest printed, or what the lane is doing."""
        if self.code is not None:
            return "passed" if self.code == 0 else f"FAILED (exit {self.code})"
        if self.process is None:
            return f"after {self.after}"
        try:
            text = self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "starting"
        found = _PERCENT.findall(text)
        return f"{found[-1]}%" if found else "collecting"

    def proven(self) -> list[str]:
        """The contract suite's report ("what was proven") from this lane's output."""
        lines = self.log.read_text(errors="replace").splitlines()
        for n, line in enumerate(lines):
            if "anymq contract suite" in line:
                end = next(
                    (m for m in range(n + 1, len(lines)) if lines[m].startswith("=")), len(lines)
                )
                return lines[n + 1 : end]
        return []

    def summary(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        found = [line for line in lines if _SUMMARY.match(line.strip())]
        return found[-1].strip("= ") if found else "no summary line (see the log)"


def command(marks: str, where: list[str], args: list[str]) -> list[str]:
    """The pytest command line of a lane."""
    return [sys.executable, "-m", "pytest", "-m", marks, "-p", "no:cacheprovider", *where, *args]


def start(lane: Lane, args: list[str]) -> None:
    lane.started = time.monotonic()
    with lane.log.open("wb") as out:
        lane.process = subprocess.Popen(
            command(lane.marks, lane.where, args),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )


def main(args: list[str]) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    lanes = [
        Lane(name, marks, where, LOGS / f"{name}.log", AFTER.get(name))
        for name, marks, where in LANES
    ]
    ended = {lane.name: lane for lane in lanes}
    for lane in lanes:
        if lane.after is None:
            start(lane, args)
    began = time.monotonic()
    print(f"lanes: {len(lanes)} pytest processes in parallel, logs in {LOGS.relative_to(ROOT)}/")
    for lane in lanes:
        after = f" (after {lane.after})" if lane.after else ""
        print(f"  {lane.name:<11} -m {lane.marks!r} {' '.join(lane.where)}{after}".rstrip())
    next_report = began + _EVERY
    try:
        while any(lane.code is None for lane in lanes):
            time.sleep(1)
            for lane in lanes:
                if lane.process is None and ended[lane.after or ""].code is not None:
                    start(lane, args)
                    print(f"lanes: {lane.name} started", flush=True)
                if lane.code is None and lane.process is not None:
                    code = lane.process.poll()
                    if code is not None:
                        lane.code, lane.ended = code, time.monotonic()
                        took = lane.ended - lane.started
                        print(
                            f"lanes: {lane.name} done in {took / 60:.1f} min: {lane.summary()}",
                            flush=True,
                        )
            if time.monotonic() >= next_report:
                next_report += _EVERY
                minutes = (time.monotonic() - began) / 60
                state = ", ".join(f"{lane.name} {lane.progress()}" for lane in lanes)
                print(f"lanes: {minutes:.0f} min: {state}", flush=True)
    except KeyboardInterrupt:
        for lane in lanes:
            if lane.process is not None and lane.process.poll() is None:
                lane.process.terminate()
        raise
    failed = [lane for lane in lanes if lane.code != 0]
    for lane in failed:
        print(f"\n{'#' * 30} lane {lane.name} failed: its whole output {'#' * 30}")
        print(lane.log.read_text(errors="replace"))
    proven = [line for lane in lanes if lane.code == 0 for line in lane.proven()]
    if proven:
        print("\nanymq contract suite: what was proven")
        print("\n".join(proven))
    print(f"\nlanes: all done in {(time.monotonic() - began) / 60:.1f} min")
    for lane in lanes:
        took = ((lane.ended or time.monotonic()) - lane.started) / 60
        print(f"  {lane.name:<11} {took:5.1f} min  {lane.summary()}")
    # pytest exit code 5 (no tests collected) counts as a failure: a lane that ran nothing
    # means the markers and the lanes disagree.
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
