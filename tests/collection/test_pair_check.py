"""routerha.cluster.pair_check through ansible-playbook, and its documentation.

The findings themselves are the model's (tests/model/test_consistency.py); these
check what the module adds: reading each input form, failing on errors (and on
warnings when asked), leaving codes out, naming the line of a parse error, and
keeping every password out of the output, -vvv included.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from routerha.model.consistency import CODES, MEMBER_KINDS
from tests.collection.conftest import ansible_version

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "tests" / "native" / "fixtures"
MODULE = ROOT / "plugins" / "modules" / "pair_check.py"
DOC = ROOT / "docs" / "modules" / "pair_check.md"


def lookup(name: str) -> str:
    return "{{ lookup('ansible.builtin.file', '" + str(NATIVE / name) + "') }}"


def task(args: dict, register: str = "check", **extra) -> dict:
    return {"routerha.cluster.pair_check": args, "register": register, **extra}


def summary(result: dict) -> list[tuple]:
    return [(f["severity"], f["code"], f["group"], tuple(f["members"])) for f in result["findings"]]


def mutated_r2() -> str:
    """Seed 003's R2 with its first group at R1's priority and another interval, its
    second group out of sync group MAIN-GW (as in tests/model/test_consistency.py)."""
    r2 = (NATIVE / "seed003_r2.config.boot").read_text()
    first, second = r2.split("vrrp-group 2")
    first = first.replace("priority 100", "priority 200").replace(
        "advertise-interval 1", "advertise-interval 2"
    )
    second = second.replace("                sync-group MAIN-GW\n", "", 1)
    return first + "vrrp-group 2" + second


def lan(**changes) -> dict:
    return {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"], **changes}


def model(**groups) -> dict:
    return {"vrrp": {"groups": groups}}


#: A native conntrack-sync (conntrackd) is unauthenticated: left out where a test is
#: about something else.
NATIVE_SYNC = ["sync-unauthenticated"]


def synced(priority: int, auth: dict) -> dict:
    """A routerhad model with LAN in sync group CG and conntrack sync on eth2."""
    data = model(LAN=lan(priority=priority))
    data["vrrp"]["sync_groups"] = {"CG": {"member": ["LAN"]}}
    data["conntrack_sync"] = {
        "interface": "eth2",
        "failover_mechanism": {"sync_group": "CG"},
        "authentication": auth,
    }
    return data


KEEPALIVED = """\
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 10
    priority 100
    advert_int 1
    smtp_alert
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        10.0.0.1/24
    }
}
"""

VYOS_11 = """\
set interfaces ethernet eth0 address '10.0.0.2/24'
set interfaces ethernet eth0 vrrp vrrp-group 10 virtual-address '10.0.0.1'
set interfaces ethernet eth0 vrrp vrrp-group 10 priority '200'
set interfaces ethernet eth0 vrrp vrrp-group 10 authentication type 'plaintext-password'
set interfaces ethernet eth0 vrrp vrrp-group 10 authentication password 's3cret'
"""


# Seeds: consistent pairs, and one that is not


def test_seed003_routers_are_consistent(playbook):
    members = [
        {"name": "R1", "native": lookup("seed003_r1.config.boot")},
        {"name": "R2", "native": lookup("seed003_r2.config.boot")},
    ]
    # Their conntrack-sync (conntrackd) is unauthenticated: the one finding, left out.
    run = playbook([task({"members": members, "ignore": NATIVE_SYNC})], register=["check"])
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert result["changed"] is False
    assert result["findings"] == []
    assert (result["error_count"], result["warning_count"], result["ignored_count"]) == (0, 0, 1)
    assert result["msg"] == "consistent: 2 groups on R1, R2, no findings (1 ignored)"
    assert result["members"]["R1"] == {
        "kind": "config-boot",
        "groups": ["eth0-1", "eth2-2"],
        "notes": [],
    }
    assert result["groups"]["eth0-1"] == {
        "members": {
            "R1": {
                "name": "eth0-1",
                "interface": "eth0",
                "vrid": 1,
                "priority": 200,
                "disabled": False,
            },
            "R2": {
                "name": "eth0-1",
                "interface": "eth0",
                "vrid": 1,
                "priority": 100,
                "disabled": False,
            },
        },
        "missing": [],
        "address": ["10.10.0.101"],
        "preferred_master": "R1",
        "status": "ok",
    }
    assert result["groups"]["eth2-2"]["preferred_master"] == "R1"


@pytest.mark.matrix
def test_seed003_mutated_fails_with_the_findings_and_check_mode_is_the_same(playbook):
    members = [
        {"name": "R1", "native": lookup("seed003_r1.config.boot")},
        {"name": "R2", "native": mutated_r2(), "kind": "config-boot"},
    ]
    run = playbook(
        [
            task({"members": members, "ignore": NATIVE_SYNC}, ignore_errors=True),
            task(
                {"members": members, "ignore": NATIVE_SYNC},
                register="checked",
                ignore_errors=True,
                check_mode=True,
            ),
        ],
        register=["check", "checked"],
    )
    assert run.rc == 0, run.output  # the failures were ignored
    result = run.results["check"]
    assert result["failed"] is True
    assert result["changed"] is False
    assert summary(result) == [
        ("error", "advertise-interval-mismatch", "eth0-1", ("R1", "R2")),
        ("error", "priority-equal", "eth0-1", ("R1", "R2")),
        ("error", "sync-group-mismatch", "eth0-1", ("R1", "R2")),
        ("error", "sync-group-mismatch", "eth2-2", ("R1", "R2")),
    ]
    assert (result["error_count"], result["warning_count"]) == (4, 0)
    first = result["findings"][0]
    assert first["path"] == "vrrp.groups.eth0-1.advertise_interval"
    assert "R1 1 s, R2 2 s" in first["message"]
    assert first["fix"] == "set the same advertise_interval on every member"
    lines = result["msg"].splitlines()
    assert lines[0] == "4 errors, 0 warnings (1 ignored) in 2 groups on R1, R2"
    assert lines[1].startswith(
        "error eth0-1 vrrp.groups.eth0-1.advertise_interval [R1, R2]: eth0-1: advertisement "
        "interval differs (R1 1 s, R2 2 s)"
    )
    assert len(lines) == 5
    assert result["groups"]["eth0-1"]["preferred_master"] is None  # 200 and 200
    assert result["groups"]["eth0-1"]["status"] == "error"
    # Check mode: the same result, nothing changed.
    checked = run.results["checked"]
    for key in ("failed", "changed", "findings", "error_count", "groups", "members", "msg"):
        assert checked[key] == result[key], key


def test_seed000_load_sharing_pair_has_no_findings(playbook):
    members = [
        {"name": "RT-1", "native": lookup("seed000_rt1_load_sharing.set")},
        {"name": "RT-2", "native": lookup("seed000_rt2_load_sharing.set"), "kind": "vyos-set"},
    ]
    run = playbook([task({"members": members, "fail_on_warnings": True})], register=["check"])
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert result["findings"] == []
    assert result["members"]["RT-1"]["kind"] == "vyos-set"
    masters = {name: g["preferred_master"] for name, g in result["groups"].items()}
    assert masters == {"eth0-1": "RT-1", "eth0-2": "RT-2"}


# Passwords


@pytest.mark.matrix
def test_password_mismatch_fails_and_no_password_is_shown_even_with_vvv(playbook):
    secrets = ["Yoghurt1", "OldPass9", "Butter22", "Kefir777"]
    r1 = model(
        LAN=lan(
            priority=200,
            authentication={"type": "ah", "password": "Yoghurt1", "accept": ["OldPass9"]},
        )
    )
    r2 = model(LAN=lan(priority=150, authentication={"type": "ah", "password": "Butter22"}))
    r3 = (
        "set high-availability vrrp group LAN interface 'eth0'\n"
        "set high-availability vrrp group LAN vrid '1'\n"
        "set high-availability vrrp group LAN address '10.1.1.5/24'\n"
        "set high-availability vrrp group LAN priority '100'\n"
        "set high-availability vrrp group LAN authentication type 'ah'\n"
        "set high-availability vrrp group LAN authentication password 'Kefir777'\n"
    )
    members = [
        {"name": "r1", "config": r1},
        {"name": "r2", "config": json.dumps(r2), "kind": "routerha"},  # JSON text
        {"name": "r3", "native": r3},
    ]
    run = playbook(
        [task({"members": members}, ignore_errors=True)], register=["check"], extra_args=["-vvv"]
    )
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert result["failed"] is True
    assert summary(result) == [
        ("error", "password-mismatch", "LAN", ("r1", "r2", "r3")),
    ]
    message = result["findings"][0]["message"]
    shown = message.split("(")[1].split(")")[0]
    prints = [part.split("fingerprint ")[1] for part in shown.split(", ")]
    assert len(set(prints)) == 3, message
    for secret in secrets:
        assert secret not in run.output
        assert secret not in json.dumps(run.results)
    # Exactly the passwords are masked: the rest of the arguments shows with -vvv
    # (Ansible keeps the invocation out of registered results: read it in the output).
    # ansible-core 2.21 shows no invocation for a failed task at all: nothing to read.
    if '"invocation"' in run.output or ansible_version() < (2, 21):
        assert '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.output
        assert "authentication password '********'" in run.output
        assert "set high-availability vrrp group LAN interface 'eth0'" in run.output
        assert '"interface": "eth0"' in run.output
        assert '"module_args"' in run.output  # -vvv did show the arguments


def test_sync_key_mismatch_fails_and_no_key_is_shown_even_with_vvv(playbook):
    keys = ["r1-sync-key-0123456789", "r2-sync-key-0123456789", "staged-key-0123456789"]
    r1 = synced(200, {"type": "hmac-sha256", "key_id": 1, "key": keys[0]})
    r2 = synced(
        150,
        {
            "type": "hmac-sha256",
            "key_id": 2,
            "key": keys[1],
            "accept": [{"key_id": 3, "key": keys[2]}],
        },
    )
    members = [
        {"name": "r1", "config": r1},
        {"name": "r2", "config": json.dumps(r2), "kind": "routerha"},
    ]
    run = playbook(
        [task({"members": members}, ignore_errors=True)], register=["check"], extra_args=["-vvv"]
    )
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert summary(result) == [("error", "sync-key-mismatch", None, ("r1", "r2"))]
    message = result["findings"][0]["message"]
    assert "r1 key id 1 (fingerprint " in message and "r2 key id 2 (fingerprint " in message
    for key in keys:
        assert key not in run.output
        assert key not in json.dumps(run.results)
    assert '"interface": "eth2"' in run.output  # only the keys are masked


def test_an_unauthenticated_sync_link_is_a_warning(playbook):
    members = [
        {"name": "r1", "config": synced(200, {"type": "none"})},
        {"name": "r2", "config": synced(150, {"type": "none"})},
    ]
    run = playbook([task({"members": members})], register=["check"])
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert summary(result) == [("warning", "sync-unauthenticated", None, ("r1", "r2"))]


def test_masking_when_members_cannot_be_read_and_parse_errors_name_the_line(playbook):
    secrets = ["Tahini42", "Paprika7", "98765432"]
    broken_set = (
        "set high-availability vrrp group LAN interface 'eth0'\n"
        "set high-availability vrrp group LAN authentication password 'Tahini42'\n"
        "set high-availability vrrp group LAN vrid\n"
        "set high-availability vrrp group LAN address '10.1.1.5/24'\n"
    )
    broken_json = (
        '{\n  "vrrp": {\n    "groups": {"LAN": {"authentication": {"password": "Paprika7"}}}}\n'
    )
    numeric = model(LAN=lan(authentication={"type": "ah", "password": 98765432}))
    good = {"name": "r1", "config": model(LAN=lan(priority=200))}
    run = playbook(
        [
            task(
                {"members": [good, {"name": "r2", "native": broken_set}]},
                register="parse",
                ignore_errors=True,
            ),
            task(
                {
                    "members": [
                        good,
                        {"name": "r2", "config": broken_json},
                        {"name": "r3", "config": numeric},
                    ]
                },
                register="model",
                ignore_errors=True,
            ),
            # The arguments fail validation before anything is read.
            task(
                {"members": [good, {"name": "r2", "native": broken_set}], "fail_on_warnings": "-"},
                register="spec",
                ignore_errors=True,
            ),
        ],
        register=["parse", "model", "spec"],
        extra_args=["-vvv"],
    )
    assert run.rc == 0, run.output
    parse = run.results["parse"]
    assert parse["failed"] is True
    assert parse["msg"].splitlines()[0] == "cannot read 1 of 2 members:"
    assert parse["msg"].splitlines()[1].startswith("r2:3: ")
    assert [(p["member"], p["line"]) for p in parse["problems"]] == [("r2", 3)]
    assert "findings" not in parse
    model_result = run.results["model"]
    assert model_result["failed"] is True
    assert model_result["problems"][0]["member"] == "r2"
    assert model_result["problems"][0]["line"] == 4  # the JSON is cut short there
    assert "r2:4: is not JSON" in model_result["msg"]
    assert any(
        p["member"] == "r3"
        and "authentication.password: must be a non-empty string" in p["problem"]
        for p in model_result["problems"]
    )
    assert run.results["spec"]["failed"] is True
    assert "fail_on_warnings" in run.results["spec"]["msg"]
    for secret in secrets:
        assert secret not in run.output, secret
        assert secret not in json.dumps(run.results), secret
    # The member that was read shows as it is; the one that was not, not at all.
    assert '"interface": "eth0"' in run.output
    assert '"native": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.output
    assert "authentication password" not in run.output


def test_syslog_line_waits_for_the_passwords_and_every_spelling_is_masked(
    collections_path, monkeypatch, capsys
):
    """In-process: AnsibleModule logs its arguments to syslog as it starts; pair_check
    writes that line once the passwords are known. A password with a quote and a
    backslash is spelled escaped in a double-quoted value and in JSON, and repr'd
    in the log line: every spelling is masked."""
    monkeypatch.syspath_prepend(str(collections_path))
    module = importlib.import_module(
        "ansible_collections.routerha.cluster.plugins.modules.pair_check"
    )
    logged = []
    monkeypatch.setattr(
        module.MaskingModule, "log", lambda self, msg, log_args=None: logged.append(msg)
    )
    password = 'Qx"z\\k7'
    auth = {"type": "ah", "password": password}
    native = (
        "set high-availability vrrp group LAN interface 'eth0'\n"
        "set high-availability vrrp group LAN vrid '1'\n"
        "set high-availability vrrp group LAN address '10.1.1.5/24'\n"
        "set high-availability vrrp group LAN priority '50'\n"
        "set high-availability vrrp group LAN authentication type 'ah'\n"
        'set high-availability vrrp group LAN authentication password "Qx\\"z\\\\k7"\n'
    )
    args = {
        "members": [
            {"name": "r1", "config": model(LAN=lan(priority=200, authentication=auth))},
            {"name": "r2", "config": json.dumps(model(LAN=lan(priority=100, authentication=auth)))},
            {"name": "r3", "native": native},
        ]
    }
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        module.main()
    out = capsys.readouterr().out
    assert exited.value.code == 0, out
    result = json.loads(out)
    assert result["msg"] == "consistent: 1 group on r1, r2, r3, no findings"
    assert len(logged) == 1
    assert logged[0].startswith("Invoked with members=")
    for text in (out, logged[0]):
        assert "Qx" not in text
        assert "k7" not in text
    assert "eth0" in logged[0]


# Warnings, fail_on_warnings, ignore


def test_warnings_pass_unless_fail_on_warnings(playbook):
    # A password rollover in progress: each accepts the other's password.
    new = {"type": "plaintext-password", "password": "NewPass1", "accept": ["Yoghurt1"]}
    old = {"type": "plaintext-password", "password": "Yoghurt1", "accept": ["NewPass1"]}
    members = [
        {"name": "r1", "config": model(LAN=lan(priority=200, authentication=new))},
        {"name": "r2", "config": model(LAN=lan(priority=100, authentication=old))},
    ]
    run = playbook(
        [
            task({"members": members}, register="lenient"),
            task(
                {"members": members, "fail_on_warnings": True},
                register="strict",
                ignore_errors=True,
            ),
        ],
        register=["lenient", "strict"],
    )
    assert run.rc == 0, run.output
    lenient, strict = run.results["lenient"], run.results["strict"]
    assert lenient.get("failed", False) is False
    assert summary(lenient) == [("warning", "password-rollover", "LAN", ("r1", "r2"))]
    assert (lenient["error_count"], lenient["warning_count"]) == (0, 1)
    assert lenient["groups"]["LAN"]["status"] == "warning"
    assert lenient["msg"].splitlines()[0] == "0 errors, 1 warning in 1 group on r1, r2"
    assert strict["failed"] is True
    # the same findings (the fingerprints are keyed afresh on every run)
    assert summary(strict) == summary(lenient)
    assert strict["msg"].splitlines()[0] == (
        "0 errors, 1 warning in 1 group on r1, r2 (fail_on_warnings)"
    )
    assert (
        strict["msg"]
        .splitlines()[1]
        .startswith("warning LAN vrrp.groups.LAN.authentication.password [r1, r2]: ")
    )
    assert "NewPass1" not in run.output
    assert "Yoghurt1" not in run.output


def test_ignore_leaves_codes_out_and_is_validated(playbook):
    members = [
        {"name": "R1", "native": lookup("seed003_r1.config.boot")},
        {"name": "R2", "native": mutated_r2()},
    ]
    run = playbook(
        [
            task(
                {
                    "members": members,
                    "ignore": ["sync-group-mismatch", "priority-equal", *NATIVE_SYNC],
                },
                register="some",
                ignore_errors=True,
            ),
            task(
                {
                    "members": members,
                    "ignore": [
                        "sync-group-mismatch",
                        "priority-equal",
                        "advertise-interval-mismatch",
                        *NATIVE_SYNC,
                    ],
                },
                register="every",
            ),
            task(
                {"members": members, "ignore": ["priority-eqaul"]},
                register="typo",
                ignore_errors=True,
            ),
        ],
        register=["some", "every", "typo"],
    )
    assert run.rc == 0, run.output
    some = run.results["some"]
    assert some["failed"] is True
    assert summary(some) == [("error", "advertise-interval-mismatch", "eth0-1", ("R1", "R2"))]
    assert some["ignored_count"] == 4
    assert some["msg"].splitlines()[0] == "1 error, 0 warnings (4 ignored) in 2 groups on R1, R2"
    every = run.results["every"]
    assert every.get("failed", False) is False
    assert every["findings"] == []
    assert every["ignored_count"] == 5
    assert every["msg"] == "consistent: 2 groups on R1, R2, no findings (5 ignored)"
    assert every["groups"]["eth0-1"]["status"] == "ok"
    typo = run.results["typo"]
    assert typo["failed"] is True
    assert "value of ignore must be one or more of" in typo["msg"]
    assert "priority-eqaul" in typo["msg"]


def test_bad_members_fail_naming_each_problem_at_once(playbook):
    good = model(LAN=lan())
    run = playbook(
        [
            task(
                {
                    "members": [
                        {"name": "both", "config": good, "native": VYOS_11},
                        {"name": "neither"},
                        {"name": "wrong-kind", "config": good, "kind": "vyos-set"},
                        {"name": "both"},
                        {
                            "name": "addresses",
                            "config": good,
                            "interface_addresses": {"eth0": ["10.1.1.300/24"]},
                        },
                    ]
                },
                ignore_errors=True,
            ),
            task({"members": []}, register="empty", ignore_errors=True),
        ],
        register=["check", "empty"],
    )
    assert run.rc == 0, run.output
    lines = run.results["check"]["msg"].splitlines()
    assert lines == [
        "cannot read 5 of 5 members:",
        "both: give exactly one of config and native (both are given)",
        "neither: give exactly one of config and native (neither is given)",
        "wrong-kind: kind vyos-set is a native configuration: give it as native; config takes "
        "the routerha data model (a dict or its JSON text)",
        "members[3].name: 'both' is given twice",
        "addresses: interface_addresses.eth0[0]: '10.1.1.300/24' is not an address (with a prefix)",
    ]
    assert run.results["empty"]["msg"] == "nothing to check:\nmembers: give at least one member"


# Mixed platforms


def test_keepalived_member_against_a_vyos_member(playbook):
    members = [
        {"name": "kad", "native": KEEPALIVED},
        {"name": "vyos", "native": VYOS_11},
    ]
    differing = [
        {"name": "kad", "native": KEEPALIVED.replace("advert_int 1", "advert_int 2")},
        {"name": "vyos", "native": VYOS_11},
    ]
    # kad's own address is the virtual address: it owns it, so it needs priority 255.
    owner = [
        {"name": "kad", "native": KEEPALIVED, "interface_addresses": {"eth0": "10.0.0.1/24"}},
        {"name": "vyos", "native": VYOS_11},
    ]
    run = playbook(
        [
            task({"members": members}),
            task({"members": differing}, register="differing", ignore_errors=True),
            task({"members": owner}, register="owner", ignore_errors=True),
        ],
        register=["check", "differing", "owner"],
    )
    assert run.rc == 0, run.output
    result = run.results["check"]
    assert result["findings"] == []
    assert result["members"]["kad"]["kind"] == "keepalived"
    assert result["members"]["vyos"]["kind"] == "vyos-set"
    assert len(result["members"]["kad"]["notes"]) == 1  # smtp_alert: not compared
    assert "kad:7: " in result["members"]["kad"]["notes"][0]
    group = result["groups"]["VI_1"]
    assert group["members"]["vyos"]["name"] == "eth0-10"
    assert group["preferred_master"] == "vyos"
    differing = run.results["differing"]
    assert summary(differing) == [
        ("error", "advertise-interval-mismatch", "VI_1", ("kad", "vyos")),
    ]
    assert differing["findings"][0]["message"].startswith("VI_1 (eth0-10 on vyos): ")
    assert summary(run.results["owner"]) == [("error", "owner-priority", "VI_1", ("kad",))]
    assert "s3cret" not in run.output
    assert "s3cret" not in json.dumps(run.results)


SHARED_KEEPALIVED = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    @r1 priority 200
    @r2 priority 100
    virtual_ipaddress {
        10.0.0.1/24
        192.0.2.1/24 dev eth1
    }
}
"""


