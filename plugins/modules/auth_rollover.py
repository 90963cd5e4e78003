#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/auth_rollover.py),
# which runs routerha.cluster.routerhad_auth or routerha.cluster.keepalived_auth on each
# member; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
module: auth_rollover
short_description: Change a VRRP group's password or authentication type without a transition
version_added: 0.1.0
description:
  - Changes the authentication of one VRRP group on all of its members (routerhad or keepalived,
    O(member_type)) so that no member
    changes state while it happens; changing the password on every router at the same second is
    otherwise the only way, and a group flaps when the routers disagree for longer than the
    master-down interval.
  - O(mode=staged) (the type stays, the password changes) runs three phases. First every member also
    accepts the new password. Then the backups send with it, and the master last. Finally every member
    forgets the old one. routerhad swaps keys under a running group, so no step restarts it.
  - O(mode=scheduled) (the type changes, for example from V(plaintext-password) to V(ah), or
    authentication is added or removed, or a member runs keepalived, which holds one key only) writes the new configuration on every member and has all of
    them reload at one agreed time, O(lead) seconds ahead; the spread of the reloads stays well inside
    the master-down interval.
  - Before anything changes, and after every step, every member's status (C(routerhactl status --json),
    or keepalived's JSON and data dumps mapped to the same shape by M(routerha.cluster.keepalived_auth)) must
    show the state it had at the start, no new transition, exactly one master, each backup seeing that
    master and receiving its adverts, and no advert dropped for its authentication. Otherwise the
    rollover stops and every member is put back as it was, the master first.
  - A scheduled commit is checked from the moment every member has reloaded. An advert that one member sent with the
    new keys and another received just before its own reload is dropped by design, and reported (C(switch_drops))
    rather than taken for a problem, as long as no member made a transition.
  - Run the task on every member of the group at once (not with C(serial), and with enough forks to start every
    member together); the members' workers meet on the controller after each step. Before any step, the task fails
    with the forks that would do (C(run with --forks N or more)) when a member would start only after the others, and
    when a member is not in the play's batch (the check of the R(routerha.cluster.forks_cover filter,ansible_collections.routerha.cluster.forks_cover_filter)).
requirements:
  - routerhad with C(routerhactl) (role routerha.cluster.routerhad_install), or keepalived 2.x built with JSON support, on every member
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Reads every member's status and returns the plan; nothing changes.
  diff_mode:
    support: none
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
options:
  group:
    description: The VRRP group's name in the members' routerhad configurations.
    type: str
    required: true
  password:
    description: The new password, at most 8 octets (RFC 3768). Required unless O(type=none).
    type: str
  type:
    description: The authentication type to reach; V(none) removes authentication.
    type: str
    choices: [plaintext-password, ah, none]
    default: plaintext-password
  mode:
    description:
      - V(staged) keeps the type and needs every member to hold two keys for a while (routerhad does).
      - V(scheduled) commits on all members at one agreed time.
      - V(auto) stages when the type stays and every member runs routerhad, and schedules otherwise.
      - V(staged) with a keepalived member fails before anything changes, naming the member.
    type: str
    choices: [auto, staged, scheduled]
    default: auto
  members:
    description:
      - The inventory hosts of the group. Defaults to the hosts the task runs on in this batch.
    type: list
    elements: str
  settle:
    description:
      - Seconds to wait after each step before checking the members; must cover more than one
        advertisement interval, so that each backup has received the master's adverts with the new keys.
    type: float
    default: 3.0
  lead:
    description:
      - Seconds between agreeing on the time of a scheduled commit and the commit, at least. It is stretched to three
        times the slowest member's last status read, so that on a loaded controller or a slow link every member
        still has its step running before the agreed time.
    type: float
    default: 5.0
  timeout:
    description: Seconds a member waits for the others at each step before it gives up.
    type: float
    default: 120.0
  config:
    description: routerhad's configuration file on the members.
    type: path
    default: /etc/routerha/routerhad.json
  control:
    description: routerhad's control socket on the members.
    type: path
    default: /run/routerha/routerhad.sock
  routerhactl:
    description: The routerhactl program on the members.
    type: path
    default: routerhactl
  member_type:
    description:
      - The member's VRRP daemon; set it per host, for example from an inventory variable (see the examples).
        The members exchange it before the first step.
      - V(routerhad) members are changed by M(routerha.cluster.routerhad_auth) (O(config), O(control),
        O(routerhactl)); V(keepalived) members by M(routerha.cluster.keepalived_auth) (O(keepalived_config),
        O(keepalived_pidfile), O(instance)).
    type: str
    choices: [routerhad, keepalived]
    default: routerhad
  instance:
    description: The C(vrrp_instance) name in a keepalived member's configuration. Defaults to O(group).
    type: str
  keepalived_config:
    description: keepalived's configuration file on keepalived members.
    type: path
    default: /etc/keepalived/keepalived.conf
  keepalived_pidfile:
    description: keepalived's main pid file on keepalived members; the reload is C(SIGHUP) to that process.
    type: path
    default: /run/keepalived.pid
