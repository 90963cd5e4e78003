"""The cluster_configs filter at its boundary: before ansible-core 2.19, templated role
variables (``"{{ routerha_priority_base | default(200) }}"``) reach a filter as strings,
so the filter types the cluster's numbers and flags itself and names the inventory
variable when one is not what it must be."""

from __future__ import annotations

import pytest

GROUPS = {"LAN": {"segment": "lan", "vrid": 10, "address": ["10.1.1.254/24"]}}
HOSTVARS = {
    "r1": {"routerha_addresses": {"lan": ["10.1.1.1/24"]}, "routerha_preference": "1"},
    "r2": {"routerha_addresses": {"lan": ["10.1.1.2/24"]}},
}


def settings(**overrides):
    # As ansible-core 2.17 and 2.18 hand them over: every templated scalar a string.
    return {
        "segments": {"lan": "eth1"},
        "groups": GROUPS,
        "strategy": "symmetric",
        "priority_base": "200",
        "priority_step": "50",
        "preempt": "False",
        "preempt_delay": "0",
        **overrides,
    }


@pytest.fixture
def cluster_configs(collection_module):
    return collection_module("filter.cluster_configs").cluster_configs


def test_string_typed_settings_plan_as_their_values(cluster_configs):
    result = cluster_configs(settings(), HOSTVARS, ["r1", "r2"])
    lan = {h: c["vrrp"]["groups"]["LAN"] for h, c in result["configs"].items()}
    assert (lan["r1"]["priority"], lan["r2"]["priority"]) == (200, 150)
    # "False" is false: a cast with bool() would have made it true.
    assert lan["r1"]["preempt"] is False
    assert result["preference"] == ["r1", "r2"]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (
            {"priority_base": "two hundred"},
            "routerha_priority_base: must be a whole number, not 'two hundred'",
        ),
        ({"priority_step": "5.5"}, "routerha_priority_step: must be a whole number"),
        ({"preempt": "maybe"}, "routerha_preempt: must be true or false, not 'maybe'"),
        ({"priority_base": "300"}, "routerha_priority_base"),
    ],
)
def test_bad_settings_name_the_inventory_variable(cluster_configs, override, named):
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError) as raised:
        cluster_configs(settings(**override), HOSTVARS, ["r1", "r2"])
    assert named in str(raised.value)
    assert "routerha_base" not in str(raised.value)


def test_a_bad_preference_names_the_host_variable(cluster_configs):
    from ansible.errors import AnsibleFilterError

    hostvars = {**HOSTVARS, "r2": {**HOSTVARS["r2"], "routerha_preference": "first"}}
    with pytest.raises(AnsibleFilterError, match="r2: routerha_preference: must be a whole number"):
        cluster_configs(settings(), hostvars, ["r1", "r2"])
