"""lab.appliance.vyatta_schema: VyOS / Vyatta commands checked against the routers' schema.

Valid lines are the ones operators type (the seed fixtures, the same router written for
VyOS 1.4 and 1.1); each rejection checks that the message names the word and the rule.
"""

from __future__ import annotations

import ast
import filecmp
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from lab.appliance import vyatta_schema
from lab.appliance.vyatta_schema import LEAF, NODE, TAG, SchemaError, SchemaNode
from routerha.model.native.config_boot import flatten
from routerha.model.native.vyos_set import read_set_lines

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path("/work/shared")


@pytest.fixture(scope="module")
def vyos():
    return vyatta_schema.load("vyos")


@pytest.fixture(scope="module")
def vyatta():
    return vyatta_schema.load("vyatta")


def schema_of(syntax):
    return vyatta_schema.load(syntax)


def words(line):
    """The words after ``set`` / ``delete`` of a command line, unquoted."""
    verb, *rest = shlex.split(line)
    assert verb in ("set", "delete"), line
    return verb, rest


def run(syntax, line):
    verb, rest = words(line)
    schema = schema_of(syntax)
    if verb == "set":
        schema.validate_set(rest)
    else:
        schema.validate_delete(rest)


# Loading


def test_unknown_syntax_is_refused():
    with pytest.raises(ValueError, match="junos"):
        vyatta_schema.load("junos")
    assert vyatta_schema.SYNTAXES == ("vyos", "vyatta")


def test_load_is_cached_and_reads_the_default_root(vyos, vyatta):
    assert vyatta_schema.load("vyos") is vyos
    assert vyatta_schema.load("vyos", vyatta_schema.DEFAULT_ROOT) is vyos
    assert vyatta_schema.load("vyatta") is vyatta
    assert vyos is not vyatta
    root = vyatta_schema.DEFAULT_ROOT
    assert root == Path(vyatta_schema.__file__).resolve().parent / "schema"
    assert (vyatta_schema.DEFAULT_ROOT / "vyos-1x" / "high-availability.xml.in").is_file()
    assert (vyatta_schema.DEFAULT_ROOT / "vyatta-vrrp" / "vrrp" / "node.def").is_file()


def test_missing_schema_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        vyatta_schema.load("vyos", tmp_path)
    with pytest.raises(FileNotFoundError):
        vyatta_schema.load("vyatta", tmp_path)


def test_schema_readme_names_the_sources():
    text = (vyatta_schema.DEFAULT_ROOT / "README.md").read_text(encoding="utf-8")
    for fact in (
        "vyos/vyos-1x",
        "3710c5879f5733d05aae6e156f74d62b73821b2d",
        "LGPL-2.1",
        "vyos/vyatta-vrrp",
        "219fe81ec81aeecef254c64c1a77765adf66a34d",
        "GPL-2.0",
    ):
        assert fact in text
    for sub in ("vyos-1x", "vyatta-vrrp"):
        assert (vyatta_schema.DEFAULT_ROOT / sub / "README.md").is_file()


@pytest.mark.parametrize(
    ("shared", "copy"),
    [("vyos-interface-definitions", "vyos-1x"), ("vyatta-vrrp-templates", "vyatta-vrrp")],
)
def test_schema_data_is_an_unchanged_copy(shared, copy):
    source = SHARED / shared
    if not source.is_dir():
        pytest.skip(f"{source} is not on this machine")
    target = vyatta_schema.DEFAULT_ROOT / copy

    def compare(a, b):
        comparison = filecmp.dircmp(a, b)
        assert not comparison.left_only, comparison.left_only
        assert not comparison.right_only, comparison.right_only
        _, mismatch, errors = filecmp.cmpfiles(a, b, comparison.common_files, shallow=False)
        assert not mismatch and not errors, (mismatch, errors)
        for sub in comparison.common_dirs:
            compare(a / sub, b / sub)

    compare(source, target)


def exercise(node):
    """Run the node's check on assorted values: it must answer, never crash."""
    for value in (
        "",
        "0",
        "1",
        "255",
        "1.5",
        "abc",
        "a b",
        "10.1.1.1",
        "10.1.1.1/24",
        "::1",
        "/config/x",
    ):
        reason = node.check.failure(value)
        assert reason is None or isinstance(reason, str)