notes:
  - keepalived members cannot hold two keys; with one in the group the change is scheduled. keepalived's
    reload (C(SIGHUP)) keeps the instance's state and counters; its state and counters come from its JSON
    dump (keepalived built with JSON support, as Debian's is), the master's address from its data dump.
  - Routers on the native backend (VyOS or EdgeOS running their own VRRP) are not members this module drives;
    C(playbooks/rotate_auth.yml) changes their password with M(routerha.cluster.vyatta_config) and
    O(routerha.cluster.vyatta_config#module:commit_at), all members at one second.
  - The password is never returned or logged.
seealso:
  - module: routerha.cluster.routerhad_auth
  - module: routerha.cluster.keepalived_auth
  - module: routerha.cluster.pair_check
"""

EXAMPLES = r"""
- name: Rotate the LAN group's password on both routers
  hosts: site1_routers
  tasks:
    - name: Rotate
      routerha.cluster.auth_rollover:
        group: LAN
        password: "{{ vault_lan_vrrp_password }}"
      register: rollover

    - name: Not a single transition
      ansible.builtin.assert:
        that: rollover.transitions == 0

- name: Move from a simple password to IPsec AH at one agreed time
  hosts: site1_routers
  tasks:
    - name: Switch to AH
      routerha.cluster.auth_rollover:
        group: LAN
        type: ah
        password: "{{ vault_lan_vrrp_password }}"
        lead: 10

- name: A routerhad and a keepalived router (inventory sets routerha_vrrp_daemon per host)
  hosts: site2_routers
  tasks:
    - name: Rotate at one agreed time
      routerha.cluster.auth_rollover:
        group: LAN
        instance: VI_LAN
        member_type: "{{ routerha_vrrp_daemon }}"
        password: "{{ vault_lan_vrrp_password }}"
"""

RETURN = r"""
mode:
  description: How the change was (or would be) made.
  returned: always
  type: str
  sample: staged
master:
  description: The member that was master when the change began.
  returned: always
  type: str
  sample: r1
plan:
  description: The steps, in order, with the members each changes.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: accept the new key, operation: accept, members: [r1, r2]}
    - {name: backups send the new key, operation: send, members: [r2]}
    - {name: master sends the new key, operation: send, members: [r1]}
    - {name: forget the old key, operation: drop, members: [r1, r2]}
phases:
  description:
    - The steps taken, each with the transitions counted since the start, every member's state and the problems found.
    - A scheduled commit's phase also has the C(lead) used, how many seconds each member's reload came after the agreed
      time (C(late), 0 when on time), and the adverts each member dropped for their authentication while the members
      switched (C(switch_drops)).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: accept the new key, operation: accept, members: [r1, r2], transitions: 0, states: {r1: MASTER, r2: BACKUP}, problems: []}
transitions:
  description: Transitions of the group's members since the start, all members together; 0 is success.
  returned: always
  type: int
  sample: 0
restored:
  description: After a stop, what was put back on each member.
  returned: when the rollover stopped
  type: dict
  sample: {r1: restored, r2: restored}
"""
