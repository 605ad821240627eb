"""hall-queue-sim (placeholder until the ticket-source issue lands)."""
import sys

from kiosk.cli import main as _help


def main(argv=None) -> int:
    return _help(argv)


if __name__ == "__main__":
    sys.exit(main())
