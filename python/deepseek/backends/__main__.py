"""``python -m deepseek.backends``: every installed backend, its status, and for available
ones its native coverage of the core's primitive ops, naming the missing ones."""
from __future__ import annotations

import argparse
import sys
import textwrap

from . import PRIMITIVE_OP_NAMES, available, get_backend


def report() -> str:
    """The coverage report as text."""
    lines = []
    for name, status in available().items():
        lines.append(f"{name}: {status}")
        if name == "cpu":
            lines.append(f"  native: {len(PRIMITIVE_OP_NAMES)}/{len(PRIMITIVE_OP_NAMES)} primitive ops")
            continue
        if not status.startswith("available"):
            continue
        try:
            backend = get_backend(name)
        except RuntimeError as exc:
            lines.append(f"  load failed: {exc}")
            continue
        native, missing = backend.coverage()
        lines.append(f"  devices: {backend.device_count()}")
        lines.append(f"  native: {len(native)}/{len(PRIMITIVE_OP_NAMES)} primitive ops"
                     + (": " + ", ".join(native) if native else ""))
        if missing:
            lines.append(textwrap.fill("missing: " + ", ".join(missing), width=100,
                                       initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)


def main(argv=None) -> int:
    """Entry point of ``python -m deepseek.backends``: prints the report; ``--help`` says
    what it does, an unknown argument exits with status 2."""
    parser = argparse.ArgumentParser(
        prog="python -m deepseek.backends",
        description="List every installed deepseek backend and its status; for each available one, "
                    "its device count and which of the core's primitive ops it runs natively "
                    "(the missing ones fall back to the CPU).",
    )
    parser.parse_args(argv)
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
