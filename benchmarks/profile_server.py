"""Sample the gunicorn workers with py-spy while one endpoint of the API benchmark is under load.

    python -m benchmarks.profile_server [--seconds 10] [--top 40] [--svg DIR] ENDPOINT ...

ENDPOINT is a name of benchmarks.api_bench's endpoints: "list", "list minimal",
"list reference", "create", "create, no Idempotency-Key", "create minimal". Needs py-spy
(`pip install py-spy`; not a run-time requirement of the benchmarks) and wrk or the Python
loader. Prints, per endpoint, the functions with the largest share of samples, inclusive
(the function and what it calls) and own, over both workers; --svg also writes flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks import api_bench
from benchmarks.loaders import available_loaders, python_load, wrk_load
from benchmarks.server import _children, bench_server, progress


def _record(pid: int, seconds: int, out: Path, fmt: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            f"--pid={pid}",
            f"--duration={seconds}",
            f"--format={fmt}",
            f"--output={out}",
            "--rate=200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


_IDLE = ("select ", "wait (threading", "_worker (concurrent")


def _summarise(files: list[Path], top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count_s = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_s)
            frames = stack.split(";")
            # The idle gthread threads wait in selectors/queues: count only busy stacks.
            if any(f.startswith(_IDLE) for f in frames[-2:]):
                continue
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    lines = [f"{total} busy samples"]
    lines.append("  inclusive:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    lines.append("  own:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("endpoints", nargs="+")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--svg", type=Path, default=None, help="write flame graphs here")
    args = parser.parse_args(argv)
    if not shutil.which("py-spy"):
        parser.error("py-spy is not installed (pip install py-spy)")
    loader = available_loaders()[0]
    with bench_server() as server:
        writers = [server.new_patient("writer").token for _ in range(api_bench.CONCURRENCY)]
        calls = api_bench._calls(server, writers)
        for name in args.endpoints:
            call = calls[name]
            progress(f"warming up {name}")
            wrk_load(server.base_url, call, seconds=2, concurrency=8) if loader == "wrk" else (
                python_load(server.base_url, call, requests_total=100, concurrency=8)
            )
            tmp = Path(tempfile.mkdtemp(prefix="pyspy-"))
            workers = _children(server.pid)
            fmt = "raw"
            procs = [_record(pid, args.seconds, tmp / f"{pid}.txt", fmt) for pid in workers]
            progress(f"sampling {len(workers)} workers for {args.seconds} s under load: {name}")

            def load(call=call) -> None:  # type: ignore[no-untyped-def]
                if loader == "wrk":
                    wrk_load(server.base_url, call, seconds=args.seconds + 1, concurrency=8)
                else:
                    python_load(server.base_url, call, requests_total=10**9, concurrency=8)

            thread = threading.Thread(target=load, daemon=True)
            thread.start()
            for p in procs:
                p.wait()
            thread.join(timeout=args.seconds + 30)
            print(f"\n== {name}: " + _summarise(sorted(tmp.glob("*.txt")), args.top))
            if args.svg:
                args.svg.mkdir(parents=True, exist_ok=True)
                svg_procs = [
                    _record(
                        pid,
                        args.seconds,
                        args.svg / f"{name.replace(' ', '_')}-{pid}.svg",
                        "flamegraph",
                    )
                    for pid in workers
                ]
                thread = threading.Thread(target=load, daemon=True)
                thread.start()
                for p in svg_procs:
                    p.wait()
                thread.join(timeout=args.seconds + 30)
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
