"""`python -m meeting_server` and the `meeting-server` script: eventlet first, then the command line."""

import sys
import warnings

# Eventlet announces its maintenance mode on import; the server says once in docs/ARCHITECTURE.md why it runs on it.
warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated", category=Warning)

if "serve" in sys.argv[1:2]:
    import eventlet

    # Patch before anything imports socket, threading or time: every page turn and ballot shares this loop.
    # Only the server needs it; the other commands (verify-log, backup, links) start faster without.
    eventlet.monkey_patch()

from meeting_server.cli import main  # noqa: E402


def run() -> None:
    """Console-script entry point."""
    main()


if __name__ == "__main__":
    main()
