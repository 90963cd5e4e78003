"""Consistency checks across the members of a VRRP setup (the pair_check logic)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from routerha.errors import ConfigError
from routerha.model import load_config
from routerha.model.consistency import (
    CODES,
    ERROR,
    WARNING,
    Finding,
    Member,
    check_members,
    load_member,
    splitting_changes,
    splitting_report,
)
from routerha.model.load import load_config_lenient
from routerha.model.native import (
    NativeParseError,
    parse_config_boot,
    parse_keepalived,
    parse_native,
    parse_set_lines,
)

NATIVE = Path(__file__).parent.parent / "native" / "fixtures"
KEY = b"fixed key for the tests only"


def read(name: str) -> str:
    return (NATIVE / name).read_text(encoding="utf-8")


def summary(findings: list[Finding]) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    return [(f.severity, f.code, f.group, f.members) for f in findings]


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


# Small routerhad models: LAN and WAN in sync group CG-1, r1 the master of both.


def lan(**changes):
    return {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"], **changes}


def wan(**changes):
    return {"interface": "eth1", "vrid": 7, "address": ["198.51.100.12/24"], **changes}


def model(groups, sync=None):
    data = {"vrrp": {"groups": groups}}
    if sync is not None:
        data["vrrp"]["sync_groups"] = sync
    return data


def router(priority, lan_changes=None, wan_changes=None, sync=True, **extra_groups):
    groups = {
        "LAN": {**lan(priority=priority), **(lan_changes or {})},
        "WAN": {**wan(priority=priority), **(wan_changes or {})},
        **extra_groups,
    }
    for name in [n for n, g in groups.items() if g is None]:
        del groups[name]
    members = [n for n in ("LAN", "WAN") if n in groups]
    return model(groups, {"CG-1": {"member": members}} if sync else None)


def check(*datas, interface_addresses=None):
    """check_members over routerhad models loaded leniently, named r1, r2..."""
    configs, semantic = {}, {}
    for i, data in enumerate(datas, 1):
        configs[f"r{i}"], semantic[f"r{i}"] = load_config_lenient(data)
    return check_members(
        configs,
        semantic=semantic,
        interface_addresses=interface_addresses,
        fingerprint_key=KEY,
    )


AUTH = {"type": "plaintext-password", "password": "Yoghurt1"}


# Negative controls


def test_consistent_pair_has_no_findings():
    assert check(router(200), router(100)) == []


def test_consistent_pair_with_authentication_and_settings_has_no_findings():
    settings = {
        "authentication": AUTH,
        "advertise_interval": 2,
        "rfc3768_compatibility": True,
        "preempt_delay": 30,
    }
    assert check(router(200, settings, settings), router(100, settings, settings)) == []


def test_interface_names_and_address_prefixes_may_differ():
    # Seed 000: RT-2 is RT-1 but for the name of its WAN port; VyOS 1.1 writes /32.
    r2 = router(100, wan_changes={"interface": "eth4", "address": ["198.51.100.12/32"]})
    assert check(router(200), r2) == []


def test_group_names_may_differ():
    r2 = model(
        {"VI_1": lan(priority=100), "VI_2": wan(priority=100)},
        {"other-name": {"member": ["VI_1", "VI_2"]}},
    )
    assert check(router(200), r2) == []


# One test per check code


def one_finding(findings, code, severity):
    assert [f.code for f in findings] == [code], summary(findings)
    assert findings[0].severity == severity == CODES[code][0]
    return findings[0]


def test_auth_type_mismatch_present_vs_absent():
    found = one_finding(
        check(router(200, {"authentication": AUTH}), router(100)), "auth-type-mismatch", ERROR
    )
    assert found.group == "LAN"
    assert found.path == "vrrp.groups.LAN.authentication.type"
    assert "r1 plaintext-password, r2 none" in found.message


def test_auth_type_mismatch_plaintext_vs_ah():
    ah = {**AUTH, "type": "ah"}
    found = one_finding(
        check(router(200, {"authentication": AUTH}), router(100, {"authentication": ah})),
        "auth-type-mismatch",
        ERROR,
    )
    assert found.members == ("r1", "r2")


def test_password_mismatch():
    other = {**AUTH, "password": "Butter22"}
    found = one_finding(
        check(router(200, {"authentication": AUTH}), router(100, {"authentication": other})),
        "password-mismatch",
        ERROR,
    )
    assert found.path == "vrrp.groups.LAN.authentication.password"
    assert "r1 does not accept r2's" in found.message
    assert "r2 does not accept r1's" in found.message
    assert found.message.count("fingerprint ") == 2


def test_password_rollover_is_a_warning():
    new = {**AUTH, "password": "NewPass1", "accept": ["Yoghurt1"]}
    old = {**AUTH, "accept": ["NewPass1"]}
    found = one_finding(
        check(router(200, {"authentication": new}), router(100, {"authentication": old})),
        "password-rollover",
        WARNING,
    )
    assert "rollover in progress" in found.message


def test_password_rollover_needs_every_member_to_accept():
    new = {**AUTH, "password": "NewPass1", "accept": ["Yoghurt1"]}
    found = one_finding(
        check(router(200, {"authentication": new}), router(100, {"authentication": AUTH})),
        "password-mismatch",
        ERROR,
    )
    assert "r2 does not accept r1's" in found.message
    assert "r1 does not accept" not in found.message


@pytest.mark.parametrize(
    ("code", "changes", "path", "shown"),
    [
        ("rfc3768-mismatch", {"rfc3768_compatibility": True}, "rfc3768_compatibility", "r2 on"),
        ("version-mismatch", {"version": 3}, "version", "r1 v2, r2 v3"),
        ("advertise-interval-mismatch", {"advertise_interval": 3}, "advertise_interval", "r2 3 s"),
        ("vrid-mismatch", {"vrid": 2}, "vrid", "r1 1, r2 2"),
        ("address-mismatch", {"address": ["10.1.1.6/24"]}, "address", "r2 10.1.1.6"),
    ],
)
def test_settings_that_differ(code, changes, path, shown):
    found = one_finding(check(router(200), router(100, changes)), code, ERROR)
    assert found.group == "LAN"
    assert found.path == f"vrrp.groups.LAN.{path}"
    assert shown in found.message


def test_addresses_on_other_interfaces_are_compared():
    placed = {"address": ["10.1.1.5/24", {"address": "192.0.2.5/24", "interface": "eth2"}]}
    assert check(router(200, placed), router(100, placed)) == []
    elsewhere = {"address": ["10.1.1.5/24", {"address": "192.0.2.5/24", "interface": "eth3"}]}
    found = one_finding(
        check(router(200, placed), router(100, elsewhere)), "address-mismatch", ERROR
    )
    assert found.path == "vrrp.groups.LAN.address"
    assert (
        "installed on different interfaces (r1 192.0.2.5/24 on eth2, r2 192.0.2.5/24 on eth3)"
        in (found.message)
    )
    here = {"address": ["10.1.1.5/24", "192.0.2.5/24"]}
    found = one_finding(check(router(200, placed), router(100, here)), "address-mismatch", ERROR)
    assert "r2 all on the group's interface" in found.message
    # keepalived's "A dev Y" and VyOS's "address A interface Y" are one thing.
    keepalived = """\
