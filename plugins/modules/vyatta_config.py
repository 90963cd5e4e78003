#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/vyatta_config.py),
# on the controller and through the router's shell; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
module: vyatta_config
short_description: Make a VyOS or EdgeOS router's own VRRP and conntrack-sync configuration say what the data model says
version_added: 0.1.0
description:
  - Renders a router's configuration (the routerha data model, as M(routerha.cluster.routerhad_config) takes it) to the
    platform's CLI (O(syntax)) and changes the router's running configuration to match, in one commit through
    C(vyatta-cfg-cmd-wrapper), run under the C(vyattacfg) group (C(sg)), as VyOS requires of scripts.
  - Only what the configuration owns is touched - its VRRP groups, its sync groups and C(service conntrack-sync) when it
    has conntrack sync - plus native groups on the same interface and VRID under another name or the other syntax,
    which it replaces (they are listed in RV(conflicts)). Firewall, NAT, interfaces and other groups stay as they are.
    A router that already matches is left alone (no session is opened).
  - The commit is a C(commit-confirm) (O(confirm_minutes)); the configuration is then read back, and only when it is
    exactly what was asked is the commit confirmed and the configuration saved. Otherwise the task fails and the router
    rolls back by itself - also when the controller loses the router on the way.
  - With O(commit_at) the commit waits on the router until that moment (seconds since the epoch), so that all members of
    a group change at the same second; this is how a VRRP password changes on routers that hold one key only.
  - O(state=absent) removes the native configuration that covers the configuration's groups (same interface and VRID)
    and its conntrack-sync, in one commit - how routerhad takes over from the vendor's VRRP on VyOS 1.4.
  - Everything is decided on the controller; the router runs only POSIX shell. It works where Ansible cannot run Python
    (EdgeOS, VyOS before 1.4).
requirements:
  - VyOS or EdgeOS with C(vyatta-cfg-cmd-wrapper) and a POSIX shell; no Python on the router
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
options:
  config:
    description: The router's configuration, as the data model's plain data (or its JSON text).
    type: raw
    required: true
  state:
    description:
      - V(present) makes the router's native configuration say what O(config) says; V(absent) removes the native
        configuration that covers O(config)'s groups and conntrack sync.
    type: str
    choices: [present, absent]
    default: present
  syntax:
    description:
      - The platform's CLI. V(vyos) - VyOS 1.4 and later, C(high-availability vrrp group NAME ... address).
        V(vyos-1.2) - VyOS 1.2 and 1.3, the same tree with C(virtual-address). V(vyatta) - VyOS 1.1 and EdgeOS,
        C(interfaces ethernet ETH [vif N] vrrp vrrp-group VRID).
      - The role C(routerha.cluster.platform) finds it (C(platform_router.syntax)).
    type: str
    choices: [vyos, vyos-1.2, vyatta]
    required: true
  confirm_minutes:
    description:
      - Minutes the router waits for the confirmation before rolling the commit back. V(0) commits without one.
      - On VyOS 1.1 to 1.3 and EdgeOS the rollback reboots the router into its saved configuration; the configuration
        is saved only after the confirmation.
    type: int
    default: 10
  commit_at:
    description:
      - Seconds since the epoch (the router's clock) at which to commit; the task waits for it.
      - A router that reaches the moment more than half a second late (its worker started late - fewer forks than
        members - or its connection was slow) fails without committing, saying how late it was; it never commits
        late, which would split the group for that long.
    type: float
  save:
    description: Save the configuration (C(/config/config.boot)) once the commit is confirmed, so it survives a reboot.
    type: bool
    default: true
  cfg_wrapper:
    description: The configuration wrapper.
    type: path
    default: /opt/vyatta/sbin/vyatta-cfg-cmd-wrapper
  op_wrapper:
    description: The operational wrapper, whose C(show configuration commands) is read.
    type: path
    default: /opt/vyatta/bin/vyatta-op-cmd-wrapper
  config_group:
    description: The group configuration sessions run under.
    type: str
    default: vyattacfg
notes:
  - Connect as the platform's admin user (in group C(vyattacfg), such as VyOS's C(vyos) or EdgeOS's C(ubnt)) and set
    O(ignore:become) to false on the task. The platforms' configuration sessions must not run through sudo (they
    would leave root-owned files in the configuration tree); the module fails, changing nothing, when the task would
    become.
  - Passwords appear in RV(commands) and the diff as C(<secret HMAC>), keyed afresh on every run.
  - The router's own VRRP (keepalived under VyOS and EdgeOS) is not watched by this module; the rollout checks the
    configuration it reads back, not the VRRP states.
seealso:
  - module: routerha.cluster.routerhad_config
  - module: routerha.cluster.pair_check
"""

EXAMPLES = r"""
- name: Configure an EdgeRouter's VRRP and conntrack-sync from the plan
  routerha.cluster.vyatta_config:
    config: "{{ cluster_plan_node_config }}"
    syntax: vyatta

- name: Remove VyOS's own VRRP for the groups routerhad takes over
  routerha.cluster.vyatta_config:
    config: "{{ cluster_plan_node_config }}"
    syntax: vyos
    state: absent

- name: Change a password on every member at one agreed second
  routerha.cluster.vyatta_config:
    config: "{{ cluster_plan_node_config }}"
    syntax: "{{ platform_router.syntax }}"
    commit_at: "{{ agreed_time }}"
"""

RETURN = r"""
commands:
  description: The commands of the commit (none when the router already matched), passwords masked.
  returned: always
  type: list
  elements: str
  sample: ["set interfaces ethernet eth1 vrrp vrrp-group 10 priority '200'"]
conflicts:
  description: Native configuration on the same interface and VRID as the configuration's groups, under another name.
  returned: always
  type: list
  elements: str
syntax:
  description: The syntax rendered.
  returned: always
  type: str
splitting:
  description:
    - The changes from the router's running groups to O(config)'s that the group's members must make together, not one
      router after another (authentication, version, advertisement interval, virtual addresses, VRID), as
      M(routerha.cluster.routerhad_config) reports them. The playbook C(rollout.yml) deploys such a cluster on all its
      members at once, committing at one agreed second (O(commit_at)).
    - Empty with O(state=absent), and when the running configuration has none of the groups yet.
  returned: always
  type: list
  elements: dict
  sample:
    - group: OFFICE
      code: address-mismatch
      message: "OFFICE (eth1.100-41 on running): the virtual addresses differ (planned 10.40.100.253, 10.40.100.254, running 10.40.100.254): ..."
confirmed:
  description: Whether the commit was a commit-confirm that was confirmed.
  returned: changed and not check mode
  type: bool
committed_at:
  description: The time of a scheduled commit (O(commit_at)).
  returned: when O(commit_at) was given
  type: float
"""
