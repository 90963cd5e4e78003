"""`make demo`: the collection's main job on a lab of real hosts.

1. builds the lab: two routers and a client as podman containers with systemd
   inside, on their own lan, wan and sync links (lab/topologies/default.yml);
2. runs playbooks/rollout.yml against it, over SSH, as against production routers:
   plan, pair_check, routerhad installed, configured and started, backups first;
3. prints the fleet's status table (playbooks/status.yml);
4. runs a failover drill (playbooks/failover_drill.yml) and prints its result.

The inventory is molecule/default/inventory (the cluster) plus the containers'
connection data the lab writes beside it. The lab stays up afterwards, to look
around; `make demo-clean` removes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from lab import containers

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "molecule" / "default" / "inventory"
TOPOLOGY = "default"


def say(text: str = "") -> None:
    print(text, flush=True)


def playbook(name: str, *extra: str) -> int:
    """ansible-playbook from this checkout (ansible.cfg finds the collection), its
    output shown as it goes."""
    command = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i", str(INVENTORY), str(ROOT / "playbooks" / name), *extra,
    ]  # fmt: skip
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
    }
    say(f"$ ansible-playbook -i {INVENTORY.relative_to(ROOT)} playbooks/{name} {' '.join(extra)}")
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main() -> int:
    usable, why = containers.available()
    if not usable:
        say(f"make demo needs podman containers with systemd on this machine: {why}")
        return 2
    started = time.monotonic()
    say("== 1/4 the lab: routers r1, r2 and a client in podman containers (systemd, sshd) ==")
    containers.create(TOPOLOGY, inventory=INVENTORY / "lab.yml")
    say("   r1 10.1.1.1, r2 10.1.1.2 on lan; the client's gateway is 10.1.1.254, the VRRP address")
    say()
    say("== 2/4 roll the cluster out: plan, check, backups first, verify after each router ==")
    if playbook("rollout.yml") != 0:
        say("rollout failed; the lab is still up (make demo-clean removes it)")
        return 1
    say()
    say("== 3/4 the fleet ==")
    if playbook("status.yml") != 0:
        return 1
    say()
    say(
        "== 4/4 failover drill: stop the master's routerhad, watch the backup take over, restore =="
    )
    if playbook("failover_drill.yml") != 0:
        say("the drill failed; the lab is still up (make demo-clean removes it)")
        return 1
    say()
    say(f"Done in {time.monotonic() - started:.0f} s. The lab is still up:")
    say(f"  .venv/bin/ansible -i {INVENTORY.relative_to(ROOT)} routerha -a 'routerhactl status'")
    say("  make demo-clean   # removes the containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
