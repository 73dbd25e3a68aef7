"""`python -m meeting_server` and the `meeting-server` script: eventlet first, then the command line."""

import eventlet

# Patch before anything imports socket, threading or time: every page turn and ballot shares this loop.
eventlet.monkey_patch()

from meeting_server.cli import main  # noqa: E402


def run() -> None:
    """Console-script entry point."""
    main()


if __name__ == "__main__":
    main()
