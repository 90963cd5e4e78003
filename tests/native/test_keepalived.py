"""keepalived.conf: keepalived's own rules, warnings instead of errors for the rest."""

from __future__ import annotations

import ipaddress

import pytest

from routerha.model import AuthType, HealthCheck, TrackedInterface
from routerha.model.native import NativeParseError, detect_kind, parse_keepalived, parse_native


def instance(*lines: str, name: str = "VI_1") -> str:
    body = "\n".join(f"    {line}" for line in lines)
    return (
        f"vrrp_instance {name} {{\n"
        "    interface eth0\n"
        "    virtual_router_id 51\n"
        "    virtual_ipaddress {\n"
        "        192.168.1.3/24\n"
        "    }\n"
        f"{body}\n"
        "}\n"
    )


def group(text: str, name: str = "VI_1"):
    config, _ = parse_keepalived(text, "k.conf")
    return config.groups[name]


def test_state_master_without_priority_is_the_owner():
    assert group(instance("state MASTER")).priority == 255
    assert group(instance("state BACKUP")).priority == 100
    assert group(instance()).priority == 100


def test_state_master_with_a_priority_is_only_a_start_hint():
    config, warnings = parse_keepalived(instance("state MASTER", "priority 150"))
    assert config.groups["VI_1"].priority == 150
    assert warnings == []


def test_state_master_clears_nopreempt_and_preempt_delay():
    config, warnings = parse_keepalived(
        instance("state MASTER", "priority 150", "nopreempt", "preempt_delay 30"), "k.conf"
    )
    assert (config.groups["VI_1"].preempt, config.groups["VI_1"].preempt_delay) == (True, 0)
    assert warnings == [
        "k.conf:9: nopreempt has no effect with state MASTER (keepalived clears it)",
        "k.conf:10: preempt_delay has no effect with state MASTER (keepalived clears it)",
    ]


def test_nopreempt_resets_preempt_delay():
    config, warnings = parse_keepalived(
        instance("state BACKUP", "nopreempt", "preempt_delay 30"), "k.conf"
    )
    assert (config.groups["VI_1"].preempt, config.groups["VI_1"].preempt_delay) == (False, 0)
    assert warnings == [
        "k.conf:9: preempt_delay has no effect with nopreempt (keepalived resets it)"
    ]


def test_nopreempt_with_priority_255():
    config, warnings = parse_keepalived(instance("priority 255", "nopreempt"), "k.conf")
    assert config.groups["VI_1"].preempt is True
    assert warnings == [
        "k.conf:8: nopreempt has no effect with priority 255 (keepalived clears it)"
    ]


def test_syntax_variants():
    text = """\
! keepalived.conf with comments
vrrp_instance VI_1   # the LAN
{
    interface eth0 ! trailing comment
    virtual_router_id 51
    virtual_ipaddress { 192.168.1.3/24 brd 192.168.1.255 dev eth0 scope global label eth0:vip }
    notify_master "/etc/keepalived/notify.sh MASTER"
    notify_backup /etc/keepalived/notify.sh BACKUP
    authentication {
        auth_type AH
        auth_pass "se cret"
    }
}
"""
    assert detect_kind(text) == "keepalived"
    g = group(text)
    assert g.address == (ipaddress.ip_interface("192.168.1.3/24"),)
    assert g.transition_script.master == "/etc/keepalived/notify.sh MASTER"
    assert g.transition_script.backup == "/etc/keepalived/notify.sh BACKUP"
    assert g.authentication is not None
    assert g.authentication.type is AuthType.AH
    assert g.authentication.password == "se cret"


def test_track_interface_weights_and_dont_track_primary():
    text = instance(
        "track_interface {", "    eth1 weight -50", "    eth2", "}", "dont_track_primary"
    )
    g = group(text)
    assert g.track.interface == (TrackedInterface("eth1", -50), TrackedInterface("eth2"))
    assert g.track.exclude_vrrp_interface is True


def test_track_script_is_the_health_check():
    script = """\
vrrp_script chk {
    script "/usr/local/bin/check --fast"
    interval 2
    weight -30
}
"""
    g = group(script + instance("track_script {", "    chk", "}"))
    assert g.health_check == HealthCheck(
        script="/usr/local/bin/check --fast", interval=2, failure_count=1, weight=-30
    )
    g = group(script + instance("track_script {", "    chk weight 0", "}"))
    assert g.health_check is not None
    assert g.health_check.weight is None


