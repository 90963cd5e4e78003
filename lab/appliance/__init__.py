"""The router appliance stand-in of the tests and labs (VyOS / Vyatta / EdgeOS), and the
CLI schema (vyatta_schema) its configuration commands are checked against.

Not VyOS or EdgeOS: a Debian container laid out like them, for testing the roles that
deploy to them (lab/containers.py, ``appliance:`` in lab/topologies/appliance.yml).

* ``layout.py``: run inside a booted lab container, makes it a ``vyos-1.4`` or
  ``edgeos-2`` look-alike (os-release and version files, /config, the boot hooks and a
  stand-in boot unit, the fakes below at /opt/vyatta, group vyattacfg; on edgeos-2 a
  python3 that says 3.5 and runs nothing).
* ``fake_wrapper.py``: ``vyatta-cfg-cmd-wrapper`` (sessions, set/delete checked with
  the schema, commit, commit-confirm/confirm, save to config.boot), keeping the
  configuration in files and logging every call; nothing is applied to the system.
* ``fake_op.py``: ``vyatta-op-cmd-wrapper`` (``show configuration [commands]``,
  ``show version``).
* ``vyatta_schema.py`` and ``schema/``: the CLI schema data and its checker.

Standard library only: the fakes and the schema run on the container's own Python.
"""
