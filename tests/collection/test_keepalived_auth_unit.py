"""plugins/module_utils/keepalived_auth.py: the authentication block of one
keepalived vrrp_instance rewritten in place, and keepalived's dumps mapped to the
status shape of ``routerhactl status --json``. No Ansible, no keepalived."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from plugins.module_utils.auth_rollover import health, plan  # noqa: E402
from plugins.module_utils.keepalived_auth import (  # noqa: E402
    RewriteError,
    data_dump_addresses,
    describe,
    read_auth,
    set_auth,
    status_from_dump,
)
from plugins.module_utils.model.errors import ConfigError  # noqa: E402

CONF = """\
global_defs {
    notify_fifo /run/ka.fifo   # states
}

vrrp_instance WAN {
    state BACKUP
    interface eth1
    virtual_router_id 2
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass WANPASS
    }
    virtual_ipaddress {
        10.2.0.100/24 dev eth1
    }
}
"""
# The LAN instance is indented with tabs (and has a comment), WAN with spaces.
CONF += """\
vrrp_instance LAN {
    state BACKUP
    interface eth0
    virtual_router_id 1
    priority 100   ! keep
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass OLDPASS1
    }
    virtual_ipaddress {
        10.9.0.100/24
    }
}
""".replace("    ", "\t")


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    a, b = before.split("\n"), after.split("\n")
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start : len(a) - end], b[start : len(b) - end]


def test_read_auth_and_describe_name_no_secret():
    assert read_auth(CONF, "LAN") == {"type": "plaintext-password", "password": "OLDPASS1"}
    assert read_auth(CONF, "WAN")["password"] == "WANPASS"
    assert describe(CONF, "LAN", "plaintext-password", "NEWPASS2") == {
        "type": "plaintext-password",
        "sends_new": False,
        "accepts_new": False,
        "accept_count": 0,
    }
    assert describe(CONF, "LAN", "plaintext-password", "OLDPASS1")["sends_new"] is True
    assert describe(CONF, "LAN", "ah", "OLDPASS1")["sends_new"] is False


def test_set_changes_only_the_instances_block_keeping_its_indentation():
    new = set_auth(CONF, "LAN", "plaintext-password", "NEWPASS2")
    assert changed_lines(CONF, new) == (["\t\tauth_pass OLDPASS1"], ["\t\tauth_pass NEWPASS2"])
    ah = set_auth(CONF, "LAN", "ah", "NEWPASS2")
    assert changed_lines(CONF, ah) == (
        ["\t\tauth_type PASS", "\t\tauth_pass OLDPASS1"],
        ["\t\tauth_type AH", "\t\tauth_pass NEWPASS2"],
    )
    assert read_auth(ah, "WAN") == read_auth(CONF, "WAN")
    assert read_auth(ah, "LAN") == {"type": "ah", "password": "NEWPASS2"}


def test_set_none_removes_the_block_and_set_adds_it_back():
    bare = set_auth(CONF, "LAN", "none", None)
    removed, added = changed_lines(CONF, bare)
    assert added == [] and removed[0] == "\tauthentication {" and removed[-1] == "\t}"
    assert read_auth(bare, "LAN") == {"type": "none", "password": None}
    back = set_auth(bare, "LAN", "plaintext-password", "OLDPASS1")
    assert read_auth(back, "LAN") == read_auth(CONF, "LAN")
    # Added before the instance's closing brace, indented as its body.
    assert back.split("\n")[-7:] == [
        "\t}",
        "\tauthentication {",
        "\t\tauth_type PASS",
        "\t\tauth_pass OLDPASS1",
        "\t}",
        "}",
        "",
    ]


def test_set_keeps_crlf_line_ends():
    crlf = CONF.replace("\n", "\r\n")
    new = set_auth(crlf, "WAN", "ah", "NEWPASS2")
    assert "\r\n" in new and "\n" not in new.replace("\r\n", "")
    assert read_auth(new, "WAN") == {"type": "ah", "password": "NEWPASS2"}
    assert changed_lines(crlf, new) == (
        ["        auth_type PASS\r", "        auth_pass WANPASS\r"],
        ["        auth_type AH\r", "        auth_pass NEWPASS2\r"],
    )


def test_set_is_idempotent():
    new = set_auth(CONF, "LAN", "ah", "NEWPASS2")
    assert set_auth(new, "LAN", "ah", "NEWPASS2") == new


@pytest.mark.parametrize(
    "text, instance, message",
    [
        (CONF, "DMZ", "no vrrp_instance DMZ"),
        ("vrrp_instance LAN { priority 1 }\n", "LAN", "on one line"),
        ("vrrp_instance LAN {\n priority 1\n", "LAN", "never closed"),
        (
            "vrrp_instance LAN {\n authentication { auth_type PASS\n auth_pass X } priority 1\n}\n",
            "LAN",
            "shares its closing line",
        ),
    ],
)
def test_set_refuses_what_it_cannot_rewrite(text, instance, message):
    with pytest.raises(RewriteError, match=message):
        set_auth(text, instance, "ah", "NEWPASS2")


@pytest.mark.parametrize("password", ["TOOLONGPW", "has space", 'q"uote', "a#b", ""])
def test_set_refuses_passwords_keepalived_would_misread(password):
    with pytest.raises(RewriteError):
        set_auth(CONF, "LAN", "plaintext-password", password)


def test_the_result_is_validated_by_the_parser():
    bad = CONF.replace("priority 100   ! keep", "priority 900")
    with pytest.raises(ConfigError):
        set_auth(bad, "LAN", "ah", "NEWPASS2")


DUMP = [
    {
        "data": {
            "iname": "LAN",
            "ifp_ifname": "eth0",
            "vrid": 1,
            "version": 2,
            "state": 1,
            "base_priority": 100,
            "effective_priority": 100,
            "master_priority": 200,
            "last_transition": 1.5,
            "auth_type": 1,
            "auth_data": "OLDPASS1",
        },
        "stats": {
            "advert_rcvd": 7,
            "advert_sent": 0,
            "become_master": 1,
            "release_master": 1,
            "invalid_authtype": 1,
            "authtype_mismatch": 2,
            "auth_failure": 3,
            "pri_zero_rcvd": 0,
        },
    }
]

DATA = """\
------< VRRP Topology >------
 VRRP Instance = WAN
   Master router = 10.2.0.9
   Using src_ip = 10.2.0.2
 VRRP Instance = LAN
   VRRP Version = 2
   State = BACKUP
   Master router = 10.9.0.1
   Using src_ip = 10.9.0.2
   Password = OLDPASS1
