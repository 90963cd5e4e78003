"""Fleet rollout benchmark: the collection's playbooks on 1, 3 and 6 sites.

::

    python -m benchmarks.rollout.run [--sites 1 3 6] [--containment 3] [--before DIR] [--out FILE]

Run as root from the repository root (``make bench-rollout``). Each fleet is a lab of
podman containers (``lab/sites.py``: a router pair per site, one VRRP group with
conntrack sync), reached over OpenSSH as the lab's non-root admin with sudo, the
ansible.cfg of this checkout (forks 20). For each size, on a fresh lab:

- **rollout**: ``routerha.cluster.rollout`` on routers that run nothing yet;
- **rerun**: the same again, which must change nothing (changed=0 on every router);
- **status**: ``routerha.cluster.status``;
- **drill**: ``routerha.cluster.failover_drill`` (every cluster, ``drill_batch``
  clusters at a time: the playbook's default unless ``--drill-batch``).

Each figure is the wall time of the ansible-playbook run and the controller's CPU
time (user + system of ansible-playbook and its workers). The goal: wall time that
grows with the size of a cluster, not with the number of sites (6 sites within 2x
of 1 site for the rollout and the rerun).

``--before DIR`` measures an earlier routerha.cluster too, each size on a fresh lab
of its own, in the same run: DIR is a collections path, e.g.::

    mkdir -p /tmp/before/ansible_collections/routerha/cluster
    git archive 9bd71e3 | tar -x -C /tmp/before/ansible_collections/routerha/cluster
    python -m benchmarks.rollout.run --before /tmp/before

**containment** (``--containment N``, 0 to skip): a rollout of N sites in which
site 2's planned master is killed (``podman kill``, as a power loss) once the first
router has been deployed. The other sites must complete: every router of theirs
ends with failed=0 and unreachable=0, and the run itself fails.

Results: a Markdown report on stdout and in ``--out`` (default
benchmarks/rollout/results.md), raw numbers in results.json next to it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab import containers, sites

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.md"
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
PREFIX, MANAGEMENT = "rhb", "172.31.246.0/24"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
#: The line after which the containment run kills its victim: the first change on a
#: router (planning changes nothing), so some router has been deployed already.
DEPLOYED = re.compile(r"^changed: \[")


@dataclass
class Run:
    """One ansible-playbook run: its wall time, the controller's CPU time, the routers'
    CPU time (their containers') and its recap."""

    playbook: str
    wall_s: float
    cpu_s: float
    rc: int
    routers_cpu_s: float = 0.0
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap.values())

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, r in self.recap.items() if r["failed"] or r["unreachable"])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(
    name: str,
    inventory: Path,
    log: Path,
    *extra: str,
    collections: Path | None = None,
    on_line: object = None,
    topology: Path | None = None,
) -> Run:
    """Run ``routerha.cluster.<name>`` on ``inventory``; stdout+stderr go to ``log``.
    ``collections``: where to find routerha.cluster instead of this checkout.
    ``on_line`` (a callable) sees every output line as it comes. ``topology``: the
    lab whose containers' CPU time is the routers' share of the run."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_DEPRECATION_WARNINGS": "False"}
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    routers = containers.cpu_seconds(topology) if topology else 0.0
    cpu, started = children_cpu(), time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        [str(PLAYBOOK), "-i", str(inventory), f"routerha.cluster.{name}", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if callable(on_line):
                on_line(line)
        rc = proc.wait()
    wall, used = time.monotonic() - started, children_cpu() - cpu
    if topology:
        routers = containers.cpu_seconds(topology) - routers
    out = "".join(lines)
    log.write_text(out)
    recap = {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP.finditer(out)
    }
    return Run(name, round(wall, 1), round(used, 1), rc, round(routers, 1), recap)


def fleet(count: int, work: Path) -> tuple[Path, Path]:
    """A fresh lab of ``count`` sites in ``work``: (topology, inventory directory)."""
    topology = sites.write(count, work, PREFIX, MANAGEMENT)
    containers.destroy(topology)
    inventory = topology.parent / "inventory"
    containers.create(topology, inventory=inventory / "lab.yml")
    return topology, inventory


def measure(
    count: int, work: Path, drill_batch: int | None, collections: Path | None = None
) -> dict[str, object]:
    """The four runs on a fresh lab of ``count`` sites, by this checkout's collection
    or the one under ``collections``."""
    code = "this" if collections is None else "before"
    topology, inventory = fleet(count, work / f"sites{count}-{code}")
    logs = topology.parent
    try:
        where = {"collections": collections, "topology": topology}
        runs = [playbook("rollout", inventory, logs / "rollout.log", **where)]
        runs.append(playbook("rollout", inventory, logs / "rerun.log", **where))
        runs.append(playbook("status", inventory, logs / "status.log", **where))
        extra = ["-e", f"drill_batch={drill_batch}"] if drill_batch else []
        runs.append(playbook("failover_drill", inventory, logs / "drill.log", *extra, **where))
    finally:
        containers.destroy(topology)
    for run, what in zip(runs, ("rollout", "rerun", "status", "drill")):
        if run.rc != 0:
            raise SystemExit(
                f"{count} sites: {what} failed (rc {run.rc}); see {logs / (what + '.log')}"
            )
    if runs[1].changed:
        raise SystemExit(
            f"{count} sites: the rerun changed {runs[1].changed} things; see {logs / 'rerun.log'}"
        )
    return {
        "code": code,
        "sites": count,
        "routers": 2 * count,
        "runs": {w: asdict(r) for w, r in zip(("rollout", "rerun", "status", "drill"), runs)},
    }


def containment(count: int, work: Path) -> dict[str, object]:
    """A rollout of ``count`` sites in which site 2's planned master dies."""
    topology, inventory = fleet(count, work / f"containment{count}")
    victim = containers.load(topology).container_name(sites.router_name(2, "r1"))
    killed: list[float] = []
    kills: list[subprocess.CompletedProcess[str]] = []
    started = time.monotonic()

    def kill(line: str) -> None:
        # Off the thread that reads the playbook's output, which must not stall.
        if not killed and DEPLOYED.search(line):
            killed.append(time.monotonic() - started)
            threading.Thread(
                target=lambda: kills.append(
                    subprocess.run(
                        ["podman", "kill", victim], capture_output=True, text=True, check=False
                    )
                )
            ).start()

    try:
        run = playbook("rollout", inventory, topology.parent / "containment.log", on_line=kill)
    finally:
        containers.destroy(topology)
    if not kills or kills[0].returncode != 0:
        raise SystemExit(
            f"containment: {victim} was not killed: {kills[0].stderr if kills else 'never'}"
        )
    lost = {h for h in run.recap if h.startswith("s02-")}
    others_ok = all(
        not r["failed"] and not r["unreachable"] for h, r in run.recap.items() if h not in lost
    )
    return {
        "sites": count,
        "killed": sites.router_name(2, "r1"),
        "killed_after_s": round(killed[0], 1) if killed else None,
        "run": asdict(run),
        "failed_hosts": run.failed_hosts,
        "other_sites_completed": others_ok and len(run.recap) == 2 * count,
        "run_failed": run.rc != 0,
        "site_failed": any(run.recap[h]["failed"] or run.recap[h]["unreachable"] for h in lost),
    }


