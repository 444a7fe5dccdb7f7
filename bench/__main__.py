"""``python -m bench``: measure portalkit's own cost, print the table, write it into
docs/performance.md. ``--quick`` for a smoke run (figures are then rough), ``--no-write``
to only print, ``--profile`` to print where the time of one in-process create goes."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from . import STACK, Settings, run
from ._profile import profile_in_process
from ._report import write_into

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds and small counts")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    parser.add_argument("--output", type=Path, default=DOCS, help="default: %(default)s")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="",
        metavar="VENDOR",
        help="profile in-process creates (one vendor, or all) and exit",
    )
    parser.add_argument(
        "--sandbox-creates",
        type=int,
        metavar="N",
        help="sandbox memory: measure after 10,000 creates and after N (default 100,000)",
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        print(profile_in_process(args.profile or None))
        return 0
    settings = Settings.quick() if args.quick else Settings.full()
    if args.sandbox_creates:
        first = min(settings.sandbox_memory[0], args.sandbox_creates // 2)
        settings = dataclasses.replace(settings, sandbox_memory=(first, args.sandbox_creates))
    load_before = os.getloadavg()
    command = f"{sys.executable} -m bench" + (" --quick" if args.quick else "")
    command = command.removeprefix(str(Path.cwd()) + "/")
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {line}", file=sys.stderr, flush=True)

    result = run(settings, progress=progress)
    progress("done")
    report = result.markdown(command=command, load_before=load_before)
    print(report)
    if not args.no_write:
        write_into(args.output, report, STACK)
        print(f"\nwritten into {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