def test_undefined_script_is_an_error():
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(instance("track_script {", "    nope", "}"), "k.conf")
    assert caught.value.lines == [8]
    assert "no vrrp_script nope is defined" in str(caught.value)


def test_sync_group_scripts():
    text = (
        "vrrp_script chk {\n    script /bin/check\n    interval 3\n    fall 2\n}\n"
        + instance(name="A")
        + instance(name="B").replace("51", "52")
        + "vrrp_sync_group G {\n"
        "    group { A B }\n"
        "    notify_fault /bin/fault\n"
        "    track_script {\n        chk\n    }\n"
        "    smtp_alert\n"
        "}\n"
    )
    config, warnings = parse_keepalived(text, "k.conf")
    sync = config.sync_groups["G"]
    assert sync.member == ("A", "B")
    assert sync.transition_script.fault == "/bin/fault"
    assert sync.health_check == HealthCheck(script="/bin/check", interval=3, failure_count=2)
    assert warnings == ["k.conf:28: vrrp_sync_group G: smtp_alert is not part of the model"]


def test_versions_and_unicast():
    text = "global_defs {\n    vrrp_version 3\n}\n" + instance(
        "advert_int 0.5",
        "unicast_src_ip 192.168.1.1",
        "unicast_peer {",
        "    192.168.1.2",
        "}",
    )
    g = group(text)
    assert (g.version, g.advertise_interval) == (3, 0.5)
    assert g.peer_address == (ipaddress.ip_address("192.168.1.2"),)
    assert g.hello_source_address == ipaddress.ip_address("192.168.1.1")
    assert group(instance("version 3")).version == 3
    assert group(instance()).version == 2


def test_vrrpv2_refuses_half_a_second():
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(instance("advert_int 0.5"), "k.conf")
    assert caught.value.lines == [7]


def test_bad_auth_type():
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(instance("authentication {", "    auth_type MD5", "}"), "k.conf")
    assert caught.value.lines == [8]
    assert "keepalived knows PASS and AH" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("$INSTANCE", "$INSTANCE: no parameter of that name is defined"),
        ("$INSTANCE= \\", "multi-line parameter definitions are not supported"),
        ("~SEQ(NUM, 0, 3) $INSTANCE", "~SEQ repetition is not supported"),
        ("$A=${B}\n$B=${A}\n${A}", "parameter substitution does not end"),
        ("$A=${B}${B}\n$B=${C}${C}\n$C=${A}${A}\n${A}", "longer than 65536"),
        ("include other.conf", "is not followed"),
    ],
)
def test_lines_that_change_the_file_are_refused(line, message):
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(line + "\n" + instance(), "k.conf")
    assert caught.value.lines == [line.count("\n") + 1]
    assert message in str(caught.value)


def test_parse_native_collects_warnings():
    warnings: list[str] = []
    config = parse_native(instance("smtp_alert"), source="k.conf", warnings=warnings)
    assert set(config.groups) == {"VI_1"}
    assert warnings == ["k.conf:7: vrrp_instance VI_1: smtp_alert is not part of the model"]


def test_other_root_blocks_are_skipped():
    text = "virtual_server 10.0.0.1 80 {\n    real_server 10.0.0.2 80 {\n    }\n}\n" + instance()
    config, warnings = parse_keepalived(text)
    assert set(config.groups) == {"VI_1"}
    assert warnings == []


def test_script_weights_are_taken_where_tracked():
    script = "vrrp_script chk {\n    script /bin/check\n    weight 10\n}\n"
    config, _ = parse_keepalived(script + instance())  # not tracked: no health check
    assert config.groups["VI_1"].health_check is None
    g = group(script + instance("track_script {", "    chk", "}"))
    assert g.health_check is not None
    assert g.health_check.weight == 10  # the script's own, positive: added while healthy
    g = group(script + instance("track_script {", "    chk weight -10", "}"))
    assert g.health_check is not None
    assert g.health_check.weight == -10
    g = group(script + instance("track_script {", "    chk weight -10 noreverse", "}"))
    assert g.health_check.weight == -10


def test_script_value_errors_name_the_script_line():
    script = "vrrp_script chk {\n    script /bin/check\n    interval 0\n}\n"
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(script + instance("track_script {", "    chk", "}"), "k.conf")
    assert caught.value.lines == [3]
    assert "health_check.interval: 0 is outside 1..86400" in str(caught.value)


# Addresses on another interface, address options