@pytest.mark.parametrize("syntax", ["vyos", "vyatta"])
def test_every_node_loads(syntax, tmp_path, monkeypatch):
    # A fresh load (another root) so that UNKNOWN_VALIDATORS shows this data's only.
    monkeypatch.setattr(vyatta_schema, "UNKNOWN_VALIDATORS", set())
    shutil.copytree(vyatta_schema.DEFAULT_ROOT, tmp_path / "schema")
    schema = vyatta_schema.load(syntax, tmp_path / "schema")
    assert not vyatta_schema.UNKNOWN_VALIDATORS
    nodes = list(schema.walk())
    assert len(nodes) > 60
    for path, node in nodes:
        assert isinstance(node, SchemaNode)
        assert node.kind in (NODE, TAG, LEAF), path
        assert path[-1] == node.name
        if node.kind != LEAF:
            assert not node.valueless
        if node.kind == LEAF and not node.valueless:
            assert not node.children
        if node.check is not None:
            exercise(node)
    owned = [" ".join(path) for path, node in nodes if node.owned]
    if syntax == "vyos":
        assert owned == ["high-availability", "service conntrack-sync"]
    else:
        assert "interfaces ethernet <ethernet> vrrp" in owned
        assert "interfaces bonding <bonding> vif-s <vif-s> vif-c <vif-c> vrrp" in owned


def test_node_kinds_as_the_data_says(vyos, vyatta):
    def node(schema, path):
        return dict(schema.walk())[tuple(path.split())]

    group = "high-availability vrrp group <group>"
    assert node(vyos, "high-availability vrrp group").kind == TAG
    assert node(vyos, f"{group} address").kind == TAG
    assert node(vyos, f"{group} rfc3768-compatibility").valueless
    assert node(vyos, f"{group} peer-address").multi
    assert node(vyos, "service conntrack-sync interface").kind == TAG
    assert node(vyos, "service conntrack-sync accept-protocol").multi
    vrrp = "interfaces ethernet <ethernet> vrrp vrrp-group <vrrp-group>"
    assert node(vyatta, "interfaces ethernet <ethernet> vrrp vrrp-group").kind == TAG
    assert node(vyatta, f"{vrrp} virtual-address").multi
    assert node(vyatta, f"{vrrp} rfc3768-compatibility").valueless
    assert node(vyatta, f"{vrrp} authentication").kind == NODE
    # exec checks need the router: listed, not run
    assert any("exec" in s for s in node(vyatta, f"{vrrp} virtual-address").skipped)
    assert any("exec" in s for s in node(vyatta, f"{vrrp} run-transition-scripts master").skipped)
    assert node(vyatta, f"{vrrp} priority").skipped == ()


# Coverage


@pytest.mark.parametrize(
    ("syntax", "line", "covered"),
    [
        ("vyos", "high-availability", True),
        ("vyos", "high-availability vrrp group LAN vrid 10", True),
        ("vyos", "high-availability vrrp group LAN bogus", True),
        ("vyos", "service conntrack-sync", True),
        ("vyos", "service conntrack-sync interface eth3", True),
        ("vyos", "service", False),
        ("vyos", "service ssh port 22", False),
        ("vyos", "interfaces ethernet eth0 vrrp vrrp-group 10 priority 200", False),
        ("vyos", "", False),
        ("vyatta", "interfaces ethernet eth1 vrrp vrrp-group 10 priority 200", True),
        ("vyatta", "interfaces ethernet eth1 vrrp", True),
        ("vyatta", "interfaces ethernet eth1 vif 100 vrrp vrrp-group 10 priority 200", True),
        ("vyatta", "interfaces ethernet eth1 vif-s 100 vif-c 20 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces bonding bond0 vif-s 100 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces switch switch0 vif 20 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces wireless wlan0 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces bridge br0 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces pseudo-ethernet peth0 vrrp vrrp-group 10", True),
        ("vyatta", "interfaces ethernet bond0 vrrp vrrp-group 10", True),  # covered, rejected
        ("vyatta", "interfaces ethernet eth1 address 10.1.1.1/24", False),
        ("vyatta", "interfaces ethernet eth1 vif 100 address 10.1.1.1/24", False),
        ("vyatta", "interfaces tunnel tun0 vrrp vrrp-group 10", False),
        ("vyatta", "interfaces ethernet", False),
        ("vyatta", "service conntrack-sync interface eth3", False),
        ("vyatta", "service conntrack-sync failover-mechanism vrrp sync-group MAIN", False),
        ("vyatta", "high-availability vrrp group LAN vrid 10", False),
    ],
)
def test_covers(syntax, line, covered):
    assert schema_of(syntax).covers(line.split()) is covered


