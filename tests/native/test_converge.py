"""Planning the commands that converge a router's native configuration: minimal,
idempotent, foreign configuration untouched, conflicting native groups removed."""

from __future__ import annotations

import dataclasses
import ipaddress
import shlex

import pytest

from routerha.model import Config
from routerha.model.native import NativeParseError, parse_set_lines
from routerha.model.native.converge import (
    Conflict,
    conflicts,
    converge_commands,
    native_part,
    owned_paths,
    removal_commands,
)
from routerha.model.native.render import RenderError, render_set_lines
from tests.native.builders import config, group, renamed, schema_checked

# A tiny VyOS: set and delete applied to the lines of `show configuration commands`.

#: Leaves holding one value: a set replaces it (everything else adds a line).
SINGLE = {
    "priority", "advertise-interval", "preempt-delay", "preempt", "vrid", "description",
    "hello-source-address", "password", "type", "script", "ping", "interval",
    "failure-count", "master", "backup", "fault", "stop", "sync-group", "mcast-group",
    "event-listen-queue-size", "sync-queue-size", "version", "peer", "port",
    "master-delay", "master-repeat", "master-refresh", "master-refresh-repeat",
}  # fmt: skip


def single(path: tuple[str, ...]) -> bool:
    if len(path) < 2:
        return False
    if path[-2] == "interface":  # a group's interface; conntrack-sync's is a tag (1.2+)
        return path[:2] != ("service", "conntrack-sync")
    return path[-2] in SINGLE


def apply(current: str, commands: list[str]) -> str:
    paths = [
        tuple(shlex.split(line))[1:] for line in current.splitlines() if line.startswith("set ")
    ]
    for text in commands:
        verb, *words = shlex.split(text)
        path = tuple(words)
        if verb == "delete":
            assert any(p[: len(path)] == path for p in paths), f"nothing to delete: {text}"
            paths = [p for p in paths if p[: len(path)] != path]
            continue
        assert verb == "set", text
        assert path not in paths, f"set of an existing line: {text}"
        if single(path):
            paths = [p for p in paths if not (len(p) == len(path) and p[:-1] == path[:-1])]
        paths.append(path)
    return "\n".join("set " + " ".join(shlex.quote(w) for w in p) for p in paths) + "\n"


def words(text: str) -> set[tuple[str, ...]]:
    """The lines of set-line text as words (quoting aside)."""
    return {tuple(shlex.split(line)) for line in text.splitlines() if line.strip()}


def desired(**lan) -> Config:
    """A router every syntax can say: LAN and WAN in CG-1, DMZ alone, conntrack sync."""
    return config(
        {
            "LAN": group(
                "eth1",
                10,
                "10.0.0.2/24",
                "10.0.0.3/24",
                **{"priority": 200, "authentication": {"type": "ah", "password": "secret1"}, **lan},
            ),
            "WAN": group("eth2.100", 20, "198.51.100.12/24", preempt=False, preempt_delay=10),
            "DMZ": group("eth5", 30, "203.0.113.1/28"),
        },
        {"CG-1": {"member": ["LAN", "WAN"]}},
        {
            "interface": "eth3",
            "failover_mechanism": {"sync_group": "CG-1"},
            "authentication": {"type": "none"},  # conntrackd has no sync authentication
            "startup_resync": False,
        },
    )


DESIRED = desired()

FOREIGN = """\
set firewall name WAN-in default-action 'drop'
set interfaces ethernet eth1 address '192.168.0.253/24'
set interfaces ethernet eth4 vrrp vrrp-group 5 virtual-address '10.5.5.5/24'
set high-availability vrrp group OTHER interface 'eth1'
set high-availability vrrp group OTHER vrid '99'
set high-availability vrrp group OTHER address 10.9.9.9/24
set system host-name 'R1'
"""


def rendered(config: Config, syntax: str) -> str:
    return "\n".join(render_set_lines(config, syntax)) + "\n"