def test_dev_puts_an_address_on_another_interface():
    text = instance(
        "virtual_ipaddress {",
        "    203.0.113.7/24 dev eth1 label eth1:vip",
        "    192.168.1.4/24 dev eth0",
        "}",
        "virtual_ipaddress_excluded {",
        "    fd00:1::7/64 dev eth2",
        "}",
    )
    config, warnings = parse_keepalived(text, "k.conf")
    g = config.groups["VI_1"]
    assert [str(a) for a in g.address] == ["192.168.1.3/24", "203.0.113.7/24", "192.168.1.4/24"]
    assert g.interface_of(g.address[1]) == "eth1"
    assert g.interface_of(g.address[2]) is None  # the instance's own interface
    assert g.interface_of(g.excluded_address[0]) == "eth2"
    assert warnings == [
        "k.conf:8: address 203.0.113.7/24: label eth1:vip is not part of routerha's model "
        "(routerhad installs the address without it)"
    ]


@pytest.mark.parametrize(
    "options",
    [
        "brd 192.168.1.255",
        "broadcast +",
        "scope global",
        "label eth0:1",
        "preferred_lft 0",
        "no_track",
        "-nodad",
        "noprefixroute",
        "use_vmac",
    ],
)
def test_address_options_keepalived_accepts_are_warnings(options):
    text = instance().replace("192.168.1.3/24\n", f"192.168.1.3/24 {options}\n")
    config, warnings = parse_keepalived(text, "k.conf")
    assert config.groups["VI_1"].address == (ipaddress.ip_interface("192.168.1.3/24"),)
    assert len(warnings) == 1 and warnings[0].startswith("k.conf:5: address 192.168.1.3/24: ")


def test_unknown_address_option_is_ignored_as_keepalived_does():
    text = instance().replace("192.168.1.3/24\n", "192.168.1.3/24 frobnicate\n")
    config, warnings = parse_keepalived(text, "k.conf")
    assert config.groups["VI_1"].address == (ipaddress.ip_interface("192.168.1.3/24"),)
    assert warnings == [
        "k.conf:5: address 192.168.1.3/24: unknown option 'frobnicate' ignored, as keepalived does"
    ]


# Weights with keepalived's meaning


def test_positive_and_negative_weights_are_kept():
    text = instance("track_interface {", "    eth1 weight 20", "    eth2 weight -253", "}")
    g = group(text)
    assert g.track.interface == (TrackedInterface("eth1", 20), TrackedInterface("eth2", -253))


def test_weight_outside_keepalived_s_range_names_its_line():
    with pytest.raises(NativeParseError) as caught:
        parse_keepalived(instance("track_interface {", "    eth1 weight 254", "}"), "k.conf")
    assert caught.value.lines == [8]
    assert "outside -253..253" in str(caught.value)


SYNC = "vrrp_sync_group SG {\n    group {\n        VI_1\n    }\n%s}\n"
WEIGHTED = (
    "vrrp_script chk {\n    script /bin/check\n}\n",
    ("track_interface {", "    eth1 weight 20", "}", "track_script {", "    chk weight 5", "}"),
)


def test_sync_group_members_use_no_weights_as_keepalived():
    script, lines = WEIGHTED
    config, warnings = parse_keepalived(script + instance(*lines) + SYNC % "", "k.conf")
    g = config.groups["VI_1"]
    # keepalived: the interface is tracked without its weight, the weighted script ignored.
    assert g.track.interface == (TrackedInterface("eth1"),)
    assert g.health_check is None
    assert any(
        "track_interface eth1 weight 20: keepalived tracks without its weight" in w
        for w in warnings
    )
    assert any("track_script with weight 5: keepalived ignores" in w for w in warnings)


def test_sync_group_tracking_weight_keeps_the_members_weights():
    script, lines = WEIGHTED
    text = script + instance(*lines) + SYNC % "    sync_group_tracking_weight\n"
    config, warnings = parse_keepalived(text, "k.conf")
    g = config.groups["VI_1"]
    assert g.track.interface == (TrackedInterface("eth1", 20),)
    assert g.health_check is not None and g.health_check.weight == 5
    assert warnings == []


def test_the_address_owner_ignores_weighted_trackers_as_keepalived():
    script, lines = WEIGHTED
    config, warnings = parse_keepalived(script + instance("priority 255", *lines), "k.conf")
    g = config.groups["VI_1"]
    assert g.track.interface == ()
    assert g.health_check is None
    assert len(warnings) == 2


# Conditional lines (keepalived -i CONFIG_ID)

