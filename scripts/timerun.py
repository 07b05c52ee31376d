#!/usr/bin/env python3
"""Time a command: median wall time, CPU time and peak RSS over several runs.

Usage:
    python3 scripts/timerun.py [--runs N] [--warmup K] [--out FILE] [--err FILE] -- CMD [ARG...]

Runs CMD K times untimed, then N times timed, with stdin from /dev/null,
stdout to FILE (truncated before each run; default /dev/null) and stderr to
--err (default: inherited). Prints one line:

    WALL_MEDIAN_S CPU_MEDIAN_S PEAK_RSS_KIB STATUS

CPU is user+sys of CMD and every descendant it waited for (wait4). Peak RSS
is the largest resident set of any single process of the command (what
wait4 reports), the maximum over the runs. It is taken through GNU time
(/usr/bin/time -f %M) when that is installed: a process forked from Python
starts with Python's ~10 MiB counted in its peak, one forked from GNU time
with ~1 MiB. Without GNU time the figure has that ~10 MiB floor. STATUS is 0 when all
runs exited 0, else the first non-zero status (128+N for signal N), in which
case the timings are still printed. Used by compare.sh and sq_anchor.sh.
Standard library only.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def run_once(cmd, out, err, rss_file):
    if rss_file is not None:
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file, "--"] + cmd
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            if err is not None:
                fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 2)
            os.execvp(cmd[0], cmd)
        except OSError as e:
            os.write(2, ("timerun: %s: %s\n" % (cmd[0], e.strerror)).encode())
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    maxrss = ru.ru_maxrss
    if rss_file is not None:
        # The last line is the %M figure (earlier ones may say how the
        # command exited).
        try:
            with open(rss_file) as f:
                maxrss = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    return wall, ru.ru_utime + ru.ru_stime, maxrss, code


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--out", default=os.devnull)
    ap.add_argument("--err", default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd or a.runs < 1 or a.warmup < 0:
        ap.error("need --runs >= 1, --warmup >= 0 and a command")
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="timerun.")
        os.close(fd)
    status = 0
    walls, cpus, rss = [], [], 0
    try:
        for _ in range(a.warmup):
            code = run_once(cmd, a.out, a.err, rss_file)[3]
            status = status or code
        for _ in range(a.runs):
            wall, cpu, maxrss, code = run_once(cmd, a.out, a.err, rss_file)
            walls.append(wall)
            cpus.append(cpu)
            rss = max(rss, maxrss)
            status = status or code
    finally:
        if rss_file is not None:
            os.remove(rss_file)
    print("%.4f %.4f %d %d" % (statistics.median(walls), statistics.median(cpus), rss, status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
