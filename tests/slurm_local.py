"""A throw-away single-node SLURM cluster on localhost (Debian's slurm-wlm + munge) for tests.

``start_cluster(folder)`` writes a minimal ``slurm.conf`` (select/cons_tres, proctrack/linuxproc,
no cgroups, no accounting) on free ports, starts munged if no munge daemon answers, then
slurmctld and slurmd, and waits until the node is idle. It returns ``None`` with a reason when
that is impossible (not root, packages missing, a daemon does not start), so callers can fall back
to running the generated job scripts directly. ``stop_cluster`` stops only the daemons it started,
by their pid files.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "munged", "munge")


@dataclass
class Cluster:
    """A running localhost cluster: ``env`` holds ``SLURM_CONF``; ``pid_files`` what to stop."""

    folder: Path
    env: dict
    pid_files: list = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munge_works() -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        check = subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return cred.returncode == 0 and check.returncode == 0


def _start_munge() -> Path | None:
    """Start munged (as user munge when it exists); returns its pid file, or None if it was already up."""
    if _munge_works():
        return None
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        user = pwd.getpwnam("munge")
        os.chown(run_dir, user.pw_uid, user.pw_gid)
        cmd = ["runuser", "-u", "munge", "--", shutil.which("munged")]
    except KeyError:
        cmd = [shutil.which("munged"), "--force"]
    subprocess.run(cmd, check=True, timeout=30)
    for _ in range(50):
        if _munge_works():
            return run_dir / "munged.pid"
        time.sleep(0.1)
    raise RuntimeError("munged started but credentials do not verify")


def _write_conf(folder: Path) -> Path:
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    conf = folder / "slurm.conf"
    conf.write_text(f"""ClusterName=pydrivertest
SlurmctldHost=localhost
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/log/slurmctld.log
SlurmdLogFile={folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=1
NodeName=localhost NodeHostname={socket.gethostname()} CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _node_idle(env: dict) -> bool:
    proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env, timeout=10)
    return proc.returncode == 0 and proc.stdout.strip() in ("idle", "mix")


def start_cluster(folder: Path) -> tuple[Cluster | None, str]:
    """Start a localhost cluster; returns ``(cluster, "")`` or ``(None, reason)``."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return None, f"SLURM/munge not installed (missing {', '.join(missing)}; apt-get install slurm-wlm)"
    if os.geteuid() != 0:
        return None, "slurmd must run as root to start jobs; tests are not running as root"
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder, {**os.environ, "SLURM_CONF": str(_write_conf(folder))})
    try:
        munge_pid = _start_munge()
        if munge_pid is not None:
            cluster.pid_files.append(munge_pid)
        subprocess.run([shutil.which("slurmctld"), "-i"], env=cluster.env, check=True, timeout=30)
        cluster.pid_files.append(folder / "slurmctld.pid")
        subprocess.run([shutil.which("slurmd"), "-N", "localhost"], env=cluster.env, check=True, timeout=30)
        cluster.pid_files.append(folder / "slurmd.pid")
        for _ in range(100):
            if _node_idle(cluster.env):
                return cluster, ""
            time.sleep(0.3)
        raise RuntimeError(f"node not idle after 30 s; see {folder}/log")
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        stop_cluster(cluster)
        return None, f"could not start slurmctld/slurmd/munged: {exc}"


def stop_cluster(cluster: Cluster) -> None:
    """Cancel remaining jobs and stop the daemons this cluster started (by pid file)."""
    subprocess.run(["scancel", "-u", "root"], env=cluster.env, capture_output=True, timeout=30)
    for pid_file in reversed(cluster.pid_files):
        try:
            pid = int(Path(pid_file).read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            continue