def report(results: list[dict[str, object]], contained: dict[str, object] | None) -> str:
    lines = [
        "# Fleet rollout benchmark (`benchmarks/rollout`)",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} CPUs; `python -m benchmarks.rollout.run`",
        "",
        "Wall time / controller CPU time / the routers' CPU time, seconds (a pair per site, one VRRP group with "
        "conntrack sync, forks 20):",
        "",
        "| sites (routers) | code | rollout | rerun (changed) | status | drill |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        runs = result["runs"]
        assert isinstance(runs, dict)

        def cell(what: str, runs: dict = runs) -> str:
            run = runs[what]
            return f"{run['wall_s']:.0f} / {run['cpu_s']:.0f} / {run.get('routers_cpu_s', 0):.0f}"

        changed = sum(h["changed"] for h in runs["rerun"]["recap"].values())
        lines.append(
            f"| {result['sites']} ({result['routers']}) | {result['code']} | {cell('rollout')} "
            f"| {cell('rerun')} ({changed}) "
            f"| {cell('status')} | {cell('drill')} |"
        )
    for code in ("this", "before"):
        mine = [r for r in results if r["code"] == code]
        if len(mine) < 2:
            continue
        first, last = mine[0]["runs"], mine[-1]["runs"]
        assert isinstance(first, dict) and isinstance(last, dict)
        ratios = ", ".join(
            f"{what} {last[what]['wall_s'] / first[what]['wall_s']:.2f}x"
            for what in ("rollout", "rerun", "status", "drill")
        )
        lines.append(
            f"\n{code}: {mine[-1]['sites']} sites take, of the time of {mine[0]['sites']}: {ratios}."
        )
    if contained:
        run = contained["run"]
        assert isinstance(run, dict)
        lines += [
            "",
            f"Containment: {contained['sites']} sites, {contained['killed']} killed "
            f"{contained['killed_after_s']} s into the rollout; the run took {run['wall_s']:.0f} s, "
            f"ended {'failed' if contained['run_failed'] else 'successful'}; routers failed or unreachable: "
            f"{', '.join(contained['failed_hosts']) or 'none'}; the other sites completed: "  # type: ignore[arg-type]
            f"{'yes' if contained['other_sites_completed'] else 'NO'}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rollout.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sites", type=int, nargs="*", default=[1, 3, 6])
    parser.add_argument(
        "--containment", type=int, default=3, help="sites in the containment run (0: skip)"
    )
    parser.add_argument("--drill-batch", type=int, default=None, help="clusters drilled at a time")
    parser.add_argument(
        "--before",
        type=Path,
        help="a collections path holding an earlier routerha.cluster, measured in the same run",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    usable, why = containers.available()
    if not usable:
        raise SystemExit(f"podman containers with systemd: {why}")
    if args.containment == 1:
        parser.error("--containment needs 2 sites or more (site 2 is the one that fails)")
    # Kept: the labs' topologies, inventories and every run's output, to read after.
    work = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    print(f"logs in {work}", file=sys.stderr)
    results = []
    for count in args.sites:
        results.append(measure(count, work, args.drill_batch))
        if args.before:
            results.append(measure(count, work, args.drill_batch, args.before.resolve()))
    contained = containment(args.containment, work) if args.containment else None
    text = report(results, contained)
    print(text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(
        json.dumps({"sizes": results, "containment": contained}, indent=2) + "\n"
    )
    contained_ok = contained is None or all(
        contained[k] for k in ("other_sites_completed", "run_failed", "site_failed")
    )
    return 0 if contained_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