def converged(current: str, want: Config, syntax: str, previous: Config | None = None) -> Config:
    """Apply the plan, check the router then matches (no further commands), and
    return the router's configuration as parsed."""
    after = apply(current, converge_commands(current, want, syntax, previous))
    assert converge_commands(after, want, syntax, previous) == []
    return parse_set_lines(after, "after")


def assert_holds(parsed: Config, want: Config, syntax: str) -> None:
    """``parsed`` has exactly the desired groups (besides foreign ones), sync groups
    and conntrack sync."""
    expected = renamed(want) if syntax == "vyatta" else want
    assert {n: parsed.groups.get(n) for n in expected.groups} == expected.groups
    for name, sync_group in expected.sync_groups.items():
        got = parsed.sync_groups[name]
        assert set(got.member) == set(sync_group.member)
        assert dataclasses.replace(got, member=()) == dataclasses.replace(sync_group, member=())
    assert parsed.conntrack_sync == expected.conntrack_sync


SYNTAXES = ("vyos", "vyos-1.2", "vyatta")


# Idempotence and minimality


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_empty_router_gets_every_set(syntax):
    commands = converge_commands("", DESIRED, syntax)
    assert commands == render_set_lines(DESIRED, syntax)
    assert_holds(converged("", DESIRED, syntax), DESIRED, syntax)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_matching_router_gets_nothing(syntax):
    assert converge_commands(FOREIGN + rendered(DESIRED, syntax), DESIRED, syntax) == []


def test_what_the_router_assumes_anyway_is_left_alone():
    # Vyatta writes defaults into every group; addresses may lack the /32; quoting varies.
    want = config({"A": group("eth0", 1, "10.0.0.1", "10.0.0.2/24")})
    current = """\
set interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval '1'
set interfaces ethernet eth0 vrrp vrrp-group 1 preempt 'true'
set interfaces ethernet eth0 vrrp vrrp-group 1 priority 100
set interfaces ethernet eth0 vrrp vrrp-group 1 "virtual-address" 10.0.0.1
set interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address '10.0.0.2/24'
"""
    assert converge_commands(current, want, "vyatta") == []
    # ...but a value that is not the default goes, by its leaf.
    changed = current.replace("priority 100", "priority 90")
    assert converge_commands(changed, want, "vyatta") == [
        "delete interfaces ethernet eth0 vrrp vrrp-group 1 priority"
    ]