@pytest.mark.parametrize(
    ("syntax", "line"),
    [
        ("vyos", "set service ssh port 22"),
        ("vyos", "delete interfaces ethernet eth0 address 10.0.0.1/24"),
        ("vyatta", "set service conntrack-sync interface eth3"),
        ("vyatta", "set high-availability vrrp group LAN vrid 10"),
    ],
)
def test_paths_outside_the_schema_are_refused(syntax, line):
    with pytest.raises(SchemaError, match="not under a subtree"):
        run(syntax, line)


# Valid commands


@pytest.mark.parametrize(
    ("syntax", "line"),
    [
        ("vyos", "set high-availability vrrp group LAN vrid 10"),
        ("vyos", "set high-availability vrrp group LAN vrid 255"),
        ("vyos", "set high-availability vrrp group LAN interface eth1"),
        ("vyos", "set high-availability vrrp group WAN interface eth1.100"),
        ("vyos", "set high-availability vrrp group LAN address 10.1.1.254/24"),
        ("vyos", "set high-availability vrrp group LAN address 10.1.1.254"),
        ("vyos", "set high-availability vrrp group LAN address 2001:db8::1/64 interface eth0"),
        ("vyos", "set high-availability vrrp group LAN excluded-address fe80::1/64"),
        ("vyos", "set high-availability vrrp group LAN priority 1"),
        ("vyos", "set high-availability vrrp group LAN priority 255"),
        ("vyos", "set high-availability vrrp group LAN advertise-interval 1"),
        ("vyos", "set high-availability vrrp group LAN preempt-delay 0"),
        ("vyos", "set high-availability vrrp group LAN no-preempt"),
        ("vyos", "set high-availability vrrp group LAN rfc3768-compatibility"),
        ("vyos", "set high-availability vrrp group LAN authentication type plaintext-password"),
        ("vyos", "set high-availability vrrp group LAN authentication type ah"),
        ("vyos", "set high-availability vrrp group LAN authentication password secret12"),
        ("vyos", "set high-availability vrrp group LAN authentication password 'a b'"),
        ("vyos", "set high-availability vrrp group LAN hello-source-address 192.168.0.253"),
        ("vyos", "set high-availability vrrp group LAN hello-source-address 2001:db8::2"),
        ("vyos", "set high-availability vrrp group LAN peer-address 192.168.0.254"),
        ("vyos", "set high-availability vrrp group LAN description 'internal gateway'"),
        ("vyos", "set high-availability vrrp group LAN track interface eth2"),
        ("vyos", "set high-availability vrrp group LAN health-check ping 192.0.2.1"),
        (
            "vyos",
            "set high-availability vrrp group LAN transition-script master '/config/scripts/vrrp.sh master'",
        ),
        ("vyos", "set high-availability vrrp global-parameters garp interval 0.5"),
        ("vyos", "set high-availability vrrp global-parameters version 3"),
        ("vyos", "set high-availability vrrp sync-group MAIN member LAN"),
        ("vyos", "set high-availability vrrp group LAN"),
        ("vyos", "set high-availability vrrp"),
        ("vyos", "set service conntrack-sync interface eth3"),
        ("vyos", "set service conntrack-sync interface eth3 peer 192.0.2.7"),
        ("vyos", "set service conntrack-sync interface eth3 port 3780"),
        ("vyos", "set service conntrack-sync failover-mechanism vrrp sync-group MAIN"),
        ("vyos", "set service conntrack-sync mcast-group 225.0.0.50"),
        ("vyos", "set service conntrack-sync accept-protocol icmp6"),
        ("vyos", "set service conntrack-sync expect-sync all"),
        ("vyos", "set service conntrack-sync ignore-address 192.168.0.0/24"),
        ("vyos", "set service conntrack-sync ignore-address 2001:db8::/32"),
        ("vyos", "set service conntrack-sync listen-address 10.10.10.2"),
        ("vyos", "set service conntrack-sync disable-external-cache"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address 10.1.1.254/24"),
        ("vyatta", "set interfaces ethernet eth1 vif 100 vrrp vrrp-group 10 priority 200"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 1 priority 1"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 255 priority 255"),
        (
            "vyatta",
            "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication password abcdefgh",
        ),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication type ah"),
        (
            "vyatta",
            "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication type plaintext-password",
        ),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 preempt false"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 preempt-delay 1000"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 advertise-interval 255"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 hello-source-address 10.1.1.2"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 rfc3768-compatibility"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 sync-group MAIN"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 health-check interval 0"),
        ("vyatta", "set interfaces bonding bond0 vif-s 100 vif-c 20 vrrp vrrp-group 10 priority 9"),
        ("vyatta", "set interfaces switch switch0 vif 4094 vrrp vrrp-group 10 priority 90"),
        ("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10"),
    ],
)
def test_valid_commands_are_accepted(syntax, line):
    run(syntax, line)


@pytest.mark.parametrize(
    ("syntax", "line"),
    [
        ("vyos", "delete high-availability"),
        ("vyos", "delete high-availability vrrp group"),
        ("vyos", "delete high-availability vrrp group LAN"),
        ("vyos", "delete high-availability vrrp group LAN priority"),
        ("vyos", "delete high-availability vrrp group LAN priority 200"),
        ("vyos", "delete high-availability vrrp group LAN address 10.1.1.254/24"),
        ("vyos", "delete high-availability vrrp group LAN rfc3768-compatibility"),
        ("vyos", "delete service conntrack-sync expect-sync ftp"),
        ("vyatta", "delete interfaces ethernet eth1 vrrp"),
        ("vyatta", "delete interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address"),
        ("vyatta", "delete interfaces ethernet eth1 vif 100 vrrp vrrp-group 10"),
    ],
)
def test_valid_deletes_are_accepted(syntax, line):
    run(syntax, line)


def covered_words(syntax, statements):
    """The statements a syntax's schema covers, as word lists; checks that it covers every
    statement that looks like VRRP / conntrack-sync configuration."""
    schema = schema_of(syntax)
    found = []
    for statement in statements:
        path = list(statement.words)
        if syntax == "vyos":
            relevant = path[0] == "high-availability" or path[:2] == ["service", "conntrack-sync"]
        else:
            relevant = path[:1] == ["interfaces"] and "vrrp" in path
        assert schema.covers(path) is relevant, path
        if relevant:
            found.append(path)
    assert found, "no covered line in the fixture"
    return found


# fixture, syntax, commands run together on one line (split before reading)
SET_FIXTURES = [
    ("same_router/vyos14.set", "vyos", False),
    ("seed000_expect_sync.set", "vyos", False),
    ("same_router/vyos11.set", "vyatta", False),
    ("seed002_router_a.set", "vyatta", False),
    ("seed000_rt1_groups.set", "vyatta", False),
    ("seed000_rt1_load_sharing.set", "vyatta", False),
    ("seed000_rt2_load_sharing.set", "vyatta", False),
    ("seed000_rfc3768.set", "vyatta", False),
    ("seed000_rt2_sync_group.set", "vyatta", True),
    ("seed000_authentication.set", "vyatta", True),
]


@pytest.mark.parametrize(("name", "syntax", "joined"), SET_FIXTURES)
def test_fixture_set_lines_are_valid(name, syntax, joined):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    if joined:
        text = text.replace(" set ", "\nset ")
    statements, errors = read_set_lines(text)
    assert not errors
    for path in covered_words(syntax, statements):
        schema_of(syntax).validate_set(path)


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("same_router/vyos14.config.boot", "vyos"),
        ("same_router/vyos11.config.boot", "vyatta"),
        ("seed003_r1.config.boot", "vyatta"),
        ("seed003_r2.config.boot", "vyatta"),
    ],
)
def test_fixture_config_boot_is_valid(name, syntax):
    statements = flatten((FIXTURES / name).read_text(encoding="utf-8"), name)
    for path in covered_words(syntax, statements):
        schema_of(syntax).validate_set(path)


