"""How many CPUs this process may really use: its affinity mask, capped by a cgroup quota.

``os.cpu_count()`` reports the machine's cores; a container (Docker, Kubernetes, Slurm with
cgroups) may grant far fewer through a CPU quota, and a pipeline that starts a decoding
thread per machine core then thrashes. The quota is read from cgroup v2 (``cpu.max`` of
this process's cgroup and its parents) or cgroup v1 (``cpu.cfs_quota_us`` /
``cpu.cfs_period_us``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(cgroup_root=CGROUP_ROOT, proc_cgroup="/proc/self/cgroup") -> int:
    """The CPUs this process may use: min(affinity mask, cgroup CPU quota), at least 1.

    Args:
        cgroup_root: where the cgroup file systems are mounted.
        proc_cgroup: this process's cgroup membership file.

    Returns:
        A positive int; a quota of 2.5 CPUs counts as 3.

    Example:
        >>> usable_cpus() >= 1
        True
    """
    affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS and Windows
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    quota = cgroup_cpu_quota(Path(cgroup_root), Path(proc_cgroup))
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_cpu_quota(cgroup_root: Path, proc_cgroup: Path) -> float | None:
    """The tightest CPU quota (in CPUs) on this process's cgroups, or None for no quota."""
    quotas = _v2_quotas(cgroup_root, _membership(proc_cgroup, ""))
    for controller in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):  # cgroup v1 mount names
        own = _membership(proc_cgroup, controller)
        for folder in (cgroup_root / controller / own.lstrip("/"), cgroup_root / controller):
            quota = _read_ratio(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
            if quota is not None:
                quotas.append(quota)
                break
    return min(quotas) if quotas else None


def _membership(proc_cgroup: Path, controller: str) -> str:
    """This process's cgroup path for ``controller`` ("" is the cgroup v2 hierarchy)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == controller:
            return path
    return "/"


def _v2_quotas(root: Path, own: str) -> list[float]:
    """cpu.max of this cgroup and every parent up to the root: "quota period" or "max ..."."""
    quotas = []
    folder = root / own.lstrip("/")
    for directory in (folder, *folder.parents):
        if not directory.is_relative_to(root):
            break
        quota = _read_ratio(directory / "cpu.max", None)
        if quota is not None:
            quotas.append(quota)
    return quotas


def _read_ratio(quota_file: Path, period_file: Path | None) -> float | None:
    """quota / period in CPUs; None when unlimited ("max", -1) or unreadable."""
    try:
        fields = quota_file.read_text().split()
        if period_file is not None:
            fields = [fields[0], period_file.read_text().split()[0]]
        quota, period = fields[0], float(fields[1])
    except (OSError, IndexError, ValueError):
        return None
    if quota in ("max", "-1") or period <= 0:
        return None
    try:
        return max(float(quota), 1.0) / period
    except ValueError:
        return None