CONDITIONAL = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    @main priority 200
    @backup priority 100
    @main unicast_src_ip 10.0.0.1
    @backup unicast_src_ip 10.0.0.2
    unicast_peer {
        @^main 10.0.0.1
        @^backup 10.0.0.2
    }
    virtual_ipaddress {
        10.0.0.100/24
    }
    @backup
}
"""


@pytest.mark.parametrize(
    ("config_id", "priority", "source", "peers"),
    [
        ("main", 200, "10.0.0.1", ["10.0.0.2"]),
        ("backup", 100, "10.0.0.2", ["10.0.0.1"]),
        ("other", 100, None, ["10.0.0.1", "10.0.0.2"]),
    ],
)
def test_conditional_lines_are_evaluated_for_the_router(config_id, priority, source, peers):
    config, warnings = parse_keepalived(CONDITIONAL, "k.conf", config_id=config_id)
    g = config.groups["VI_1"]
    assert g.priority == priority
    assert (str(g.hello_source_address) if g.hello_source_address else None) == source
    assert [str(p) for p in g.peer_address] == peers
    assert warnings == []


def test_conditional_lines_without_a_router_id_are_left_out_with_warnings():
    assert detect_kind("@main global_defs {\n}\n") == "keepalived"
    assert detect_kind("$IF=eth0\nvrrp_instance VI_1 {\n}\n") == "keepalived"
    config, warnings = parse_keepalived(CONDITIONAL, "k.conf")
    g = config.groups["VI_1"]
    assert (g.priority, g.hello_source_address, g.peer_address) == (100, None, ())
    assert [w.split(":")[1] for w in warnings] == ["4", "5", "6", "7", "9", "10", "15"]
    assert warnings[0] == (
        "k.conf:4: conditional line (@main: only where keepalived's config id (-i) is main) "
        "left out: no router id was given to evaluate it"
    )
    assert "(@^main: only where keepalived's config id (-i) is not main)" in warnings[4]
    config = parse_native(CONDITIONAL, source="k.conf", config_id="main")
    assert config.groups["VI_1"].priority == 200


# Parameters ($NAME=VALUE)

PARAMETERS = """\
$IF=eth0
@main $PRIORITY=240
@backup $PRIORITY=200
$BASE=10.2.${SUB}
$SUB=0   # the first subnet
vrrp_instance VI_1 {
    interface $IF
    virtual_router_id 51
    priority $PRIORITY
    notify_master "/usr/local/bin/notify $HOME ${UNDEFINED}"
    virtual_ipaddress {
        ${BASE}.100/24
"""


def group_for(text: str, config_id: str):
    return parse_keepalived(text, "k.conf", config_id=config_id)[0].groups["VI_1"]


def test_parameters_are_substituted_where_used():
    text = PARAMETERS + "        ${BASE}.101/24 dev eth1\n    }\n}\n"
    g = group_for(text, "main")
    assert (g.interface, g.priority) == ("eth0", 240)
    assert [str(a) for a in g.address] == ["10.2.0.100/24", "10.2.0.101/24"]
    assert g.interface_of(g.address[1]) == "eth1"
    # Undefined parameters stay as written (a script's own $HOME, say).
    assert g.transition_script.master == "/usr/local/bin/notify $HOME ${UNDEFINED}"
    assert group_for(text, "backup").priority == 200


def test_a_redefined_parameter_counts_from_its_new_line_on():
    text = PARAMETERS + "        $SUB=10\n        ${BASE}.100/24\n    }\n}\n"
    g = group_for(text, "main")
    assert [str(a) for a in g.address] == ["10.2.0.100/24", "10.2.10.100/24"]


def test_a_parameter_may_hold_a_condition():
    text = "$IF_MAIN=@main\n" + instance("$IF_MAIN priority 240")
    assert group_for(text, "main").priority == 240
    assert group_for(text, "other").priority == 100


def test_trackers_the_model_cannot_hold_are_named_in_warnings():
    text = instance(
        "track_file {", "    f weight 10", "}", "unicast_peer {", "    10.0.0.2 min_ttl 1", "}"
    )
    config, warnings = parse_keepalived(text, "k.conf")
    assert [str(p) for p in config.groups["VI_1"].peer_address] == ["10.0.0.2"]
    assert warnings[0].startswith("k.conf:7: vrrp_instance VI_1: track_file: keepalived moves")
    assert warnings[1] == (
        "k.conf:11: unicast_peer 10.0.0.2: min_ttl 1 is not part of the model "
        "(the peer is read without it)"
    )