def test_vyatta_conntrack_sync_of_the_fixtures_is_not_validated(vyatta):
    statements, _ = read_set_lines(
        (FIXTURES / "same_router/vyos11.set").read_text(encoding="utf-8")
    )
    conntrack = [list(s.words) for s in statements if s.words[:2] == ("service", "conntrack-sync")]
    assert conntrack
    assert not any(vyatta.covers(path) for path in conntrack)


# Rejections: (syntax, command, what the message must name)

REJECTIONS = [
    # priority
    ("vyos", "set high-availability vrrp group LAN priority 0", ["priority: '0' is not in 1-255"]),
    (
        "vyos",
        "set high-availability vrrp group LAN priority 256",
        ["priority: '256' is not in 1-255"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN priority high",
        ["priority: 'high' is not an integer in 1-255"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN priority 100.5",
        ["priority: '100.5'", "is not an integer in 1-255"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 priority 0",
        ["priority: '0'", "priority must be between 1-255"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vif 100 vrrp vrrp-group 10 priority 256",
        ["priority: '256'", "priority must be between 1-255"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 priority high",
        ["priority: 'high'", "u32"],
    ),
    # vrid (VyOS 1.1: the vrrp-group number)
    ("vyos", "set high-availability vrrp group LAN vrid 0", ["vrid: '0'", "1-255"]),
    ("vyos", "set high-availability vrrp group LAN vrid 256", ["vrid: '256'", "1-255"]),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 0 priority 100",
        ["vrrp-group: '0'", "VRRP group must be between 1-255"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 256",
        ["vrrp-group: '256'", "VRRP group must be between 1-255"],
    ),
    # passwords: 1-8 characters in both; VyOS 1.1 also refuses white space
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication password abcdefghi",
        ["password: 'abcdefghi'", "8 characters or less"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication password 'ab cd'",
        ["password: 'ab cd'", "[^[:space:]]{1,8}"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN authentication password secret123",
        ["password: 'secret123'", "not be longer than 8 characters"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN authentication password ''",
        ["password: ''", ".{1,8}"],
    ),
    # authentication type
    (
        "vyos",
        "set high-availability vrrp group LAN authentication type md5",
        ["type: 'md5'", "plaintext-password or ah"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 authentication type md5",
        ["type: 'md5'", "plaintext-password or ah"],
    ),
    # unknown nodes
    (
        "vyos",
        "set high-availability vrrp group LAN foo",
        ["high-availability vrrp group LAN: unknown node 'foo'"],
    ),
    (
        "vyos",
        "set high-availability vrrp bogus 1",
        ["high-availability vrrp: unknown node 'bogus'"],
    ),
    ("vyos", "set service conntrack-sync sync-groups X", ["unknown node 'sync-groups'"]),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 no-preempt",
        ["vrrp-group 10: unknown node 'no-preempt'"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 transition-script master /x",
        ["unknown node 'transition-script'"],
    ),
    # bad addresses
    (
        "vyos",
        "set high-availability vrrp group LAN address 10.1.1.256/24",
        ["address: '10.1.1.256/24'", "IP host address"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN address 10.1.1.0/24",
        ["address: '10.1.1.0/24'", "not the network address"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN hello-source-address 192.168.0.253/24",
        ["hello-source-address: '192.168.0.253/24'", "an IP address"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN peer-address gateway",
        ["peer-address: 'gateway'", "an IP address"],
    ),
    (
        "vyos",
        "set service conntrack-sync interface eth3 peer 2001:db8::1",
        ["peer: '2001:db8::1'", "an IPv4 address"],
    ),
    (
        "vyos",
        "set service conntrack-sync mcast-group 10.0.0.1",
        ["mcast-group: '10.0.0.1'", "multicast"],
    ),
    (
        "vyos",
        "set service conntrack-sync ignore-address 192.168.0.0/33",
        ["ignore-address: '192.168.0.0/33'", "IPv4"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 hello-source-address 10.1.1.256",
        ["hello-source-address: '10.1.1.256'", "IPv4 address"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 peer-address 2001:db8::1",
        ["peer-address: '2001:db8::1'", "IPv4 address"],
    ),
    # other ranges and types
    (
        "vyos",
        "set high-availability vrrp group LAN advertise-interval 0.5",
        ["advertise-interval: '0.5'", "1-255"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN preempt-delay 1001",
        ["preempt-delay: '1001'", "0-1000"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN garp master-refresh 0",
        ["master-refresh: '0'", "1-255"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN health-check failure-count 0",
        ["failure-count: '0'", "positive"],
    ),
    (
        "vyos",
        "set high-availability vrrp global-parameters garp interval 1000.5",
        ["interval: '1000.5'", "0.000-1000"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN transition-script master vrrp-master.sh",
        ["master: 'vrrp-master.sh'", "absolute path"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN interface 'eth 1'",
        ["interface: 'eth 1'", "interface name"],
    ),
    ("vyos", "set service conntrack-sync interface eth3 port 0", ["port: '0'", "1 to 65535"]),
    (
        "vyos",
        "set service conntrack-sync accept-protocol tcp,udp",
        ["accept-protocol: 'tcp,udp'", "Allowed protocols"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 advertise-interval 0",
        ["advertise-interval: '0'", "Advertise interval must be between 1-255"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 preempt-delay 1001",
        ["preempt-delay: '1001'", "between 0-1000"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 preempt yes",
        ["preempt: 'yes'", "true or false"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 health-check interval 4294967296",
        ["interval: '4294967296'", "0-4294967295"],
    ),
    # interface names and VLAN IDs of the VyOS 1.1 / EdgeOS mount points
    (
        "vyatta",
        "set interfaces ethernet bond0 vrrp vrrp-group 10 priority 200",
        ["interfaces ethernet: 'bond0'", "ethernet interface name"],
    ),
    (
        "vyatta",
        "set interfaces switch eth0 vrrp vrrp-group 10 priority 200",
        ["interfaces switch: 'eth0'", "switch interface name"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vif 0 vrrp vrrp-group 10 priority 200",
        ["vif: '0'", "1-4094"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vif 4095 vrrp vrrp-group 10 priority 200",
        ["vif: '4095'", "1-4094"],
    ),
    (
        "vyatta",
        "set interfaces bonding bond0 vif-s 100 vif-c 5000 vrrp vrrp-group 10",
        ["vif-c: '5000'", "1-4094"],
    ),
    # valueless nodes given a value
    (
        "vyos",
        "set high-availability vrrp group LAN rfc3768-compatibility yes",
        ["'rfc3768-compatibility' is valueless", "'yes'"],
    ),
    (
        "vyos",
        "set high-availability vrrp group LAN no-preempt true",
        ["'no-preempt' is valueless", "'true'"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 rfc3768-compatibility true",
        ["'rfc3768-compatibility' is valueless", "'true'"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 disable yes",
        ["'disable' is valueless", "'yes'"],
    ),
    # missing tag values and values
    ("vyos", "set high-availability vrrp group", ["tag node 'group' needs a name"]),
    (
        "vyos",
        "set high-availability vrrp group LAN address",
        ["tag node 'address' needs a name"],
    ),
    ("vyos", "set service conntrack-sync interface", ["tag node 'interface' needs a name"]),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group",
        ["tag node 'vrrp-group' needs a name"],
    ),
    (
        "vyatta",
        "set interfaces ethernet eth1 vif 100 vrrp vrrp-group",
        ["tag node 'vrrp-group' needs a name"],
    ),
    ("vyos", "set high-availability vrrp group LAN priority", ["'priority' needs a value"]),
    (
        "vyatta",
        "set interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address",
        ["'virtual-address' needs a value"],
    ),
    # one value per line
    (
        "vyos",
        "set high-availability vrrp group LAN priority 200 100",
        ["unexpected '100'", "'priority'"],
    ),
    # deletes of unknown paths or values no router could hold
    (
        "vyos",
        "delete high-availability vrrp group LAN foo",
        ["high-availability vrrp group LAN: unknown node 'foo'"],
    ),
    (
        "vyos",
        "delete service conntrack-sync bogus",
        ["service conntrack-sync: unknown node 'bogus'"],
    ),
    ("vyos", "delete high-availability vrrp group LAN priority 300", ["priority: '300'", "1-255"]),
    (
        "vyos",
        "delete high-availability vrrp group LAN no-preempt now",
        ["'no-preempt' is valueless"],
    ),
    (
        "vyatta",
        "delete interfaces ethernet eth0 vrrp vrrp-group 1 foo",
        ["vrrp-group 1: unknown node 'foo'"],
    ),
    (
        "vyatta",
        "delete interfaces ethernet eth0 vrrp vrrp-group 300",
        ["vrrp-group: '300'", "VRRP group must be between 1-255"],
    ),
]


@pytest.mark.parametrize(("syntax", "line", "fragments"), REJECTIONS)
def test_rejections_name_the_problem(syntax, line, fragments):
    with pytest.raises(SchemaError) as caught:
        run(syntax, line)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(caught.value, ValueError)


def test_offline_limits_are_as_documented():
    """What needs the router is not checked: VyOS 1.1's virtual-address is only checked by
    an exec (which is skipped), VyOS 1.4's interface names by a lookup in /sys/class/net
    (any valid Linux name passes)."""
    run("vyatta", "set interfaces ethernet eth1 vrrp vrrp-group 10 virtual-address anything")
    run("vyos", "set high-availability vrrp group LAN interface ens18")
    with pytest.raises(SchemaError, match="sixteen-chars-00"):
        run("vyos", "set high-availability vrrp group LAN interface sixteen-chars-00")


# The node.def expression forms and XML constraint forms not in the shipped data, through
# a schema root of their own.


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def custom_vyatta(tmp_path):
    vrrp = tmp_path / "vyatta-vrrp" / "vrrp"
    write(vrrp / "node.def", "help: VRRP\n")
    write(
        vrrp / "either" / "node.def",
        'type: u32\nsyntax:expression: ($VAR(@) == 5 || $VAR(@) == 7); "five or seven"\n',
    )
    write(
        vrrp / "not-in" / "node.def",
        'type: txt\nsyntax:expression: !($VAR(@) in "a", "b")\n  ; "neither a nor b"\n',
    )
    write(
        vrrp / "ipboth" / "node.def",
        'type: ipv4,ipv6\nsyntax:expression: $VAR(@) != 0.0.0.0; "not the any address"\n',
    )
    write(
        vrrp / "with-exec" / "node.def",
        "type: u32\n"
        'syntax:expression: exec "/bin/false" && $VAR(@) < 10; "small"\n'
        'commit:expression: $VAR(../either/@) == 5; "commit time only"\n',
    )
    write(
        vrrp / "not-exec" / "node.def",
        'type: u32\nsyntax:expression: !(exec "/bin/true" && $VAR(@) < 10); "unknown"\n',
    )
    write(
        vrrp / "other-var" / "node.def",
        'type: txt\nsyntax:expression: $VAR(../@) == "x"; "needs the router"\n',
    )
    write(
        vrrp / "digits" / "node.def",
        'type: txt\nsyntax:expression: pattern $VAR(@) "^[[:digit:]]+\\\\.[[:alpha:]]$"\n',
    )
    write(vrrp / "list" / "node.def", "tag:\ntype: u32\n")
    write(vrrp / "list" / "node.tag" / "flag" / "node.def", "help: a flag\n")
    return tmp_path


def test_nodedef_expression_forms(custom_vyatta):
    schema = vyatta_schema.load("vyatta", custom_vyatta)
    base = ["interfaces", "ethernet", "eth0", "vrrp"]

    def ok(*rest):
        schema.validate_set([*base, *rest])

    def bad(fragment, *rest):
        with pytest.raises(SchemaError, match=fragment):
            schema.validate_set([*base, *rest])

    ok("either", "5")
    ok("either", "7")
    bad(r"\(five or seven\)", "either", "6")
    ok("not-in", "c")
    bad("neither a nor b", "not-in", "a")
    ok("ipboth", "10.0.0.1")
    bad("not the any address", "ipboth", "0.0.0.0")
    # Vyatta compares values of one type only: an IPv6 value against an IPv4 literal fails
    bad("not the any address", "ipboth", "2001:db8::1")
    bad("IPv4 address .type ipv4. or an IPv6 address", "ipboth", "10.0.0")
    ok("with-exec", "3")  # exec unknown and 3 < 10: passes
    bad("small", "with-exec", "30")  # whatever the exec says, the && fails
    ok("not-exec", "3")  # !(unknown && true) is unknown: passes
    ok("not-exec", "30")  # !(unknown && false) is true
    ok("other-var", "y")  # depends on another node: not checkable, passes
    ok("digits", "12.a")
    bad("digit", "digits", "12a")  # '\\.' in the template is an escaped '.'
    ok("list", "3", "flag")
    bad("needs a name", "list")
    nodes = dict(schema.walk())
    exec_node = nodes[("interfaces", "ethernet", "<ethernet>", "vrrp", "with-exec")]
    assert any("exec" in s for s in exec_node.skipped)
    assert any(s.startswith("commit:expression") for s in exec_node.skipped)


def test_nodedef_syntax_errors_are_load_errors(tmp_path):
    vrrp = tmp_path / "vyatta-vrrp" / "vrrp"
    write(vrrp / "node.def", "help: VRRP\n")
    write(vrrp / "broken" / "node.def", "type: u32\nsyntax:expression: $VAR(@) >> 5\n")
    with pytest.raises(ValueError, match="broken"):
        vyatta_schema.load("vyatta", tmp_path)


def test_xml_constraint_forms(tmp_path, monkeypatch):
    monkeypatch.setattr(vyatta_schema, "UNKNOWN_VALIDATORS", set())
    write(
        tmp_path / "vyos-1x" / "include" / "leaf.xml.i",
        '<leafNode name="ranged"><properties><constraint>'
        '<validator name="numeric" argument="--range 1-10 --range 20-30"/>'
        "</constraint></properties></leafNode>\n",
    )
    write(
        tmp_path / "vyos-1x" / "test.xml.in",
        '<?xml version="1.0"?>\n<interfaceDefinition>\n'
        '<node name="demo" owner="x.py"><children>\n'
        "#include <include/leaf.xml.i>\n"
        '<leafNode name="grouped"><properties>'
        "<constraintGroup><regex>[a-z]+</regex><regex>.{1,3}</regex></constraintGroup>"
        "</properties></leafNode>\n"
        '<leafNode name="mystery"><properties><constraint>'
        '<validator name="frobnicate"/></constraint></properties></leafNode>\n'
        '<leafNode name="netonly"><properties><constraint>'
        '<validator name="ipv4-prefix"/><validator name="ipv6-prefix"/>'
        "</constraint></properties></leafNode>\n"
        '<leafNode name="ll"><properties><constraint>'
        '<validator name="ipv6-link-local"/></constraint></properties></leafNode>\n'
        "</children></node>\n</interfaceDefinition>\n",
    )
    schema = vyatta_schema.load("vyos", tmp_path)
    schema.validate_set(["demo", "ranged", "5"])
    schema.validate_set(["demo", "ranged", "25"])
    with pytest.raises(SchemaError, match="'15' is not in 1-10 or 20-30"):
        schema.validate_set(["demo", "ranged", "15"])
    schema.validate_set(["demo", "grouped", "abc"])
    with pytest.raises(SchemaError, match="grouped: 'abcd'"):
        schema.validate_set(["demo", "grouped", "abcd"])
    schema.validate_set(["demo", "mystery", "anything at all"])
    unknown = vyatta_schema.UNKNOWN_VALIDATORS
    assert unknown == {"frobnicate"}
    schema.validate_set(["demo", "netonly", "10.1.0.0/16"])
    schema.validate_set(["demo", "netonly", "2001:db8::/32"])
    with pytest.raises(SchemaError, match="prefix"):
        schema.validate_set(["demo", "netonly", "10.1.0.1/16"])
    schema.validate_set(["demo", "ll", "fe80::1%eth0"])
    with pytest.raises(SchemaError, match="link-local"):
        schema.validate_set(["demo", "ll", "2001:db8::1"])


def test_module_is_stdlib_only_and_python39_syntax():
    source = Path(vyatta_schema.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
    assert "from __future__ import annotations" in source
