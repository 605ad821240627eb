"""hall-kiosk command line (placeholder until its issue lands)."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hall-kiosk", description="hall-kiosk: not built yet; see README.md")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
