"""routerhactl [--control PATH] status [--json] | reload [--json] | conntrack WHAT [--json]."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from routerha.ctl.client import DEFAULT_CONTROL, request


def _age(seconds: float) -> str:
    """VyOS style: 5m27s, 2h3m4s, 1d2h."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def status_table(status: dict[str, Any], now: float | None = None) -> str:
    """The table VyOS users know from ``show vrrp``."""
    now = time.time() if now is None else now
    header = (
        "Interface",
        "Group",
        "State",
        "RFC Compliant",
        "Addr Owner",
        "Last Transition",
        "Sync Group",
    )
    rows = [header]
    for g in status["groups"]:
        rows.append(
            (
                g["interface"],
                str(g["vrid"]),
                g["state"],
                "yes" if g["rfc3768_compatibility"] else "no",
                "yes" if g["address_owner"] else "no",
                _age(now - g["last_transition"]),
                g["sync_group"] or "<none>",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested counters as dotted keys: ``authentication.drops.bad_mac: 3``."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def conntrack_text(answer: dict[str, Any]) -> str:
    """Caches as VyOS ``show conntrack-sync`` lists them; counters as key: value."""
    if "stats" in answer:
        return "\n".join(f"{k}: {v}" for k, v in _flat(answer["stats"]))
    rows = [("Proto", "Source", "Destination", "Reply (NAT)", "TCP state", "Mark", "Zone")]
    for e in answer["entries"]:
        reply = (
            f"{e['reply_src']}:{e['reply_sport']} > {e['reply_dst']}:{e['reply_dport']}"
            if e["nat"]
            else "-"
        )
        rows.append(
            (
                e["protocol"], f"{e['src']}:{e['sport']}", f"{e['dst']}:{e['dport']}", reply,
                str(e["tcp_state"] if e["tcp_state"] is not None else "-"), str(e["mark"]), str(e["zone"]),
            )
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="routerhactl", description="control routerhad")
    parser.add_argument(
        "--control", default=DEFAULT_CONTROL, help=f"control socket (default {DEFAULT_CONTROL})"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="state of every group")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    reload = commands.add_parser(
        "reload", help="apply the changed config file; unchanged groups keep their state"
    )
    reload.add_argument("--json", action="store_true", help="machine-readable output")
    conntrack = commands.add_parser("conntrack", help="conntrack sync: caches and counters")
    conntrack.add_argument("what", choices=["internal-cache", "external-cache", "stats"])
    conntrack.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        extra = {"what": args.what} if args.command == "conntrack" else {}
        answer = request(args.control, args.command, **extra)
    except OSError as error:
        print(f"routerhactl: cannot reach routerhad at {args.control}: {error}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"routerhactl: {answer['error']}", file=sys.stderr)
        return 1
    if args.command == "conntrack":
        print(json.dumps(answer, indent=2) if args.json else conntrack_text(answer))
    elif args.command == "reload":
        done = answer["reloaded"]
        if args.json:
            print(json.dumps(done, indent=2))
        else:
            print("reloaded: " + "; ".join(f"{k} {', '.join(v) or '-'}" for k, v in done.items()))
    else:
        print(json.dumps(answer, indent=2) if args.json else status_table(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
