"""CPU time and memory of one apache2 server (its parent and all its children), from /proc."""
from __future__ import annotations

import os
import resource

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (fields[0] is the state)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def server_pids(parent: int) -> list[int]:
    """The parent and its direct children (the event MPM's worker processes)."""
    pids = [parent]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and fields[1] == str(parent):
                pids.append(int(entry))
    return pids


def cpu_seconds(parent: int) -> float:
    """utime + stime of the parent and its live children, plus the parent's cutime + cstime (the
    time of children it already reaped), so a child that exits between two samples is not lost."""
    ticks = 0
    for pid in server_pids(parent):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        ticks += int(fields[11]) + int(fields[12])
        if pid == parent:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def rss_bytes(parent: int) -> int:
    """Sum of Rss (smaps_rollup) over the parent and its children."""
    total = 0
    for pid in server_pids(parent):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def system_cpu_seconds() -> tuple[float, float]:
    """(user + nice + system, steal) of the whole machine from /proc/stat, in CPU seconds."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / CLK_TCK, fields[7] / CLK_TCK


def own_cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (the load clients)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total
