"""`make demo` entry point (placeholder until the kiosk issue lands)."""
import sys

if __name__ == "__main__":
    print("make demo: the kiosk is not built yet (see the kiosk issue); nothing to run.")
    sys.exit(0)
