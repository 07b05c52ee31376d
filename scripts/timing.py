"""One timed run of a command, for the benchmark scripts
(`side_by_side.py`, `cache_ratio.py`): wall seconds, CPU seconds (user +
sys of it and its children) and, if asked, peak RSS in KiB by GNU time
(a child forked from Python starts with Python's pages counted, so
`ru_maxrss` alone overstates a small command's)."""

import os
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def timed(cmd, who, out=subprocess.DEVNULL, rss=False):
    """Runs `cmd` (a shell line if a string, else an argv list) with stdin
    from /dev/null and stdout to `out`; exits naming `who` if it fails.
    Returns (wall, cpu, rss): rss in KiB, or None unless asked for (and
    GNU time is there)."""
    shell = isinstance(cmd, str)
    rss_file = None
    if rss and not shell and os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="timing.")
        os.close(fd)
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file, "--"] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=out, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        line = cmd if shell else " ".join(cmd)
        sys.exit(f"{who}: failed ({status}): {line}")
    peak = usage.ru_maxrss if rss else None
    if rss_file is not None:
        with open(rss_file) as f:
            peak = int(f.read().split()[-1])
        os.unlink(rss_file)
    return wall, usage.ru_utime + usage.ru_stime, peak
