#!/usr/bin/env python3
"""Thumbnail step time at the CPU shares Lambda gives memory sizes (issue 14, docs/cost.md).

Lambda gives a function CPU in proportion to its memory (1,769 MB = one vCPU) with the same
mechanism as a CFS quota, so each memory size is run here as a cgroup v1 cpu.cfs_quota_us of
share x cfs_period_us, and `imgpipe thumbnail` makes the 1024 px and 256 px thumbnails of each
photo in it (one process per photo, each under the 15 MiB upload limit). Prints one JSON object: per memory size, the median wall ms per photo and the
GB-s per photo it would bill. Needs root (a writable /sys/fs/cgroup/cpu).

    python3 bench/lambda_memory.py IMGPIPE_BIN PHOTO...
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup/cpu/imgpipe-lambda-memory")
PERIOD_US = 100_000
ONE_VCPU_MB = 1769
SIZES_MB = [512, 1024, 1769, 2048]
ROUNDS = 3


def run_in_cgroup(cmd: list[str], quota_us: int) -> float:
    (CGROUP / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (CGROUP / "cpu.cfs_quota_us").write_text(str(quota_us))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: (CGROUP / "cgroup.procs").write_text(str(os.getpid())))
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.decode(errors='replace')}")
    return time.perf_counter() - start


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    binary, photos = sys.argv[1], sys.argv[2:]
    CGROUP.mkdir(exist_ok=True)
    out: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # One process per photo, as one invocation of the step makes one image's thumbnails.
            cmds = [[binary, "thumbnail", photo, "--out", tmp] for photo in photos]
            for cmd in cmds:
                run_in_cgroup(cmd, -1)  # warm the page cache
            for mb in SIZES_MB:
                quota = int(PERIOD_US * mb / ONE_VCPU_MB)
                times = [sum(run_in_cgroup(cmd, quota) for cmd in cmds) for _ in range(ROUNDS)]
                ms = statistics.median(times) * 1000 / len(photos)
                out[str(mb)] = {"cpu_share": round(mb / ONE_VCPU_MB, 3), "ms_per_photo": round(ms, 1),
                                "gb_s_per_photo": round(mb / 1024 * ms / 1000, 4)}
    finally:
        (CGROUP / "cpu.cfs_quota_us").write_text("-1")
    print(json.dumps({"photos": [Path(p).name for p in photos], "rounds": ROUNDS, "sizes": out}, indent=2))


if __name__ == "__main__":
    main()