@pytest.mark.parametrize(
    ("syntax", "expected"),
    [
        ("vyos", "set high-availability vrrp group LAN priority '150'"),
        ("vyos-1.2", "set high-availability vrrp group LAN priority '150'"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 priority '150'"),
    ],
)
def test_one_changed_priority_is_one_set(syntax, expected):
    current = FOREIGN + rendered(DESIRED, syntax)
    assert converge_commands(current, desired(priority=150), syntax) == [expected]


def test_preempt_flips_in_place():
    current = rendered(DESIRED, "vyatta")
    commands = converge_commands(current, desired(preempt=False), "vyatta")
    assert commands == ["set interfaces ethernet eth1 vrrp vrrp-group 10 preempt 'false'"]
    back = converge_commands(apply(current, commands), DESIRED, "vyatta")
    assert back == ["delete interfaces ethernet eth1 vrrp vrrp-group 10 preempt"]
    assert converge_commands(current, desired(preempt=False), "vyos") != []  # other syntax
    vyos = rendered(desired(preempt=False), "vyos")
    assert converge_commands(vyos, DESIRED, "vyos") == [
        "delete high-availability vrrp group LAN no-preempt"
    ]


@pytest.mark.parametrize(
    ("syntax", "expected"),
    [
        ("vyos", "delete high-availability vrrp group LAN address '10.0.0.3/24'"),
        ("vyos-1.2", "delete high-availability vrrp group LAN virtual-address '10.0.0.3/24'"),
        (
            "vyatta",
            "delete interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address '10.0.0.3/24'",
        ),
    ],
)
def test_removed_multi_value_is_one_delete(syntax, expected):
    current = FOREIGN + rendered(DESIRED, syntax)
    fewer = desired(address=["10.0.0.2/24"])
    assert converge_commands(current, fewer, syntax) == [expected]
    assert_holds(converged(current, fewer, syntax), fewer, syntax)


def test_multi_values_are_compared_as_sets():
    current = FOREIGN + rendered(DESIRED, "vyos")
    assert converge_commands(current, desired(address=["10.0.0.3/24", "10.0.0.2/24"]), "vyos") == []
    swapped = desired(address=["10.0.0.2/24", "10.0.0.4/24"])
    assert converge_commands(current, swapped, "vyos") == [
        "delete high-availability vrrp group LAN address '10.0.0.3/24'",
        "set high-availability vrrp group LAN address 10.0.0.4/24",
    ]


def without(config: Config, name: str) -> Config:
    return dataclasses.replace(config, groups={n: g for n, g in config.groups.items() if n != name})


@pytest.mark.parametrize(
    ("syntax", "expected"),
    [
        ("vyos", "delete high-availability vrrp group DMZ"),
        ("vyatta", "delete interfaces ethernet eth5 vrrp vrrp-group 30"),
    ],
)
def test_removed_group_is_one_delete(syntax, expected):
    current = FOREIGN + rendered(DESIRED, syntax)
    smaller = without(DESIRED, "DMZ")
    assert converge_commands(current, smaller, syntax, previous=DESIRED) == [expected]
    assert "DMZ" not in converged(current, smaller, syntax, previous=DESIRED).groups
    # Without the previous configuration the group cannot be told from a native one.
    assert converge_commands(current, smaller, syntax) == []


def test_removed_sync_group_and_conntrack():
    current = FOREIGN + rendered(DESIRED, "vyos")
    bare = config(
        {"LAN": DESIRED_DATA["LAN"], "WAN": DESIRED_DATA["WAN"], "DMZ": DESIRED_DATA["DMZ"]}
    )
    assert converge_commands(current, bare, "vyos", previous=DESIRED) == [
        "delete high-availability vrrp sync-group CG-1",
        "delete service conntrack-sync",
    ]


DESIRED_DATA = {
    "LAN": group(
        "eth1",
        10,
        "10.0.0.2/24",
        "10.0.0.3/24",
        priority=200,
        authentication={"type": "ah", "password": "secret1"},
    ),
    "WAN": group("eth2.100", 20, "198.51.100.12/24", preempt=False, preempt_delay=10),
    "DMZ": group("eth5", 30, "203.0.113.1/28"),
}


def test_desired_data_matches_desired():
    assert config(DESIRED_DATA).groups == DESIRED.groups


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_foreign_configuration_is_untouched(syntax):
    old = desired(priority=50, address=["10.0.0.9/24"], description="old")
    current = FOREIGN + rendered(old, syntax)
    commands = converge_commands(current, DESIRED, syntax, previous=old)
    assert commands
    for command in commands:
        assert "firewall" not in command
        assert "system" not in command
        assert "OTHER" not in command
        assert "eth4" not in command
        assert "192.168.0.253" not in command
    after = apply(current, commands)
    assert words(FOREIGN) <= words(after)
    parsed = converged(current, DESIRED, syntax, previous=old)
    assert_holds(parsed, DESIRED, syntax)
    assert parsed.groups["OTHER"] == parse_set_lines(FOREIGN).groups["OTHER"]
    assert parsed.groups["eth4-5"] == parse_set_lines(FOREIGN).groups["eth4-5"]


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize(
    "before",
    [
        "",
        "set high-availability vrrp group LAN interface 'eth7'\nset high-availability vrrp group LAN vrid '77'\n"
        "set high-availability vrrp group LAN address 10.7.7.7/24\nset high-availability vrrp group LAN priority 1\n",
        "set service conntrack-sync interface 'eth9'\nset service conntrack-sync accept-protocol 'tcp,icmp'\n"
        "set service conntrack-sync failover-mechanism vrrp sync-group 'CG-1'\n",
    ],
    ids=["nothing", "another LAN", "old conntrack"],
)
def test_applying_the_plan_gives_the_desired_configuration(syntax, before):
    # Our own subtrees hold anything at all beforehand; after one plan they say DESIRED.
    current = FOREIGN + before + rendered(desired(priority=77, description="before"), syntax)
    assert_holds(converged(current, DESIRED, syntax), DESIRED, syntax)


def test_global_nodes_that_change_our_groups_go():
    current = (
        FOREIGN
        + rendered(DESIRED, "vyos")
        + "set high-availability disable\n"
        + "set high-availability vrrp global-parameters garp master-delay '10'\n"
        + "set high-availability vrrp global-parameters startup-delay '30'\n"
    )
    assert converge_commands(current, DESIRED, "vyos") == [
        "delete high-availability disable",
        "delete high-availability vrrp global-parameters garp",
    ]
    v3 = config({"A": group("eth0", 1, "10.0.0.1/24", version=3)})
    assert (
        converge_commands("", v3, "vyos")[0]
        == "set high-availability vrrp global-parameters version '3'"
    )
    v2 = config({"A": group("eth0", 1, "10.0.0.1/24")})
    assert converge_commands(rendered(v3, "vyos"), v2, "vyos") == [
        "delete high-availability vrrp global-parameters version"
    ]


def test_owned_paths():
    assert owned_paths(DESIRED, "vyos") == [
        ("high-availability", "vrrp", "group", "DMZ"),
        ("high-availability", "vrrp", "group", "LAN"),
        ("high-availability", "vrrp", "group", "WAN"),
        ("high-availability", "vrrp", "sync-group", "CG-1"),
        ("high-availability", "disable"),
        ("high-availability", "vrrp", "global-parameters", "garp"),
        ("high-availability", "vrrp", "global-parameters", "version"),
        ("service", "conntrack-sync"),
    ]
    assert owned_paths(DESIRED, "vyatta") == [
        ("interfaces", "ethernet", "eth1", "vrrp", "vrrp-group", "10"),
        ("interfaces", "ethernet", "eth2", "vif", "100", "vrrp", "vrrp-group", "20"),
        ("interfaces", "ethernet", "eth5", "vrrp", "vrrp-group", "30"),
        ("service", "conntrack-sync"),
    ]
    assert owned_paths(Config(), "vyos") == []


def test_tag_node_kept_when_its_children_go():
    unicast = dataclasses.replace(
        DESIRED,
        conntrack_sync=dataclasses.replace(
            DESIRED.conntrack_sync, peer=ipaddress.ip_address("10.3.3.3")
        ),
    )
    current = rendered(unicast, "vyos")
    assert "set service conntrack-sync interface eth3 peer '10.3.3.3'" in current
    # VyOS keeps the tag node eth3 when its peer goes: nothing to set.
    assert converge_commands(current, DESIRED, "vyos") == [
        "delete service conntrack-sync interface eth3 peer"
    ]


# Conflicts

LEGACY_LAN = """\
set interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address '10.0.0.2/24'
set interfaces ethernet eth1 vrrp vrrp-group 10 priority '50'
set interfaces ethernet eth1 vrrp vrrp-group 10 sync-group 'OLD'
set interfaces ethernet eth2 vif 100 vrrp vrrp-group 20 virtual-address '198.51.100.12/24'
set interfaces ethernet eth2 vif 100 vrrp vrrp-group 20 sync-group 'OLD'
set service conntrack-sync interface 'eth3'
set service conntrack-sync failover-mechanism vrrp sync-group 'OLD'
"""


def test_legacy_group_on_a_desired_slot_conflicts():
    found = conflicts(FOREIGN + LEGACY_LAN, DESIRED)
    assert found == [
        Conflict(
            "vrrp-group",
            ("interfaces", "ethernet", "eth1", "vrrp", "vrrp-group", "10"),
            "eth1",
            10,
            "eth1-10",
            "LAN",
        ),
        Conflict(
            "vrrp-group",
            ("interfaces", "ethernet", "eth2", "vif", "100", "vrrp", "vrrp-group", "20"),
            "eth2.100",
            20,
            "eth2.100-20",
            "WAN",
        ),
        Conflict("conntrack-sync", ("service", "conntrack-sync"), "eth3", None, "OLD"),
    ]
    assert str(found[0]) == (
        "native VRRP group 'eth1-10' ('interfaces ethernet eth1 vrrp vrrp-group 10') runs on "
        "eth1 with VRID 10, as the configuration's group 'LAN' does"
    )
    assert str(found[2]) == (
        "native conntrack-sync over eth3 ('service conntrack-sync') is replaced by the "
        "configuration's conntrack_sync"
    )


def test_converge_replaces_the_conflicting_legacy_groups():
    current = FOREIGN + LEGACY_LAN
    commands = converge_commands(current, DESIRED, "vyos")
    assert [c for c in commands if c.startswith("delete")] == [
        "delete interfaces ethernet eth1 vrrp vrrp-group 10",
        "delete interfaces ethernet eth2 vif 100 vrrp vrrp-group 20",
    ]
    # conntrack-sync is ours: its single-valued leaf is overwritten in place.
    assert "set service conntrack-sync failover-mechanism vrrp sync-group 'CG-1'" in commands
    assert not any("interface" in c for c in commands if "conntrack-sync" in c)
    parsed = converged(current, DESIRED, "vyos")
    assert_holds(parsed, DESIRED, "vyos")
    assert set(parsed.groups) == {"LAN", "WAN", "DMZ", "OTHER", "eth4-5"}
    assert removal_commands(current, DESIRED) == [
        "delete interfaces ethernet eth1 vrrp vrrp-group 10",
        "delete interfaces ethernet eth2 vif 100 vrrp vrrp-group 20",
        "delete service conntrack-sync",
    ]


def test_vyos_group_under_another_name_conflicts_in_vyatta():
    current = (
        "set high-availability vrrp group OLDLAN interface 'eth1'\n"
        "set high-availability vrrp group OLDLAN vrid '10'\n"
        "set high-availability vrrp group OLDLAN address 10.0.0.2/24\n"
        "set high-availability vrrp group KEEP interface 'eth1'\n"
        "set high-availability vrrp group KEEP vrid '11'\n"
        "set high-availability vrrp group KEEP address 10.0.1.2/24\n"
        "set high-availability vrrp sync-group MIXED member 'OLDLAN'\n"
        "set high-availability vrrp sync-group MIXED member 'KEEP'\n"
        "set high-availability vrrp sync-group ALONE member 'OLDLAN'\n"
    )
    assert [c.group for c in conflicts(current, DESIRED, syntax="vyatta")] == ["OLDLAN"]
    assert [c.group for c in conflicts(current, DESIRED)] == ["OLDLAN"]  # another name
    commands = converge_commands(current, DESIRED, "vyatta")
    assert commands[:3] == [
        "delete high-availability vrrp group OLDLAN",
        "delete high-availability vrrp sync-group MIXED member 'OLDLAN'",
        "delete high-availability vrrp sync-group ALONE",
    ]
    parsed = converged(current, DESIRED, "vyatta")
    assert_holds(parsed, DESIRED, "vyatta")
    assert parsed.sync_groups["MIXED"].member == ("KEEP",)


def test_same_slot_other_family_or_our_own_path_is_no_conflict():
    v6 = (
        "set high-availability vrrp group LAN6 interface 'eth1'\n"
        "set high-availability vrrp group LAN6 vrid '10'\n"
        "set high-availability vrrp group LAN6 address 2001:db8::1/64\n"
    )
    assert conflicts(v6 + rendered(DESIRED, "vyos"), DESIRED) == [
        Conflict("conntrack-sync", ("service", "conntrack-sync"), "eth3", None, "CG-1")
    ]
    assert (
        conflicts(
            rendered(without(DESIRED, "DMZ"), "vyos"),
            config({"X": group("eth9", 1, "10.0.0.1/24")}),
        )
        == []
    )
    # Our own vyatta group is no conflict when converging in vyatta, but is for VyOS 1.4.
    legacy = rendered(config({"LAN": DESIRED_DATA["LAN"]}), "vyatta")
    assert conflicts(legacy, DESIRED, syntax="vyatta") == []
    assert [c.path[-1] for c in conflicts(legacy, DESIRED)] == ["10"]


def test_removal_for_routerhad_takes_every_native_group_on_our_slots():
    current = FOREIGN + rendered(DESIRED, "vyos")
    # Under the VyOS 1.4 paths of the configuration itself: not conflicts there...
    assert [c.kind for c in conflicts(current, DESIRED)] == ["conntrack-sync"]
    # ...but routerhad uses none of the tree: everything native on our slots goes.
    assert removal_commands(current, DESIRED) == [
        "delete high-availability vrrp group DMZ",
        "delete high-availability vrrp group LAN",
        "delete high-availability vrrp group WAN",
        "delete high-availability vrrp sync-group CG-1",
        "delete service conntrack-sync",
    ]
    assert removal_commands(current, DESIRED, syntax="vyos") == ["delete service conntrack-sync"]
    assert removal_commands(FOREIGN, DESIRED) == []
    after = parse_set_lines(apply(current, removal_commands(current, DESIRED)))
    assert set(after.groups) == {"OTHER", "eth4-5"}
    assert after.conntrack_sync is None


def test_native_part_is_the_conflicting_configuration():
    part = native_part(FOREIGN + LEGACY_LAN + "set system ntp server 'x'\n", DESIRED)
    assert part == parse_set_lines(LEGACY_LAN)
    assert set(part.groups) == {"eth1-10", "eth2.100-20"}
    assert part.sync_groups["OLD"].member == ("eth1-10", "eth2.100-20")
    assert native_part(FOREIGN, DESIRED) == Config()
    # With conntrack sync, its sync group comes along whole.
    lan_only = config(
        {"LAN": DESIRED_DATA["LAN"]},
        {"S": {"member": ["LAN"]}},
        {
            "interface": "eth3",
            "failover_mechanism": {"sync_group": "S"},
            "authentication": {"type": "none"},
        },
    )
    assert set(native_part(FOREIGN + LEGACY_LAN, lan_only).groups) == {"eth1-10", "eth2.100-20"}
    # Without it, only the conflicting members.
    no_sync = config({"LAN": DESIRED_DATA["LAN"]})
    part = native_part(FOREIGN + LEGACY_LAN, no_sync)
    assert set(part.groups) == {"eth1-10"}
    assert part.sync_groups["OLD"].member == ("eth1-10",)
    assert part.conntrack_sync is None


def test_native_part_of_vyos_groups_keeps_their_global_settings():
    current = (
        FOREIGN
        + "set high-availability vrrp group OLD interface 'eth5'\n"
        + "set high-availability vrrp group OLD vrid '30'\n"
        + "set high-availability vrrp group OLD address 203.0.113.1/28\n"
        + "set high-availability vrrp global-parameters version '3'\n"
    )
    part = native_part(current, DESIRED)
    assert set(part.groups) == {"OLD"}
    assert part.groups["OLD"].version == 3


def test_unreadable_running_configuration():
    with pytest.raises(NativeParseError) as caught:
        converge_commands("set system host-name 'R1\n", DESIRED, "vyos")
    assert str(caught.value).startswith("<running>:1: unterminated ' quote")
    with pytest.raises(NativeParseError):
        conflicts("delete system\n", DESIRED, source="r1")


def test_render_errors_come_first():
    v3 = config({"A": group("eth0", 1, "10.0.0.1/24", version=3)})
    with pytest.raises(RenderError):
        converge_commands("", v3, "vyatta")
    with pytest.raises(ValueError, match="unknown syntax"):
        conflicts("", v3, syntax="junos")


@pytest.mark.parametrize("syntax", ["vyos", "vyatta"])
def test_commands_pass_the_routers_schema(syntax):
    old = desired(priority=50, address=["10.0.0.9/24", "10.0.0.2/24"], description="old")
    current = FOREIGN + LEGACY_LAN + rendered(old, syntax)
    commands = converge_commands(current, DESIRED, syntax, previous=old)
    assert any(c.startswith("delete") for c in commands)
    schema_checked(syntax, commands)
