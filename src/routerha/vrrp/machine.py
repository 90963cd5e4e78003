"""The VRRP state machine of RFC 5798 section 6.4 (and RFC 3768 section 6.4), sans-IO.

``VrrpMachine.handle(event, now)`` returns the actions the RFC prescribes; the
methods below follow the RFC's sections so that they can be read side by side:

- 6.4.1 Initialize: ``_startup``
- 6.4.2 Backup:     ``_backup_advert``, ``_master_down``, ``_shutdown``
- 6.4.3 Master:     ``_master_advert``, ``_adver_timer``, ``_shutdown``

What the RFCs leave to implementations, done as keepalived and VyOS do it:

- FAULT: while the link is down or a tracked object without a weight has failed,
  the group neither sends nor answers; a master entering FAULT first sends
  priority 0 so that a backup takes over after Skew_Time, not Master_Down_Interval.
- ``preempt_delay``: for that many seconds after the group starts (or leaves FAULT),
  a backup accepts a lower-priority master as if preemption were off; so does it
  while preemption is held (``PreemptionHeld``: a router still waiting for its
  peer's connection table).
- Effective priority: tracking moves it within 1..254; the address owner stays at 255.
  A master advertises a change at once, so a router with a dead uplink hands over now.
- Sync groups: a member asks its ``sync`` coordinator before becoming master and
  reports its transitions to it (``routerha.vrrp.syncgroup``).

Beyond the RFC, so that a split brain heals cleanly:

- A master that hears a lower priority (or an equal priority from a lower address)
  discards the advert as 6.4.3 says, but also re-announces itself (an advert and a
  gratuitous burst; twice in a row, then once per Advertisement_Interval), as keepalived does
  (``garp_lower_prio_repeat``). Another master exists only after a split brain or a
  forged advert, and its gratuitous ARPs took the clients; without the
  re-announcement they keep its MAC until their neighbour entries expire.
- A master that yields to a higher one sends one last advert with its own priority
  before it becomes Backup. Otherwise, when the winner's advert arrives first after
  a partition heals, the loser yields silently, the winner never hears a lower
  priority and never re-announces (keepalived has this race: 2 of 5 heals took the
  neighbour timeout, about 2 s).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from routerha.model.vrrp import OWNER_PRIORITY, STOP_PRIORITY, VrrpGroup
from routerha.vrrp.events import (
    Action,
    AddAddresses,
    AdvertReceived,
    CancelTimer,
    Event,
    FaultCleared,
    FaultRaised,
    IPAddress,
    PreemptionHeld,
    PriorityChanged,
    RemoveAddresses,
    ScheduleTimer,
    SendAdvert,
    SendGratuitous,
    Shutdown,
    Startup,
    State,
    Timer,
    TimerExpired,
    Transition,
)

if TYPE_CHECKING:
    from routerha.vrrp.syncgroup import SyncGroupCoordinator

_GARP_TIMERS = (Timer.GARP_DELAY, Timer.GARP_REFRESH)
#: Re-announcements a master may make in a row before one per interval (beyond the RFC).
REANNOUNCE_BURST = 2


class VrrpMachine:
    """One virtual router on one interface.

    ``primary_address`` is the local address adverts are sent from (RFC 5798 section
    6.1's primary IP address); it breaks ties between equal priorities.
    """

    def __init__(self, group: VrrpGroup, primary_address: IPAddress | str) -> None:
        self.group = group
        self.name = group.name
        self.primary_address = ipaddress.ip_address(primary_address)
        if group.address and self.primary_address.version != group.address[0].version:
            raise ValueError(
                f"group {group.name}: primary address {primary_address} is not of the "
                "group's address family"
            )
        self.state = State.INIT
        self.running = False
        self.priority = group.priority
        #: Seconds. RFC 5798's Advertisement_Interval, and Master_Adver_Interval as
        #: learned from the current master (VRRPv3 only; VRRPv2 uses its own).
        self.advert_interval = group.advertise_interval_cs / 100
        self.master_adver_interval = self.advert_interval
        self.master_address: IPAddress | None = None
        self.master_priority: int | None = None
        self.faults: set[str] = set()
        self.timers: dict[Timer, float] = {}
        #: Set when the Master_Down_Timer expired but the sync group said "not yet".
        self.wants_master = False
        self.sync: SyncGroupCoordinator | None = None
        self._preempt_from = 0.0
        #: Preemption held back from outside (the conntrack sync's startup wait).
        self.preemption_held = False
        #: Re-announcements this master may still make now (a bucket of
        #: REANNOUNCE_BURST, refilled one per Advertisement_Interval) and when it was
        #: last refilled; see the module's docstring.
        self._reannounce_tokens = float(REANNOUNCE_BURST)
        self._reannounce_refilled = 0.0

    # Derived timers, RFC 5798 section 6.1 (VRRPv2: RFC 3768 section 6.1) -----------

    @property
    def skew_time(self) -> float:
        """Seconds. v3: ((256 - Priority) * Master_Adver_Interval) / 256;
        v2: (256 - Priority) / 256."""
        if self.group.version == 2:
            return (256 - self.priority) / 256
        return (256 - self.priority) * self.master_adver_interval / 256

    @property
    def master_down_interval(self) -> float:
        """Seconds. v3: 3 * Master_Adver_Interval + Skew_Time;
        v2: 3 * Advertisement_Interval + Skew_Time."""
        interval = self.master_adver_interval if self.group.version == 3 else self.advert_interval
        return 3 * interval + self.skew_time

    # The one entry point ---------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Action]:
        """Feed one event at monotonic time ``now``; returns the actions, in order."""
        # The two events of the steady state first: adverts and timers.
        if isinstance(event, AdvertReceived):
            if self.state is State.BACKUP:
                return self._backup_advert(event, now)
            if self.state is State.MASTER:
                return self._master_advert(event, now)
            return []
        if isinstance(event, TimerExpired):
            return self._timer(event.timer, now)
        if isinstance(event, Startup):
            return self._startup(now, "startup")
        if isinstance(event, Shutdown):
            return self._shutdown()
        if isinstance(event, PriorityChanged):
            return self._priority_changed(event.priority, now)
        if isinstance(event, PreemptionHeld):
            self.preemption_held = event.held
            return []
        if isinstance(event, FaultRaised):
            return self._fault_raised(event.reason, now)
        if isinstance(event, FaultCleared):
            return self._fault_cleared(event.reason, now)
        raise TypeError(f"not a VRRP event: {event!r}")

    # 6.4.1 Initialize ---------------------------------------------------------------

    def _startup(self, now: float, reason: str) -> list[Action]:
        """RFC 5798 section 6.4.1: the owner (priority 255) goes straight to Master;
        everyone else starts as Backup with Master_Down_Timer = Master_Down_Interval."""
        self.running = True
        if self.faults:
            return self._enter_fault(now, ", ".join(sorted(self.faults)))
        self._preempt_from = now + self.group.preempt_delay
        if self.priority == OWNER_PRIORITY:
            return self._enter_master(now, f"{reason}: address owner")
        self.master_adver_interval = self.advert_interval
        return self._enter_backup(now, reason)

    def _shutdown(self) -> list[Action]:
        """RFC 5798 sections 6.4.2 and 6.4.3, "If a Shutdown event is received"."""
        if not self.running:
            return []
        self.running = False
        actions: list[Action] = []
        if self.state is State.MASTER:
            # Cancel the Adver_Timer, send an ADVERTISEMENT with Priority = 0.
            actions += [SendAdvert(self.name, STOP_PRIORITY), RemoveAddresses(self.name)]
        return actions + self._cancel_all() + self._transition(State.INIT, "shutdown")

    # 6.4.2 Backup -------------------------------------------------------------------

    def _backup_advert(self, advert: AdvertReceived, now: float) -> list[Action]:
        """RFC 5798 section 6.4.2, "If an ADVERTISEMENT is received"."""
        if advert.priority == STOP_PRIORITY:
            # The master is stopping: take over after Skew_Time only.
            self.master_address = None
            return [self._arm(Timer.MASTER_DOWN, now + self.skew_time)]
        preempting = self.group.preempt and now >= self._preempt_from and not self.preemption_held
        if not preempting or advert.priority >= self.priority:
            if self.group.version == 3:
                self.master_adver_interval = advert.max_advert_interval / 100
            self.master_address = advert.source
            self.master_priority = advert.priority
            self.wants_master = False
            return [self._arm(Timer.MASTER_DOWN, now + self.master_down_interval)]
        # Preempt_Mode is True and the advertised priority is lower: discard it, so
        # that the Master_Down_Timer runs out and this router takes over.
        return []

    def _master_down(self, now: float) -> list[Action]:
        """RFC 5798 section 6.4.2, "If the Master_Down_Timer fires"."""
        if self.sync is not None and not self.sync.may_become_master(self):
            # Another member of the sync group still hears its master: stay Backup
            # rather than split the group (keepalived does the same).
            self.wants_master = True
            return [self._arm(Timer.MASTER_DOWN, now + self.master_down_interval)]
        return self._enter_master(now, "no advertisement within Master_Down_Interval")

    # 6.4.3 Master -------------------------------------------------------------------

    def _master_advert(self, advert: AdvertReceived, now: float) -> list[Action]:
        """RFC 5798 section 6.4.3, "If an ADVERTISEMENT is received"."""
        if advert.priority == STOP_PRIORITY:
            # Another router stops: assert ourselves at once.
            return [
                SendAdvert(self.name, self.priority),
                self._arm(Timer.ADVER, now + self.advert_interval),
            ]
        if advert.priority > self.priority or (
            advert.priority == self.priority
            and _address_key(advert.source) > _address_key(self.primary_address)
        ):
            if self.group.version == 3:
                self.master_adver_interval = advert.max_advert_interval / 100
            self.master_address = advert.source
            self.master_priority = advert.priority
            why = (
                "higher priority"
                if advert.priority > self.priority
                else "equal priority, higher address"
            )
            return self._enter_backup(now, f"{why} advertisement from {advert.source}")
        # The RFC discards the advert: done, its sender changes nothing here.
        return self._reannounce(now)

    def _reannounce(self, now: float) -> list[Action]:
        """Beyond RFC 5798: another router believes it is master (a partition that has
        healed, or a forged advert made a backup take over) and its gratuitous ARPs
        or NAs may have taken the clients and the switch ports. Send our advert (it
        yields at once instead of at our next Adver_Timer) and our gratuitous burst
        (the clients and switches learn our MAC back), as keepalived does.

        Twice in a row, then once per Advertisement_Interval: the other master's
        first advert may arrive before its own gratuitous burst has reached the
        clients (a backup taking over sends the advert first), so the second
        re-announcement, on the last advert it sends when it yields, comes after
        that burst. A flood of forged lower adverts costs one advert and one burst
        per interval, no more."""
        elapsed = max(0.0, now - self._reannounce_refilled)
        self._reannounce_tokens = min(
            float(REANNOUNCE_BURST), self._reannounce_tokens + elapsed / self.advert_interval
        )
        self._reannounce_refilled = now
        if self._reannounce_tokens < 1:
            return []
        self._reannounce_tokens -= 1
        return [
            SendAdvert(self.name, self.priority),
            SendGratuitous(self.name, self.group.garp.master_repeat),
        ]

    def _adver_timer(self, now: float) -> list[Action]:
        """RFC 5798 section 6.4.3, "If the Adver_Timer fires"."""
        return [
            SendAdvert(self.name, self.priority),
            self._arm(Timer.ADVER, now + self.advert_interval),
        ]

    # Timers, priority and faults --------------------------------------------------

    def _timer(self, timer: Timer, now: float) -> list[Action]:
        if timer not in self.timers:
            return []  # cancelled meanwhile
        del self.timers[timer]
        if timer is Timer.MASTER_DOWN and self.state is State.BACKUP:
            return self._master_down(now)
        if self.state is not State.MASTER:
            return []
        if timer is Timer.ADVER:
            return self._adver_timer(now)
        if timer is Timer.GARP_DELAY:
            return [SendGratuitous(self.name, self.group.garp.master_repeat)]
        if timer is Timer.GARP_REFRESH:
            garp = self.group.garp
            return [
                SendGratuitous(self.name, garp.master_refresh_repeat),
                self._arm(Timer.GARP_REFRESH, now + garp.master_refresh),
            ]
        return []

    def _priority_changed(self, priority: int, now: float) -> list[Action]:
        if self.group.priority == OWNER_PRIORITY:
            return []  # the owner always claims its own address
        priority = max(1, min(OWNER_PRIORITY - 1, priority))
        if priority == self.priority:
            return []
        self.priority = priority
        if self.state is State.MASTER:
            # Tell the backups now rather than at the next Adver_Timer: one whose
            # priority is now higher preempts without waiting a full interval.
            return self._adver_timer(now)
        return []

    def _fault_raised(self, reason: str, now: float) -> list[Action]:
        first = not self.faults
        self.faults.add(reason)
        if not self.running or not first:
            return []
        return self._enter_fault(now, reason)

    def _fault_cleared(self, reason: str, now: float) -> list[Action]:
        if reason not in self.faults:
            return []
        self.faults.discard(reason)
        if self.faults or not self.running or self.state is not State.FAULT:
            return []
        return self._startup(now, f"{reason} recovered")

    # State entries ------------------------------------------------------------------

    def _enter_master(self, now: float, reason: str) -> list[Action]:
        """Send an ADVERTISEMENT, install and announce the addresses, arm Adver_Timer.

        The Transition comes first so that the I/O layer can commit the synced
        connection table before the addresses attract traffic.
        """
        garp = self.group.garp
        self.master_address = self.primary_address
        self.master_priority = self.priority
        self.wants_master = False
        self._reannounce_tokens = float(REANNOUNCE_BURST)
        self._reannounce_refilled = now
        actions = self._transition(State.MASTER, reason)
        actions += [
            self._cancel(Timer.MASTER_DOWN),
            SendAdvert(self.name, self.priority),
            AddAddresses(self.name),
            SendGratuitous(self.name, garp.master_repeat),
            self._arm(Timer.ADVER, now + self.advert_interval),
        ]
        if garp.master_delay:
            actions.append(self._arm(Timer.GARP_DELAY, now + garp.master_delay))
        if garp.master_refresh:
            actions.append(self._arm(Timer.GARP_REFRESH, now + garp.master_refresh))
        return [a for a in actions if a is not None] + self._sync_notice(now)

    def _enter_backup(self, now: float, reason: str) -> list[Action]:
        actions: list[Action] = []
        last: list[Action] = []
        if self.state is State.MASTER:
            # Beyond the RFC (see the module's docstring): a last advert, so that the
            # master we yield to hears that we were master and re-announces itself.
            # First of all: the transition takes a virtual MAC interface down.
            last.append(SendAdvert(self.name, self.priority))
            actions.append(RemoveAddresses(self.name))
        actions += [a for a in self._cancel_all() if a.timer is not Timer.MASTER_DOWN]
        if self.state is not State.MASTER:
            self.master_address = None
            self.master_priority = None
        self.wants_master = False
        actions.append(self._arm(Timer.MASTER_DOWN, now + self.master_down_interval))
        return last + self._transition(State.BACKUP, reason) + actions + self._sync_notice(now)

    def _enter_fault(self, now: float, reason: str) -> list[Action]:
        actions: list[Action] = []
        if self.state is State.MASTER:
            # Hand over after Skew_Time rather than Master_Down_Interval.
            actions += [SendAdvert(self.name, STOP_PRIORITY), RemoveAddresses(self.name)]
        self.master_address = None
        self.master_priority = None
        self.wants_master = False
        actions += self._cancel_all()
        return self._transition(State.FAULT, reason) + actions + self._sync_notice(now)

    # Forced by the sync group -------------------------------------------------------

    def follow(self, state: State, now: float, reason: str) -> list[Action]:
        """Move to ``state`` because another member of the sync group did."""
        if not self.running or self.state is state or self.state is State.FAULT:
            return []
        if state is State.MASTER:
            return self._enter_master(now, reason)
        if state is State.BACKUP:
            return self._enter_backup(now, reason)
        return []

    # Helpers ------------------------------------------------------------------------

    def _transition(self, new: State, reason: str) -> list[Action]:
        old, self.state = self.state, new
        return [Transition(self.name, old, new, reason)] if old is not new else []

    def _sync_notice(self, now: float) -> list[Action]:
        return self.sync.member_changed(self, now) if self.sync is not None else []

    def _arm(self, timer: Timer, at: float) -> ScheduleTimer:
        self.timers[timer] = at
        return ScheduleTimer(self.name, timer, at)

    def _cancel(self, timer: Timer) -> CancelTimer | None:
        if self.timers.pop(timer, None) is None:
            return None
        return CancelTimer(self.name, timer)

    def _cancel_all(self) -> list[CancelTimer]:
        return [c for c in (self._cancel(t) for t in list(self.timers)) if c is not None]


def _address_key(address: IPAddress) -> int:
    """RFC 5798 section 6.4.3: addresses compare as unsigned integers in network order."""
    return int(address)
