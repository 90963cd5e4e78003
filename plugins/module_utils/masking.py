# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""An AnsibleModule that masks the passwords inside a configuration it is given.

They sit inside a configuration and are known only once it is read: no_log on the
option would mask every string of it ("eth0" throughout the result), so mask()
adds exactly the passwords read to no_log_values. Until it is called, a failure
(an argument of the wrong type, say) masks conservatively (``conservative``); and
the line AnsibleModule logs to syslog with every argument, at its start, waits
for mask() too. pair_check and routerhad_config use it; secret_token and mask_config_passwords are how
the collection shows a password in a diff or result.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from .model.tokens import keyed_digest


def secret_token(value, key):
    """A password shown as ``<secret HMAC>`` under ``key``: with one key per run, a
    changed password shows as a changed token and an unchanged one as the same."""
    return f"<secret {keyed_digest(key, str(value), 12)}>"


def mask_config_passwords(data, key):
    """Replace, in place, every password (``authentication.password`` and ``accept``)
    and every conntrack sync key (``conntrack_sync.authentication.key`` and each
    ``accept[].key``) of a configuration's plain data with its token; data of any
    other shape is left as it is."""
    groups = ((data.get("vrrp") or {}).get("groups") or {}) if isinstance(data, dict) else {}
    for group in groups.values() if isinstance(groups, dict) else ():
        auth = group.get("authentication") if isinstance(group, dict) else None
        if isinstance(auth, dict):
            if "password" in auth:
                auth["password"] = secret_token(auth["password"], key)
            if isinstance(auth.get("accept"), list):
                auth["accept"] = [secret_token(p, key) for p in auth["accept"]]
    sync = data.get("conntrack_sync") if isinstance(data, dict) else None
    auth = sync.get("authentication") if isinstance(sync, dict) else None
    if isinstance(auth, dict):
        if "key" in auth:
            auth["key"] = secret_token(auth["key"], key)
        for item in auth.get("accept") if isinstance(auth.get("accept"), list) else ():
            if isinstance(item, dict) and "key" in item:
                item["key"] = secret_token(item["key"], key)
    return data


class MaskingModule(AnsibleModule):
    _masked = False
    _invocation_pending = False

    def __init__(self, *args, conservative, **kwargs):
        """``conservative(params)``: what to mask if the module fails before mask()."""
        self._conservative = conservative
        super().__init__(*args, **kwargs)

    def _log_invocation(self):
        self._invocation_pending = True

    def mask(self, secrets):
        self.no_log_values.update(secrets)
        self._masked = True
        if self._invocation_pending:
            self._invocation_pending = False
            super()._log_invocation()

    def fail_json(self, msg, **kwargs):
        if not self._masked:
            self.no_log_values.update(self._conservative(getattr(self, "params", None) or {}))
            self._masked = True
        super().fail_json(msg, **kwargs)
