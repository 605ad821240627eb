"""Argument types shared by the hall-center subcommands (center/cli.py and
its *cli.py modules): one spelling of each, one error text."""
from __future__ import annotations

import argparse
from datetime import date


def day(value: str) -> date:
    """A hall day given as YYYY-MM-DD (argparse type)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


__all__ = ["day"]
