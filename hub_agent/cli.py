"""`hub-agent`: the command line (CONTRACT section 2).

Each subcommand lives in its own module under `hub_agent.commands` with `HELP`, `add_arguments(parser)`
and `main(args) -> int`; this file only dispatches. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or
bad config. User errors are one line on stderr, never a traceback, unless `--debug`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from types import ModuleType

from hub_agent import __version__
from hub_core.errors import ConfigError, HubError

#: subcommand -> module under hub_agent.commands (imported only when that command runs or lists help)
COMMANDS: dict[str, str] = {
    "run": "run",
    "demo": "demo",
    "check-config": "check_config",
    "info": "info",
    "token": "token",
    "pair": "pair",
    "provision": "provision",
    "relay": "relay",
    "update": "update",
    "zigbee": "zigbee_tool",
}

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
#: Commands that run the agent; they end through `exit_despite_stuck_threads`.
LONG_RUNNING = frozenset({"run", "demo", "relay"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"hub_agent.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"hub_agent.commands.{module}":
            return None  # that command is not part of this build
        raise


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if any (the first word that is one)."""
    return next((word for word in argv if word in COMMANDS), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; only the chosen subcommand's module is imported (start-up and memory).

    `hub-agent run` must not pay for the demo's or the relay's imports: on a 1 GB hub every
    megabyte of RSS counts. With no subcommand (e.g. `--help`), every module is loaded for its help.
    """
    chosen = _chosen(argv)
    parser = _Parser(prog="hub-agent", description="The smart-home hub agent.")
    parser.add_argument("--version", action="version", version=f"hub-agent {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name)
            continue
        module = _load(module_name)
        if module is None:
            continue
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        module.add_arguments(command)
        command.set_defaults(_main=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    return _run(args)


def console_main() -> int:
    """The `hub-agent` console script and `python -m hub_agent`: `main()`, then the process ends.

    Only here, never when `main()` is called as a library (the tests call it in their own process),
    may a long-running command end the process past threads a library left behind.
    """
    argv = sys.argv[1:]
    code = main(argv)
    if _chosen(argv) in LONG_RUNNING:
        exit_despite_stuck_threads(code)
    return code


def exit_despite_stuck_threads(code: int, grace: float = 2.0) -> None:
    """End the process now with `code` if a library thread would keep it alive after the agent stopped.

    A part abandoned at shutdown (it did not stop in its share of the 5 s) can leave a non-daemon
    thread behind (e.g. a database worker waiting for a close that never comes); the interpreter would
    then wait for it for ever, and systemd or the user would have to kill the process. Our own store is
    closed by then, so after `grace` seconds the remaining threads are left to the operating system.
    """
    deadline = time.monotonic() + grace
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for thread in stuck:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in stuck if t.is_alive()]
    if not stuck:
        return
    names = ", ".join(sorted(t.name for t in stuck))
    print(f"hub-agent: exiting with {len(stuck)} thread(s) still running ({names})", file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args._main(args)
        return code
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except HubError as exc:
        if args.debug:
            raise
        print(f"hub-agent: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"hub-agent: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(console_main())
