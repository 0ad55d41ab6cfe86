"""Run wrk with a Lua script and read its numbers.

Every script ends with DONE_FUNCTION: wrk calls it once at the end, and it
writes one JSON line of exact numbers (after RESULT_MARKER), so nothing here
depends on the layout of wrk's report for people.
"""
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

RESULT_MARKER = "BENCH-RESULT "

# wrk's errors.status counts answers of 400 and above; wrk measures latency in microseconds.
DONE_FUNCTION = f'local RESULT_MARKER = "{RESULT_MARKER}"\n' + """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(RESULT_MARKER .. string.format(
    '{"requests": %d, "microseconds": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def as_dict(self) -> dict:
        return {**asdict(self), "requests_per_second": round(self.requests_per_second, 1)}


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed; install it with: apt-get install -y wrk")


def run_wrk(base: str, script: Path, duration: int, connections: int) -> WrkResult:
    # One wrk thread sends far more than this app serves; a 10 s timeout (wrk's default
    # is 2 s) keeps slow answers in the latency numbers instead of counting them as lost.
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
        "-s", str(script), base + "/",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_result(done.stdout)


def parse_result(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line.removeprefix(RESULT_MARKER))
            return WrkResult(
                requests=data["requests"],
                seconds=data["microseconds"] / 1e6,
                non_2xx=data["non_2xx"],
                socket_errors=data["socket_errors"],
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result line:\n{output}")