vrrp_instance LAN {
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        10.1.1.5/24
        192.0.2.5/24 dev eth2
    }
}
"""
    vyos = (
        "set high-availability vrrp group LAN interface eth0\n"
        "set high-availability vrrp group LAN vrid 1\n"
        "set high-availability vrrp group LAN priority 200\n"
        "set high-availability vrrp group LAN address 10.1.1.5/24\n"
        "set high-availability vrrp group LAN address 192.0.2.5/24 interface eth2\n"
    )
    members = {"r1": load_member(vyos, source="r1"), "r2": load_member(keepalived, source="r2")}
    assert check_members(members, fingerprint_key=KEY) == []


def test_vrid_mismatch_on_a_renamed_interface_is_still_matched_by_address():
    r2 = router(100, {"vrid": 9, "interface": "eth5"})
    assert summary(check(router(200), r2)) == [(ERROR, "vrid-mismatch", "LAN", ("r1", "r2"))]


def test_advertise_interval_mismatch_in_vrrp3_says_why():
    found = one_finding(
        check(
            router(200, {"version": 3, "advertise_interval": 0.5}),
            router(100, {"version": 3, "advertise_interval": 1}),
        ),
        "advertise-interval-mismatch",
        ERROR,
    )
    assert "r1 0.5 s, r2 1 s" in found.message
    assert "VRRPv3 backup follows the master's interval" in found.message


def test_sync_group_mismatch_in_a_sync_group_on_one_member_only():
    findings = check(router(200), router(100, sync=False))
    assert summary(findings) == [
        (ERROR, "sync-group-mismatch", "LAN", ("r1", "r2")),
        (ERROR, "sync-group-mismatch", "WAN", ("r1", "r2")),
    ]
    assert findings[0].path == "vrrp.sync_groups.CG-1.member"
    assert "r1 in sync group CG-1 with WAN; r2 in no sync group" in findings[0].message


def test_sync_group_mismatch_is_by_groups_not_by_name():
    # Same groups, other sync-group names: consistent. Another partner: not.
    r2 = model(
        {"LAN": lan(priority=100), "WAN": wan(priority=100)},
        {"renamed": {"member": ["LAN", "WAN"]}},
    )
    assert check(router(200), r2) == []
    dmz = {"interface": "eth2", "vrid": 3, "address": ["192.0.2.1/24"]}
    r1 = model(
        {"LAN": lan(priority=200), "WAN": wan(priority=200), "DMZ": {**dmz, "priority": 200}},
        {"A": {"member": ["LAN", "WAN"]}},
    )
    r2 = model(
        {"LAN": lan(priority=100), "WAN": wan(priority=100), "DMZ": {**dmz, "priority": 100}},
        {"A": {"member": ["LAN", "DMZ"]}},
    )
    assert summary(check(r1, r2)) == [
        (ERROR, "sync-group-mismatch", "DMZ", ("r1", "r2")),
        (ERROR, "sync-group-mismatch", "LAN", ("r1", "r2")),
        (ERROR, "sync-group-mismatch", "WAN", ("r1", "r2")),
    ]


def test_sync_master_conflict():
    # LAN prefers r1 and WAN prefers r2, but the sync group moves them together.
    r1 = router(200, wan_changes={"priority": 100})
    r2 = router(100, wan_changes={"priority": 200})
    findings = check(r1, r2)
    assert summary(findings) == [
        (ERROR, "sync-master-conflict", None, ("r1", "r2")),
        (WARNING, "sync-priority-differs", None, ("r1",)),
        (WARNING, "sync-priority-differs", None, ("r2",)),
    ]
    assert "LAN by r1, WAN by r2" in findings[0].message
    assert "endless transition loop" in findings[0].message


def test_load_sharing_without_a_sync_group_is_no_conflict():
    r1 = router(200, wan_changes={"priority": 100}, sync=False)
    r2 = router(100, wan_changes={"priority": 200}, sync=False)
    assert check(r1, r2) == []


def test_priority_equal():
    found = one_finding(
        check(
            router(100, wan_changes={"priority": 50}, sync=False),
            router(100, wan_changes={"priority": 60}, sync=False),
        ),
        "priority-equal",
        ERROR,
    )
    assert (found.group, found.path) == ("LAN", "vrrp.groups.LAN.priority")
    # One finding per group, sorted by group name.
    findings = check(router(100, sync=False), router(100, sync=False))
    assert summary(findings) == [
        (ERROR, "priority-equal", "LAN", ("r1", "r2")),
        (ERROR, "priority-equal", "WAN", ("r1", "r2")),
    ]
    assert "highest primary IP address" in findings[0].message


def test_owner_duplicate():
    findings = check(router(255, sync=False), router(255, sync=False))
    assert summary(findings) == [
        (ERROR, "owner-duplicate", "LAN", ("r1", "r2")),
        (ERROR, "owner-duplicate", "WAN", ("r1", "r2")),
    ]


def test_owner_address_not_virtual():
    addresses = {"r1": {"eth0": [ipaddress.ip_interface("10.1.1.2/24")]}}
    found = one_finding(
        check(router(255, {"priority": 255}), router(100), interface_addresses=addresses),
        "owner-address-not-virtual",
        ERROR,
    )
    assert found.members == ("r1",)
    assert "10.1.1.2" in found.message


def test_owner_address_on_a_dual_stack_interface():
    """IPv4 and IPv6 addresses on one interface (they do not compare) are judged too."""
    addresses = {
        "r1": {
            "eth0": [ipaddress.ip_interface("10.1.1.2/24"), ipaddress.ip_interface("fd00::2/64")]
        }
    }
    found = one_finding(
        check(router(255, {"priority": 255}), router(100), interface_addresses=addresses),
        "owner-address-not-virtual",
        ERROR,
    )
    assert "10.1.1.2, fd00::2" in found.message


def test_owner_address_unknown_is_not_judged():
    assert check(router(255, {"priority": 255}), router(100)) == []


def test_owner_priority():
    addresses = {"r1": {"eth0": [ipaddress.ip_interface("10.1.1.5/24")]}}
    found = one_finding(
        check(router(200), router(100), interface_addresses=addresses), "owner-priority", ERROR
    )
    assert "own address 10.1.1.5 on eth0" in found.message
    # The owner with 255 is right.
    r1 = router(255, wan_changes={"priority": 255})
    assert check(r1, router(100), interface_addresses=addresses) == []


def test_group_single():
    findings = check(router(200), router(100, WAN=None))
    assert summary(findings) == [(WARNING, "group-single", "WAN", ("r1",))]
    assert "no redundancy" in findings[0].message


def test_group_missing_on_one_of_three():
    findings = check(router(200), router(150), router(100, WAN=None))
    assert summary(findings) == [(WARNING, "group-missing", "WAN", ("r1", "r2", "r3"))]
    assert "but not on r3" in findings[0].message


def test_group_disabled():
    found = one_finding(
        check(router(200), router(100, {"disable": True})), "group-disabled", WARNING
    )
    assert found.members == ("r2",)


def test_preempt_delay_without_preempt():
    changes = {"preempt": False, "preempt_delay": 30}
    found = one_finding(
        check(router(200, changes, sync=False), router(100, {"preempt": False}, sync=False)),
        "preempt-delay-without-preempt",
        WARNING,
    )
    assert found.members == ("r1",)
    assert "r1 30 s" in found.message
    # One member preempting makes the delay meaningful.
    assert check(router(200, changes, sync=False), router(100, sync=False)) == []


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("sync-priority-differs", {"priority": 150}),
        ("sync-preempt-delay-differs", {"preempt_delay": 30}),
        ("sync-preempt-differs", {"preempt": False}),
    ],
)
def test_inside_a_sync_group(code, changes):
    found = one_finding(check(router(200, changes), router(100)), code, WARNING)
    assert found.group is None
    assert found.path == "vrrp.sync_groups.CG-1"
    assert found.members == ("r1",)
    if code != "sync-preempt-differs":
        assert "VyOS's documentation" in found.message
        assert "endless transition loop" in found.message


# Semantic problems of one member, from the lenient load


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        ({"type": "plaintext-password", "password": "123456789"}, "password"),
        ({"type": "ah", "password": "123456789"}, "password"),
        (
            {"type": "plaintext-password", "password": "Yoghurt1", "accept": ["abcdefghij"]},
            "accept[0]",
        ),
        ({"type": "ah", "password": "Yoghurt1", "accept": ["abcdefghij"]}, "accept[0]"),
    ],
)
def test_password_too_long(auth, path):
    accepting = {**AUTH, "accept": ["abcdefghij"]} if "accept" in auth else AUTH
    other = {**accepting, "type": auth["type"]}
    if auth["password"] == "123456789":
        other = {**other, "password": "123456789"}
    findings = check(router(200, {"authentication": auth}), router(100, {"authentication": other}))
    mine = [f for f in findings if f.members == ("r1",)]
    found = one_finding(mine, "password-too-long", ERROR)
    assert found.path == f"vrrp.groups.LAN.authentication.{path}"
    assert "truncated" in found.message
    assert found.message.startswith("on r1: ")


def test_auth_with_v3():
    changes = {"version": 3, "authentication": AUTH}
    findings = check(router(200, changes), router(100, changes))
    assert summary(findings) == [
        (ERROR, "auth-with-v3", "LAN", ("r1",)),
        (ERROR, "auth-with-v3", "LAN", ("r2",)),
    ]
    assert findings[0].path == "vrrp.groups.LAN.authentication"


def test_mixed_families():
    changes = {"address": ["10.1.1.5/24", "2001:db8::1/64"]}
    findings = check(router(200, changes), router(100, changes))
    assert summary(findings) == [
        (ERROR, "mixed-families", "LAN", ("r1",)),
        (ERROR, "mixed-families", "LAN", ("r2",)),
    ]


def test_vrid_reused():
    # r1 runs WAN with LAN's VRID on LAN's interface: two virtual routers, one MAC.
    r1 = router(200, wan_changes={"interface": "eth0", "vrid": 1})
    findings = check(r1, router(100))
    assert (ERROR, "vrid-reused", "WAN", ("r1",)) in summary(findings)
    found = next(f for f in findings if f.code == "vrid-reused")
    assert found.path == "vrrp.groups.WAN.vrid"
    assert "already used by group 'LAN'" in found.message


def test_unknown_semantic_problem_is_still_reported():
    config = load_config(router(200))
    findings = check_members(
        {"r1": config, "r2": load_config(router(100))},
        semantic={"r2": [("vrrp.groups.LAN.something", "is odd")]},
    )
    assert summary(findings) == [(ERROR, "semantic-problem", "LAN", ("r2",))]


# The conntrack sync link

SYNC_KEY, NEW_SYNC_KEY = "sync-key-0123456789abcdef", "sync-key-fedcba9876543210"


def synced(priority, auth):
    data = router(priority)
    data["conntrack_sync"] = {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG-1"},
        **({"authentication": auth} if auth is not None else {}),
    }
    return data


def keyed(key_id=1, key=SYNC_KEY, accept=()):
    return {
        "type": "hmac-sha256",
        "key_id": key_id,
        "key": key,
        "accept": [{"key_id": i, "key": k} for i, k in accept],
    }


def test_a_keyed_sync_link_with_the_same_key_is_consistent():
    assert check(synced(200, keyed()), synced(100, keyed())) == []


def test_sync_unauthenticated():
    findings = check(synced(200, {"type": "none"}), synced(100, {"type": "none"}))
    assert summary(findings) == [(WARNING, "sync-unauthenticated", None, ("r1", "r2"))]
    assert findings[0].path == "conntrack_sync.authentication"


def test_sync_key_mismatch():
    findings = check(synced(200, keyed()), synced(100, keyed(key=NEW_SYNC_KEY)))
    assert summary(findings) == [(ERROR, "sync-key-mismatch", None, ("r1", "r2"))]
    message = findings[0].message
    assert "r1 does not accept r2's" in message and "r2 does not accept r1's" in message
    assert "key id 1 (fingerprint " in message
    assert SYNC_KEY not in message and NEW_SYNC_KEY not in message


def test_sync_key_mismatch_keyed_against_unauthenticated():
    findings = check(synced(200, keyed()), synced(100, {"type": "none"}))
    assert summary(findings) == [
        (ERROR, "sync-key-mismatch", None, ("r1", "r2")),
        (WARNING, "sync-unauthenticated", None, ("r2",)),
    ]


def test_sync_key_rollover():
    findings = check(
        synced(200, keyed(2, NEW_SYNC_KEY, accept=[(1, SYNC_KEY)])),
        synced(100, keyed(1, SYNC_KEY, accept=[(2, NEW_SYNC_KEY)])),
    )
    assert summary(findings) == [(WARNING, "sync-key-rollover", None, ("r1", "r2"))]


def test_sync_auth_missing():
    findings = check(synced(200, None), synced(100, keyed()))
    assert (ERROR, "sync-auth-missing", None, ("r1",)) in summary(findings)
    assert (ERROR, "sync-key-mismatch", None, ("r1", "r2")) in summary(findings)


def test_sync_key_too_short():
    findings = check(synced(200, keyed(key="short")), synced(100, keyed(key="short")))
    assert summary(findings) == [
        (ERROR, "sync-key-too-short", None, ("r1",)),
        (ERROR, "sync-key-too-short", None, ("r2",)),
    ]
    assert all("short" not in f.message.replace("too-short", "") for f in findings)


def test_every_code_has_a_test():
    tested = {
        name.removeprefix("test_").replace("_", "-")
        for name in globals()
        if name.startswith("test_")
    }
    parametrized = {
        "rfc3768-mismatch",
        "version-mismatch",
        "advertise-interval-mismatch",
        "vrid-mismatch",
        "address-mismatch",
        "sync-priority-differs",
        "sync-preempt-delay-differs",
        "sync-preempt-differs",
        "semantic-problem",
    }
    untested = [c for c in set(CODES) - parametrized if not any(t.startswith(c) for t in tested)]
    assert untested == []
    assert all(severity in (ERROR, WARNING) for severity, _ in CODES.values())


# Three members


def test_three_members_priorities_and_passwords():
    other = {**AUTH, "password": "Butter22"}
    findings = check(
        router(200, {"authentication": AUTH}, sync=False),
        router(100, {"authentication": AUTH}, sync=False),
        router(100, {"authentication": other}, sync=False),
    )
    assert summary(findings) == [
        (ERROR, "password-mismatch", "LAN", ("r1", "r2", "r3")),
        (ERROR, "priority-equal", "LAN", ("r2", "r3")),
        (ERROR, "priority-equal", "WAN", ("r2", "r3")),
    ]
    message = findings[0].message
    assert "r3 does not accept r1's" in message
    assert "r1 does not accept r3's" in message
    assert "r1 does not accept r2's" not in message
    # r1 and r2 send the same password: the same fingerprint, r3's another.
    shown = message.split("(")[1].split(")")[0]
    prints = [part.split("fingerprint ")[1] for part in shown.split(", ")]
    assert prints[0] == prints[1] != prints[2]


def test_three_consistent_members():
    assert check(router(200), router(150), router(100)) == []


def test_three_members_one_owner_too_many():
    findings = check(router(255), router(255), router(100))
    assert summary(findings) == [
        (ERROR, "owner-duplicate", "LAN", ("r1", "r2")),
        (ERROR, "owner-duplicate", "WAN", ("r1", "r2")),
    ]


# Seeds


def seed_members(*names, **texts):
    members = {name: load_member(read(name), source=name) for name in names}
    members.update({name: load_member(text, source=name) for name, text in texts.items()})
    return members


def test_seed003_routers_are_consistent():
    members = seed_members("seed003_r1.config.boot", "seed003_r2.config.boot")
    assert members["seed003_r1.config.boot"].kind == "config-boot"
    assert members["seed003_r1.config.boot"].interface_addresses["eth0"] == (
        ipaddress.ip_interface("10.10.0.102/24"),
    )
    # R1 200 and R2 100 in both groups of MAIN-GW, everything else the same; their
    # conntrack-sync (conntrackd) is unauthenticated, as every native one.
    assert summary(check_members(members)) == [
        (WARNING, "sync-unauthenticated", None, tuple(members))
    ]


def test_seed003_mutated_r2():
    r2 = read("seed003_r2.config.boot")
    # R2's WAN group at R1's priority and another interval; its LAN group out of MAIN-GW.
    wan_group, lan_group = r2.split("vrrp-group 2")
    wan_group = wan_group.replace("priority 100", "priority 200").replace(
        "advertise-interval 1", "advertise-interval 2"
    )
    lan_group = lan_group.replace("                sync-group MAIN-GW\n", "", 1)
    findings = check_members(
        seed_members("seed003_r1.config.boot", r2=wan_group + "vrrp-group 2" + lan_group)
    )
    r1 = "seed003_r1.config.boot"
    assert summary(findings) == [
        (WARNING, "sync-unauthenticated", None, (r1, "r2")),
        (ERROR, "advertise-interval-mismatch", "eth0-1", (r1, "r2")),
        (ERROR, "priority-equal", "eth0-1", (r1, "r2")),
        (ERROR, "sync-group-mismatch", "eth0-1", (r1, "r2")),
        (ERROR, "sync-group-mismatch", "eth2-2", (r1, "r2")),
    ]
    assert "r1.config.boot 1 s, r2 2 s" in findings[1].message


def test_seed003_r1_owning_the_virtual_address_needs_255():
    r1 = read("seed003_r1.config.boot").replace("address 10.10.0.102/24", "address 10.10.0.101/24")
    findings = check_members(seed_members("seed003_r2.config.boot", r1=r1))
    assert summary(findings) == [
        (WARNING, "sync-unauthenticated", None, ("seed003_r2.config.boot", "r1")),
        (ERROR, "owner-priority", "eth0-1", ("r1",)),
    ]


def test_seed000_load_sharing_pair_is_consistent():
    # Groups 1 and 2 with swapped priorities (120/70, 70/120), no sync group: by design.
    members = seed_members("seed000_rt1_load_sharing.set", "seed000_rt2_load_sharing.set")
    assert check_members(members) == []


def test_seed000_load_sharing_with_equal_priorities():
    rt2 = read("seed000_rt2_load_sharing.set").replace("priority 70", "priority 120")
    findings = check_members(seed_members("seed000_rt1_load_sharing.set", rt2=rt2))
    assert summary(findings) == [
        (ERROR, "priority-equal", "eth0-1", ("seed000_rt1_load_sharing.set", "rt2"))
    ]


# keepalived and VyOS for the same group: names differ, matched by interface and VRID

KEEPALIVED = """\
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 10
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        10.0.0.1/24
    }
}
"""

VYOS = """\
set interfaces ethernet eth0 address '10.0.0.2/24'
set interfaces ethernet eth0 vrrp vrrp-group 10 virtual-address '10.0.0.1'
set interfaces ethernet eth0 vrrp vrrp-group 10 priority '200'
set interfaces ethernet eth0 vrrp vrrp-group 10 authentication type 'plaintext-password'
set interfaces ethernet eth0 vrrp vrrp-group 10 authentication password 's3cret'
"""


def test_keepalived_and_vyos_consistent():
    members = {"kad": load_member(KEEPALIVED, source="kad"), "vyos": load_member(VYOS)}
    assert members["kad"].kind == "keepalived"
    assert members["vyos"].kind == "vyos-set"
    assert check_members(members) == []


def test_keepalived_and_vyos_differences():
    kad = KEEPALIVED.replace("advert_int 1", "advert_int 2").replace("s3cret", "0ther")
    members = {"kad": load_member(kad, source="kad"), "vyos": load_member(VYOS, source="vyos")}
    findings = check_members(members)
    assert summary(findings) == [
        (ERROR, "advertise-interval-mismatch", "VI_1", ("kad", "vyos")),
        (ERROR, "password-mismatch", "VI_1", ("kad", "vyos")),
    ]
    assert findings[0].path == "vrrp.groups.VI_1.advertise_interval"
    assert findings[0].message.startswith("VI_1 (eth0-10 on vyos): ")
    # VyOS first: its name first.
    reverse = check_members({"vyos": members["vyos"], "kad": members["kad"]})
    assert [f.group for f in reverse] == ["eth0-10", "eth0-10"]
    assert reverse[0].message.startswith("eth0-10 (VI_1 on kad): ")


def test_keepalived_and_vyos_different_vrid():
    kad = KEEPALIVED.replace("virtual_router_id 10", "virtual_router_id 11")
    findings = check_members({"vyos": load_member(VYOS), "kad": load_member(kad)})
    assert summary(findings) == [(ERROR, "vrid-mismatch", "eth0-10", ("vyos", "kad"))]


def test_keepalived_pair_vs_vyos_three_members():
    backup = KEEPALIVED.replace("priority 100", "priority 50")
    members = {
        "vyos": load_member(VYOS),
        "kad1": load_member(KEEPALIVED),
        "kad2": load_member(backup),
    }
    assert check_members(members) == []
    members["kad2"] = load_member(KEEPALIVED)
    assert summary(check_members(members)) == [
        (ERROR, "priority-equal", "eth0-10", ("kad1", "kad2"))
    ]


# Passwords never leak


def test_no_password_in_any_finding():
    secrets = ["Yoghurt1", "Butter22", "NewPass1", "LongSecretPassword9", "AcceptTooLong99"]
    pairs = [
        (
            {"type": "plaintext-password", "password": "Yoghurt1"},
            {"type": "plaintext-password", "password": "Butter22"},
        ),
        (
            {"type": "ah", "password": "NewPass1", "accept": ["Yoghurt1"]},
            {"type": "ah", "password": "Yoghurt1", "accept": ["NewPass1"]},
        ),
        (
            {"type": "ah", "password": "LongSecretPassword9"},
            {"type": "ah", "password": "Yoghurt1", "accept": ["AcceptTooLong99"]},
        ),
        ({"type": "plaintext-password", "password": "Yoghurt1"}, None),
    ]
    seen = set()
    for first, second in pairs:
        r1 = router(200, {"authentication": first}, {"authentication": first, "version": 3})
        changes = {"authentication": second} if second else {}
        findings = check(r1, router(100, changes))
        findings += check_members({"r1": load_member(r1), "r2": load_member(router(100, changes))})
        for finding in findings:
            seen.add(finding.code)
            text = json.dumps(finding.as_dict())
            for secret in secrets:
                assert secret not in text
                assert secret[:8] not in text  # nor its truncated form
    assert {
        "password-mismatch",
        "password-rollover",
        "password-too-long",
        "auth-with-v3",
        "auth-type-mismatch",
    } <= seen


def test_no_password_from_native_lines():
    text = VYOS.replace("s3cret", "VeryLongSecret42")
    members = {"vyos": load_member(text, source="vyos"), "kad": load_member(KEEPALIVED)}
    findings = check_members(members)
    assert (ERROR, "password-too-long", "eth0-10", ("vyos",)) in summary(findings)
    too_long = next(f for f in findings if f.code == "password-too-long")
    assert "(vyos:5)" in too_long.message  # the line, not its text
    for finding in findings:
        text_out = json.dumps(finding.as_dict())
        assert "VeryLong" not in text_out
        assert "s3cret" not in text_out
    # The strict parse refuses it, naming the line without quoting it.
    with pytest.raises(NativeParseError) as caught:
        parse_set_lines(text, "vyos")
    assert caught.value.lines == [5]
    assert "VeryLong" not in str(caught.value)


def test_fingerprints_are_keyed_per_call():
    other = {**AUTH, "password": "Butter22"}
    members = {
        "r1": load_member(router(200, {"authentication": AUTH})),
        "r2": load_member(router(100, {"authentication": other})),
    }
    first = check_members(members)[0].message
    second = check_members(members)[0].message
    assert first != second  # another random key each call
    fixed = check_members(members, fingerprint_key=KEY)[0].message
    assert fixed == check_members(members, fingerprint_key=KEY)[0].message


# Lenient loading


SEMANTIC_DATA = model(
    {
        "LAN": lan(
            authentication={"type": "ah", "password": "123456789", "accept": ["abcdefghij"]}
        ),
        "V3": {
            "interface": "eth1",
            "vrid": 2,
            "version": 3,
            "address": ["10.2.2.1/24", "2001:db8::1/64"],
            "authentication": AUTH,
        },
        "DUP": {"interface": "eth0", "vrid": 1, "address": ["10.1.1.9/24"]},
    }
)


def test_load_config_still_refuses_semantic_problems():
    with pytest.raises(ConfigError) as caught:
        load_config(SEMANTIC_DATA)
    assert len(caught.value.problems) == 5


def test_load_config_lenient_keeps_the_values():
    config, problems = load_config_lenient(SEMANTIC_DATA)
    assert [path for path, _ in problems] == [
        "vrrp.groups.LAN.authentication.password",
        "vrrp.groups.LAN.authentication.accept[0]",
        "vrrp.groups.V3.address",
        "vrrp.groups.V3.authentication",
        "vrrp.groups.DUP.vrid",
    ]
    auth = config.groups["LAN"].authentication
    assert auth is not None
    assert (auth.password, auth.accept) == ("123456789", ("abcdefghij",))
    v3 = config.groups["V3"]
    assert v3.authentication is not None
    assert [a.version for a in v3.address] == [4, 6]
    assert config.groups["DUP"].vrid == 1


def test_load_config_lenient_raises_on_structural_problems_naming_all():
    data = model({"LAN": lan(priority=300, authentication={**AUTH, "password": "123456789"})})
    with pytest.raises(ConfigError) as caught:
        load_config_lenient(data)
    assert dict(caught.value.problems).keys() == {
        "vrrp.groups.LAN.priority",
        "vrrp.groups.LAN.authentication.password",
    }


def test_native_parsers_collect_semantic_problems_with_lines():
    text = (
        "set high-availability vrrp group LAN interface 'eth0'\n"
        "set high-availability vrrp group LAN vrid '1'\n"
        "set high-availability vrrp group LAN address '10.1.1.5/24'\n"
        "set high-availability vrrp global-parameters version '3'\n"
        "set high-availability vrrp group LAN authentication type 'ah'\n"
        "set high-availability vrrp group LAN authentication password 'abc'\n"
        "set high-availability vrrp group LAN2 interface 'eth0'\n"
        "set high-availability vrrp group LAN2 vrid '1'\n"
        "set high-availability vrrp group LAN2 address '10.1.1.6/24'\n"
    )
    with pytest.raises(NativeParseError):
        parse_set_lines(text, "r1")
    found = []
    config = parse_native(text, source="r1", semantic=found)
    assert set(config.groups) == {"LAN", "LAN2"}
    assert [(p.path, p.line) for p in found] == [
        ("vrrp.groups.LAN.authentication", 5),
        ("vrrp.groups.LAN2.vrid", 8),
    ]
    assert str(found[1]).startswith("r1:8: vrrp.groups.LAN2.vrid: VRID 1 is already used")


def test_config_boot_and_keepalived_collect_semantic_problems():
    boot = read("seed003_r1.config.boot").replace(
        "virtual-address 192.168.100.1",
        "virtual-address 192.168.100.1\nvirtual-address 2001:db8::1",
    )
    found = []
    config = parse_config_boot(boot, "r1", semantic=found)
    assert [(p.path, p.line) for p in found] == [("vrrp.groups.eth2-2.address", 57)]
    assert len(config.groups["eth2-2"].address) == 2
    kad = KEEPALIVED.replace("s3cret", "much-too-long")
    found = []
    config, _ = parse_keepalived(kad, "kad", semantic=found)
    assert [(p.path, p.line) for p in found] == [("vrrp.groups.VI_1.authentication.password", 9)]
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(kad, "kad")
    assert caught.value.lines == [9]
    assert "much-too-long" not in str(caught.value)


# load_member


def test_load_member_kinds():
    data = router(200)
    as_json = json.dumps(data, indent=2)
    for value, kind in ((data, "auto"), (as_json, "auto"), (as_json, "routerha")):
        member = load_member(value, kind=kind)
        assert isinstance(member, Member)
        assert member.kind == "routerha"
        assert set(member.config.groups) == {"LAN", "WAN"}
        assert member.interface_addresses == {}
    boot = load_member(read("seed003_r1.config.boot"), kind="config-boot")
    assert set(boot.config.groups) == {"eth0-1", "eth2-2"}
    warned = load_member(KEEPALIVED.replace("advert_int 1", "advert_int 1\n    smtp_alert"))
    assert len(warned.warnings) == 1


def test_load_member_errors_name_the_line():
    with pytest.raises(NativeParseError) as caught:
        load_member('{\n  "vrrp": {\n    "groups": }\n}', source="r1.json")
    assert caught.value.lines == [3]
    assert "r1.json:3" in str(caught.value)
    with pytest.raises(NativeParseError) as caught:
        load_member(model({"LAN": lan(priority=300)}), source="r1.json")
    assert "r1.json: vrrp.groups.LAN.priority: 300 is outside 1..255" in str(caught.value)
    with pytest.raises(NativeParseError) as caught:
        load_member(VYOS + "set interfaces ethernet eth0 vrrp vrrp-group 10 priority\n", source="v")
    assert caught.value.lines == [6]
    with pytest.raises(NativeParseError) as caught:
        load_member("what is this\n", source="x")
    assert caught.value.lines == [1]
    assert "x:1" in str(caught.value)
    with pytest.raises(ValueError, match="unknown configuration kind"):
        load_member(VYOS, kind="junos")
    with pytest.raises(ValueError, match="is text"):
        load_member(router(200), kind="vyos-set")


def test_finding_as_dict():
    findings = check(router(100), router(100))
    assert findings[0].as_dict() == {
        "severity": "error",
        "code": "priority-equal",
        "group": "LAN",
        "path": "vrrp.groups.LAN.priority",
        "members": ["r1", "r2"],
        "message": findings[0].message,
        "fix": findings[0].fix,
    }
    json.dumps([f.as_dict() for f in findings])


def test_findings_are_sorted_and_deterministic():
    r1 = router(100, {"advertise_interval": 2}, {"rfc3768_compatibility": True})
    r2 = router(100)
    first = check(r1, r2)
    assert first == check(r1, r2)
    keys = [(f.group or "", f.code, f.path) for f in first]
    assert keys == sorted(keys)


def _pair_config(address=("10.1.1.254/24",), password="Secret1", priority=200, **lan):
    return load_config(
        {
            "vrrp": {
                "groups": {
                    "LAN": {
                        "interface": "eth1", "vrid": 10, "priority": priority, "address": list(address),
                        "authentication": {"type": "plaintext-password", "password": password}, **lan,
                    }
                }
            }
        }
    )  # fmt: skip


def test_changes_that_split_a_group_when_made_one_member_at_a_time():
    running = _pair_config()
    changed = _pair_config(
        address=("10.1.1.254/24", "10.1.1.253/24"), password="Other22", advertise_interval=2
    )
    codes = {f.code for f in splitting_changes(running, changed)}
    assert codes == {"address-mismatch", "password-mismatch", "advertise-interval-mismatch"}
    assert all("Secret1" not in f.message for f in splitting_changes(running, changed))


def _open_config(**lan):
    """The LAN group without authentication (which VRRPv3 does not have)."""
    group = {"interface": "eth1", "vrid": 10, "priority": 200, "address": ["10.1.1.254/24"]}
    return load_config({"vrrp": {"groups": {"LAN": {**group, **lan}}}})


@pytest.mark.parametrize(
    ("running", "planned", "code"),
    [
        (_pair_config(), _pair_config(vrid=11), "vrid-mismatch"),
        (_open_config(), _open_config(version=3), "version-mismatch"),
        (
            _pair_config(),
            _pair_config(authentication={"type": "ah", "password": "Secret1"}),
            "auth-type-mismatch",
        ),
        (
            _open_config(),
            _open_config(authentication={"type": "plaintext-password", "password": "Secret1"}),
            "auth-type-mismatch",
        ),
    ],
    ids=["vrid", "version", "plaintext-to-ah", "none-to-plaintext"],
)
def test_each_change_of_vrid_version_or_auth_type_is_splitting_with_its_code(
    running, planned, code
):
    # Made on one member first, each leaves the members dropping each other's
    # advertisements (or running two virtual routers), all master.
    assert splitting_report(running, planned) == [
        {"group": "LAN", "code": code, "message": splitting_changes(running, planned)[0].message}
    ]


def test_changes_one_member_may_make_alone_do_not_split():
    running = _pair_config()
    assert splitting_changes(running, _pair_config(priority=150, preempt_delay=5)) == []
    # the first step of a password rollover: the new one accepted beside the old one
    accepting = _pair_config(
        authentication={"type": "plaintext-password", "password": "Secret1", "accept": ["Other22"]}
    )
    assert splitting_changes(running, accepting) == []
