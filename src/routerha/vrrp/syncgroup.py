"""Sync groups: the members of a router's sync group are MASTER, BACKUP or FAULT together.

Without them a router can be master on the LAN and backup on the WAN, and a
stateful firewall drops the return traffic that arrives on the other router
(asymmetric routing). The rules, as keepalived's vrrp_sync_group:

- FAULT spreads: while any member has a fault of its own, every member is FAULT.
- BACKUP spreads: a master that yields to a better router takes the others along.
- MASTER needs everyone: a member whose Master_Down_Timer runs out becomes master
  only when every other running member would too (its timer ran out as well, or it
  is master already); then all go master together. Preferring BACKUP while members
  disagree is what stops two routers from trading the group back and forth.
"""

from __future__ import annotations

from routerha.vrrp.events import Action, FaultCleared, FaultRaised, State
from routerha.vrrp.machine import VrrpMachine


class SyncGroupCoordinator:
    def __init__(self, name: str, members: list[VrrpMachine]) -> None:
        self.name = name
        self.members = list(members)
        self.fault_reason = f"sync group {name}"
        self._propagating = False
        for member in self.members:
            member.sync = self

    def may_become_master(self, candidate: VrrpMachine) -> bool:
        return all(
            m is candidate or not m.running or m.state is State.MASTER or m.wants_master
            for m in self.members
        )

    def member_changed(self, member: VrrpMachine, now: float) -> list[Action]:
        """Called by a member after it changed state on its own; returns the others' actions."""
        if self._propagating:
            return []
        self._propagating = True
        try:
            return self._propagate(member, now)
        finally:
            self._propagating = False

    def _propagate(self, member: VrrpMachine, now: float) -> list[Action]:
        others = [m for m in self.members if m is not member]
        reason = f"sync group {self.name}: {member.name} is {member.state.value}"
        actions: list[Action] = []
        if self._own_faults():
            for other in others:
                actions += other.handle(FaultRaised(self.fault_reason), now)
            return actions
        for other in others:
            # Lifts the group fault from members that had no fault of their own.
            actions += other.handle(FaultCleared(self.fault_reason), now)
        if member.state in (State.MASTER, State.BACKUP):
            for other in others:
                actions += other.follow(member.state, now, reason)
        return actions

    def _own_faults(self) -> bool:
        """Whether any member has a fault other than the one this group put on it."""
        return any(m.running and m.faults - {self.fault_reason} for m in self.members)
