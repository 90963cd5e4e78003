"""Every error names the source and the line, and says what is wrong."""

from __future__ import annotations

import pytest

from routerha.errors import ConfigError, RouterhaError
from routerha.model.native import (
    NativeParseError,
    detect_kind,
    parse_config_boot,
    parse_keepalived,
    parse_native,
    parse_set_lines,
)

GROUP_11 = """\
set interfaces ethernet eth0 address '192.168.0.253/24'
set interfaces ethernet eth0 vrrp vrrp-group 10 virtual-address '10.0.0.2/24'
set interfaces ethernet eth0 vrrp vrrp-group 10 priority '200'
"""

GROUP_14 = """\
set high-availability vrrp group LAN interface 'eth0'
set high-availability vrrp group LAN vrid '10'
set high-availability vrrp group LAN address '10.0.0.2/24'
"""

BOOT = """\
interfaces {
    ethernet eth0 {
        address 192.168.0.253/24
        vrrp {
            vrrp-group 10 {
                priority 200
                virtual-address 10.0.0.2/24
            }
        }
    }
}
"""

KEEPALIVED = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    priority 200
    virtual_ipaddress {
        10.0.0.2/24
    }
}
"""


def error_of(parse, text, source="r1.conf") -> NativeParseError:
    with pytest.raises(NativeParseError) as caught:
        parse(text, source)
    return caught.value


def keepalived_config(text, source):
    return parse_keepalived(text, source)[0]


def test_native_parse_error_is_a_config_error():
    error = error_of(parse_set_lines, "delete interfaces ethernet eth0 vrrp\n")
    assert isinstance(error, ConfigError)
    assert isinstance(error, RouterhaError)
    assert error.problems == [("r1.conf:1", error.located[0][1])]
    assert error.source == "r1.conf"
    assert error.line == 1


# Unknown nodes under VRRP


@pytest.mark.parametrize(
    ("text", "line", "node"),
    [
        (
            GROUP_11 + "set interfaces ethernet eth0 vrrp vrrp-group 10 firewall in name X\n",
            4,
            "firewall",
        ),
        (
            GROUP_11 + "set interfaces ethernet eth0 vrrp vrrp-groups 11 priority 100\n",
            4,
            "vrrp-groups",
        ),
        (GROUP_14 + "set high-availability vrrp group LAN prioirty '200'\n", 4, "prioirty"),
        (
            GROUP_14 + "set high-availability vrrp group LAN authentication passwd 'x'\n",
            4,
            "passwd",
        ),
        (GROUP_14 + "set high-availability vrrp sync-group S members 'LAN'\n", 4, "members"),
        (GROUP_14 + "set high-availability vrrp grop LAN vrid 10\n", 4, "grop"),
        (GROUP_14 + "set service conntrack-sync mcast-grp 225.0.0.50\n", 4, "mcast-grp"),
    ],
)
def test_unknown_vrrp_node_in_set_lines(text, line, node):
    error = error_of(parse_set_lines, text)
    assert error.lines == [line]
    assert f"r1.conf:{line}: unknown node {node!r}" in str(error)


def test_unknown_vrrp_node_in_config_boot():
    text = BOOT.replace("priority 200", "priority 200\n                prempt false")
    error = error_of(parse_config_boot, text)
    assert error.lines == [7]
    assert "unknown node 'prempt' under 'interfaces ethernet eth0 vrrp vrrp-group 10'" in str(error)
    assert "known: advertise-interval, authentication," in str(error)


def test_unknown_keepalived_keyword_is_a_warning_with_its_line():
    text = KEEPALIVED.replace("priority 200", "priority 200\n    lvs_sync_daemon_interface eth1")
    config, warnings = parse_keepalived(text, "k.conf")
    assert config.groups["VI_1"].priority == 200
    assert warnings == [
        "k.conf:5: vrrp_instance VI_1: lvs_sync_daemon_interface is not part of the model"
    ]


def test_vrrp_group_in_a_wrong_place_is_not_skipped():
    error = error_of(parse_set_lines, "set interfaces eth0 vrrp vrrp-group 1 priority 200\n")
    assert error.lines == [1]
    assert "'vrrp-group' at an unexpected place" in str(error)


# Bad values: caught by the model, mapped back to the line


def test_model_error_names_the_set_line():
    error = error_of(parse_set_lines, GROUP_11.replace("'200'", "'300'"))
    assert error.lines == [3]
    assert str(error).startswith(
        "r1.conf:3: vrrp.groups.eth0-10.priority: 300 is outside 1..255 (line: "
    )


def test_model_error_names_the_config_boot_line():
    error = error_of(parse_config_boot, BOOT.replace("priority 200", "priority 300"))
    assert error.lines == [6]
    assert "vrrp.groups.eth0-10.priority: 300 is outside 1..255 (line: 'priority 300')" in str(
        error
    )


def test_model_error_names_the_keepalived_line():
    error = error_of(keepalived_config, KEEPALIVED.replace("priority 200", "priority 300"))
    assert error.lines == [4]
    assert "vrrp.groups.VI_1.priority: 300 is outside 1..255" in str(error)


def test_text_where_a_number_belongs():
    error = error_of(parse_set_lines, GROUP_14 + "set high-availability vrrp group LAN vrid ten\n")
    # The later setting replaced the earlier one, as in VyOS; the model names it.
    assert error.lines == [4]
    assert "vrrp.groups.LAN.vrid: must be a whole number, not 'ten'" in str(error)


def test_missing_required_key_names_the_group_line():
    error = error_of(parse_set_lines, "\n\nset high-availability vrrp group LAN vrid 10\n")
    assert error.lines == [3, 3]
    assert "vrrp.groups.LAN.interface: is required" in str(error)
    assert "vrrp.groups.LAN.address: is required" in str(error)


def test_several_errors_are_reported_together():
    text = GROUP_11.replace("'200'", "'0'") + "delete system host-name\nbogus line\n"
    error = error_of(parse_set_lines, text)
    assert error.lines == [4, 5]  # syntax errors first; the model is not built then
    text = GROUP_11.replace("'200'", "'0'") + GROUP_14.replace("'10'", "'256'")
    assert error_of(parse_set_lines, text).lines == [3, 5]


def test_sync_group_naming_an_unknown_group():
    text = GROUP_14 + "set high-availability vrrp sync-group S member 'WAN'\n"
    error = error_of(parse_set_lines, text)
    assert error.lines == [4]
    assert "'WAN' is not a configured group" in str(error)


def test_conntrack_sync_naming_an_unknown_sync_group():
    text = GROUP_14 + (
        "set service conntrack-sync interface eth2\n"
        "set service conntrack-sync failover-mechanism vrrp sync-group 'NOPE'\n"
    )
    error = error_of(parse_set_lines, text)
    assert error.lines == [5]
    assert "conntrack_sync.failover_mechanism.sync_group: 'NOPE' is not a configured" in str(error)


# Unbalanced braces


def test_config_boot_missing_close_brace():
    text = BOOT.replace(
        "                virtual-address 10.0.0.2/24\n            }\n",
        "                virtual-address 10.0.0.2/24\n",
    )
    error = error_of(parse_config_boot, text)
    assert error.lines == [1, 8]
    assert "r1.conf:1: unbalanced braces: the '{' of 'interfaces {' is never closed" in str(error)
    assert "r1.conf:8: a '}' is probably missing near here" in str(error)


def test_config_boot_extra_close_brace():
    error = error_of(parse_config_boot, BOOT + "}\n")
    assert error.lines == [12]
    assert "unbalanced '}'" in str(error)


def test_config_boot_unclosed_comment_and_quote():
    assert error_of(parse_config_boot, BOOT + "/* never closed\n").lines == [12]
    text = BOOT.replace("vrrp-group 10 {", 'vrrp-group 10 {\n                description "open')
    assert error_of(parse_config_boot, text).lines == [6]


def test_keepalived_missing_and_extra_close_brace():
    error = error_of(keepalived_config, KEEPALIVED.replace("    }\n}\n", "    }\n"))
    assert error.lines == [1]
    assert "the '{' of 'vrrp_instance VI_1 {' is never closed" in str(error)
    error = error_of(keepalived_config, KEEPALIVED + "}\n")
    assert error.lines == [9]
    assert "unbalanced '}'" in str(error)


def test_keepalived_include_is_not_followed():
    error = error_of(keepalived_config, "include /etc/keepalived/conf.d/*.conf\n" + KEEPALIVED)
    assert error.lines == [1]
    assert "include /etc/keepalived/conf.d/*.conf is not followed" in str(error)


# Set-line syntax


def test_delete_line():
    error = error_of(parse_set_lines, GROUP_11 + "delete interfaces ethernet eth0 vrrp\n")
    assert error.lines == [4]
    assert "'delete' is not supported" in str(error)


def test_unterminated_quote_and_unknown_command():
    error = error_of(parse_set_lines, "set system host-name 'R1\nshow interfaces\n")
    assert error.lines == [1, 2]
    assert "unterminated ' quote" in str(error)
    assert "unknown command 'show'" in str(error)


def test_value_count_errors():
    text = GROUP_11 + (
        "set interfaces ethernet eth0 vrrp vrrp-group 10 priority\n"
        "set interfaces ethernet eth0 vrrp vrrp-group 10 priority 1 2\n"
        "set interfaces ethernet eth0 vrrp vrrp-group 10 rfc3768-compatibility yes\n"
    )
    error = error_of(parse_set_lines, text)
    assert error.lines == [4, 5, 6]
    assert "'priority' needs a value" in str(error)
    assert "'priority' takes one value, got 2" in str(error)
    assert "'rfc3768-compatibility' takes no value" in str(error)


# Passwords: VRRPv2 carries 8 octets


@pytest.mark.parametrize(
    ("parse", "text", "line"),
    [
        (
            parse_set_lines,
            GROUP_11
            + "set interfaces ethernet eth0 vrrp vrrp-group 10 authentication type 'ah'\n"
            + "set interfaces ethernet eth0 vrrp vrrp-group 10 authentication password '123456789'\n",
            5,
        ),
        (
            parse_set_lines,
            GROUP_14
            + "set high-availability vrrp group LAN authentication password '123456789'\n"
            + "set high-availability vrrp group LAN authentication type 'plaintext-password'\n",
            4,
        ),
        (
            parse_config_boot,
            BOOT.replace(
                "priority 200",
                "authentication {\n    password 123456789\n    type ah\n}\npriority 200",
            ),
            7,
        ),
        (
            keepalived_config,
            KEEPALIVED.replace(
                "priority 200",
                "authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }",
            ),
            6,
        ),
    ],
)
def test_password_of_nine_characters(parse, text, line):
    error = error_of(parse, text)
    assert error.lines == [line]
    assert "authentication.password: is 9 octets; VRRPv2 carries at most 8" in str(error)
    assert f"r1.conf:{line}:" in str(error)


# Things the model cannot represent


def test_keepalived_address_option_without_its_value_is_refused():
    text = KEEPALIVED.replace("10.0.0.2/24", "10.0.0.2/24 dev")
    error = error_of(keepalived_config, text)
    assert error.lines == [6]
    assert "address 10.0.0.2/24: dev needs a value" in str(error)
    text = KEEPALIVED.replace("10.0.0.2/24", "10.0.0.2/24 dev eth1 dev eth2")
    error = error_of(keepalived_config, text)
    assert error.lines == [6]
    assert "dev is given twice" in str(error)


def test_second_conntrack_sync_interface_is_refused():
    text = GROUP_14 + (
        "set service conntrack-sync interface eth2\nset service conntrack-sync interface eth3\n"
    )
    error = error_of(parse_set_lines, text)
    assert error.lines == [5]
    assert "routerha syncs over one link" in str(error)


def test_cluster_failover_mechanism_is_refused():
    text = "set service conntrack-sync failover-mechanism cluster group 'G'\n"
    error = error_of(parse_set_lines, text)
    assert error.lines == [1]
    assert "'failover-mechanism cluster' is not supported" in str(error)


def test_group_name_claimed_by_both_syntaxes():
    text = GROUP_11 + (
        "set high-availability vrrp group eth0-10 interface eth0\n"
        "set high-availability vrrp group eth0-10 vrid 10\n"
    )
    error = error_of(parse_set_lines, text)
    assert error.lines == [4, 5]
    assert "configured both as" in str(error)


def test_keepalived_reversed_weight_is_refused():
    text = KEEPALIVED.replace(
        "priority 200", "track_interface {\n        eth1 weight 20 reverse\n    }"
    )
    error = error_of(keepalived_config, text)
    assert error.lines == [5]
    assert "weight ... reverse" in str(error)


def test_keepalived_two_tracked_scripts_are_refused():
    scripts = "vrrp_script a {\n    script /bin/true\n}\nvrrp_script b {\n    script /bin/true\n}\n"
    text = scripts + KEEPALIVED.replace(
        "priority 200", "track_script {\n        a\n        b\n    }"
    )
    error = error_of(keepalived_config, text)
    assert error.lines == [12]
    assert "one health check per group" in str(error)


# Detection


def test_undetectable_kind():
    with pytest.raises(NativeParseError) as caught:
        detect_kind("\n\nhello world\n")
    assert caught.value.lines == [3]
    with pytest.raises(NativeParseError) as caught:
        parse_native("# only a comment\n", source="empty.txt")
    assert str(caught.value) == "empty.txt: the configuration is empty"
    with pytest.raises(ValueError, match="unknown configuration kind"):
        parse_native("set system host-name R1", "junos")