------< VRRP Sockpool >------
"""


def test_dump_maps_to_the_routerhactl_status_shape_without_the_password():
    addresses = data_dump_addresses(DATA, "LAN")
    assert addresses == {"master_address": "10.9.0.1", "source_address": "10.9.0.2"}
    status = status_from_dump(DUMP, "LAN", addresses)
    assert "OLDPASS1" not in repr(status)
    assert status["state"] == "BACKUP"
    assert status["master_address"] == "10.9.0.1"
    assert status["source_address"] == "10.9.0.2"
    assert status["authentication"] == "plaintext-password"
    assert status["counters"]["transitions"] == 2
    assert status["counters"]["adverts_received"] == 7
    assert status["counters"]["drops"] == {"auth_data": 3, "auth_type": 3}
    assert status_from_dump(DUMP, "WAN") is None


def test_keepalived_statuses_work_with_the_rollover_checks():
    master = {
        "state": "MASTER",
        "source_address": "10.9.0.1",
        "counters": {"transitions": 2, "drops": {}},
    }
    backup = status_from_dump(DUMP, "LAN", data_dump_addresses(DATA, "LAN"))
    baseline = {"r1": master, "r2": backup}
    assert health(["r1", "r2"], baseline, baseline, baseline, first=True) == []
    later = {**backup, "counters": {**backup["counters"], "adverts_received": 9}}
    assert health(["r1", "r2"], baseline, baseline, {"r1": master, "r2": later}) == []
    dropped = {
        **later,
        "counters": {**later["counters"], "drops": {"auth_data": 4, "auth_type": 3}},
    }
    assert health(["r1", "r2"], baseline, baseline, {"r1": master, "r2": dropped}) == [
        "r2 dropped 1 advert(s) for their authentication"
    ]


def test_a_keepalived_member_makes_the_plan_scheduled():
    standings = {
        m: {"type": "plaintext-password", "sends_new": False, "accept_count": 0}
        for m in ("r1", "r2")
    }
    statuses = {"r1": {"state": "MASTER"}, "r2": {"state": "BACKUP"}}
    types = {"r1": "routerhad", "r2": "keepalived"}
    assert plan(["r1", "r2"], standings, statuses, "plaintext-password")["mode"] == "staged"
    scheduled = plan(["r1", "r2"], standings, statuses, "plaintext-password", "auto", types)
    assert scheduled["mode"] == "scheduled"
    assert [s["operation"] for s in scheduled["steps"]] == ["set"]
    with pytest.raises(ValueError, match="r2 runs keepalived"):
        plan(["r1", "r2"], standings, statuses, "plaintext-password", "staged", types)
