"""Store-and-forward on the tablet: the durable outbox and everything that
leaves the tablet for the center."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("hall-evaluation-terminal")
except PackageNotFoundError:   # running from a source tree that is not installed
    __version__ = "0+unknown"
