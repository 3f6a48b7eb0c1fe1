"""Load generators: a closed loop of C concurrent clients, each on a keep-alive connection.

- `wrk` (apt-get install wrk): C, a few microseconds of client CPU per request, so on a small
  machine it leaves the cores to the server. Runs for a fixed time; bodies and per-request
  headers (unique client_id and Idempotency-Key) come from a generated Lua script.
- `python`: a thread pool of requests.Session objects issuing exactly N requests. Its own CPU
  (some 0.2-0.4 ms a request, under the GIL) competes with the server for the cores, which
  pulls every ratio towards 1; it is the fallback when wrk is missing.

Both report throughput (completed requests / wall time) and latency percentiles. A request
is a `Call`: the `@CID@` placeholder in its body and headers becomes a fresh UUID.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

PLACEHOLDER = "@CID@"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    expect: int
    body: str | None = None  # may contain PLACEHOLDER
    headers: dict[str, str] = field(default_factory=dict)  # values may contain PLACEHOLDER
    # One bearer token per connection (round-robin): writers that are different patients.
    tokens: tuple[str, ...] = ()


@dataclass
class Stats:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float = 0.0
    app_cpu_ms: float = 0.0  # server CPU per request (gunicorn workers), if measured

    def __post_init__(self) -> None:
        if not self.rps and self.seconds:
            self.rps = self.requests / self.seconds


def available_loaders() -> list[str]:
    return (["wrk"] if shutil.which("wrk") else []) + ["python"]


def _fill(text: str, cid: str) -> str:
    return text.replace(PLACEHOLDER, cid)


def _percentile(sorted_ms: Sequence[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    k = max(0, min(len(sorted_ms) - 1, round(q / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


# --- python ---------------------------------------------------------------------------------


def python_load(base_url: str, call: Call, *, requests_total: int, concurrency: int) -> Stats:
    """Exactly `requests_total` requests from `concurrency` threads, each with a Session."""
    counter = itertools.count()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        session = requests.Session()
        headers_base = dict(call.headers)
        if call.tokens:
            headers_base["Authorization"] = f"Bearer {call.tokens[index % len(call.tokens)]}"
        mine: list[float] = []
        bad = 0
        start_gate.wait()
        while next(counter) < requests_total:
            cid = str(uuid.uuid4())
            headers = {k: _fill(v, cid) for k, v in headers_base.items()}
            body = _fill(call.body, cid).encode() if call.body is not None else None
            t0 = time.perf_counter()
            resp = session.request(call.method, base_url + call.path, data=body, headers=headers)
            mine.append((time.perf_counter() - t0) * 1000)
            if resp.status_code != call.expect:
                bad += 1
        session.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    start_gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return Stats(
        requests=len(latencies),
        seconds=seconds,
        errors=errors[0],
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        p99_ms=_percentile(latencies, 99),
    )


# --- wrk ------------------------------------------------------------------------------------

_LUA = r"""
local tokens = {TOKENS}
local method = [==[{METHOD}]==]
local path = [==[{PATH}]==]
local body = {BODY}
local header_names = {HEADER_NAMES}
local header_values = {HEADER_VALUES}
local nonce = {NONCE}
local dynamic = {DYNAMIC}

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local counter = 0
local function fill(text, cid)
  return (string.gsub(text, "@CID@", cid))
end

function init(args)
  wrk.method = method
  wrk.path = path
  if body ~= nil then wrk.body = body end
  for i, name in ipairs(header_names) do wrk.headers[name] = header_values[i] end
  if #tokens > 0 then
    wrk.headers["Authorization"] = "Bearer " .. tokens[(tid % #tokens) + 1]
  end
end

if dynamic then
  function request()
    counter = counter + 1
    local cid = string.format("%08x-%04x-4000-8000-%012x", nonce, tid, counter)
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = fill(value, cid) end
    local b = nil
    if body ~= nil then b = fill(body, cid) end
    return wrk.format(method, path, headers, b)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str | None) -> str:
    if value is None:
        return "nil"
    if "]==]" in value:
        raise ValueError("value cannot be quoted for Lua")
    return f"[==[{value}]==]"


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(_lua_string(v) for v in values) + "}"


def wrk_load(base_url: str, call: Call, *, seconds: float, concurrency: int) -> Stats:
    """`concurrency` connections for `seconds`, one wrk thread per connection.

    wrk counts only statuses >= 400 as errors; callers that need an exact status (201 on a
    create) check the database afterwards.
    """
    dynamic = PLACEHOLDER in (call.body or "") or any(
        PLACEHOLDER in v for v in call.headers.values()
    )
    script = (
        _LUA.replace("{TOKENS}", _lua_list(call.tokens))
        .replace("{METHOD}", call.method)
        .replace("{PATH}", call.path)
        .replace("{BODY}", _lua_string(call.body))
        .replace("{HEADER_NAMES}", _lua_list(list(call.headers)))
        .replace("{HEADER_VALUES}", _lua_list(list(call.headers.values())))
        .replace("{NONCE}", str(random.getrandbits(32)))
        .replace("{DYNAMIC}", "true" if dynamic else "false")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        path = Path(fh.name)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"--threads={concurrency}",
                f"--connections={concurrency}",
                f"--duration={max(1, round(seconds))}s",
                "--timeout=10s",
                f"--script={path}",
                base_url + call.path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        path.unlink(missing_ok=True)
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    return Stats(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["status_errors"] + data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def median_stats(rounds: Sequence[Stats]) -> Stats:
    """Median throughput and median percentiles of the rounds; requests and errors summed."""
    return Stats(
        requests=sum(s.requests for s in rounds),
        seconds=sum(s.seconds for s in rounds),
        errors=sum(s.errors for s in rounds),
        p50_ms=statistics.median(s.p50_ms for s in rounds),
        p95_ms=statistics.median(s.p95_ms for s in rounds),
        p99_ms=statistics.median(s.p99_ms for s in rounds),
        rps=statistics.median(s.rps for s in rounds),
        app_cpu_ms=statistics.median(s.app_cpu_ms for s in rounds),
    )