def test_one_keepalived_file_for_both_routers_is_read_per_router(playbook):
    """keepalived's conditional lines are evaluated for each member: by default for its
    name up to the first dot (keepalived's default config id is the host name's first
    label), else for the given config_id."""
    by_name = [
        {"name": "r1.example.net", "native": SHARED_KEEPALIVED},
        {"name": "r2", "native": SHARED_KEEPALIVED},
    ]
    by_id = [
        {"name": "left", "native": SHARED_KEEPALIVED, "config_id": "r1"},
        {"name": "right", "native": SHARED_KEEPALIVED, "config_id": "r2"},
    ]
    run = playbook(
        [task({"members": by_name}), task({"members": by_id}, register="by_id")],
        register=["check", "by_id"],
    )
    assert run.rc == 0, run.output
    for name, first in (("check", "r1.example.net"), ("by_id", "left")):
        result = run.results[name]
        assert result["findings"] == [], result
        assert result["groups"]["VI_1"]["preferred_master"] == first
        assert result["groups"]["VI_1"]["address"] == ["10.0.0.1", "192.0.2.1"]


# Documentation


def documentation() -> dict:
    tree = ast.parse(MODULE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError("no DOCUMENTATION")


def test_documented_choices_are_the_codes_and_kinds():
    options = documentation()["options"]
    assert options["ignore"]["choices"] == sorted(CODES)
    assert options["members"]["suboptions"]["kind"]["choices"] == list(MEMBER_KINDS)


def test_every_code_is_explained_in_the_operator_docs():
    text = DOC.read_text()
    for code, (severity, _meaning) in CODES.items():
        assert f"| `{code}` | {severity} |" in text, code


def test_ansible_doc_renders(collections_path, tmp_path):
    ansible_doc = Path(sys.executable).with_name("ansible-doc")
    proc = subprocess.run(
        [str(ansible_doc), "routerha.cluster.pair_check"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
        },
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fail_on_warnings" in proc.stdout
    assert "sync-master-conflict" in proc.stdout
    assert "[WARNING]" not in proc.stderr
