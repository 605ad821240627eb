"""Shared by kiosk, agent and center: the record schema, the working-day
calendar, atomic file writes. Imported, never copied."""
__version__ = "0.1.0"
# Moved with __version__ at each release, to the release day or earlier: a
# device clock before it is plainly wrong (hallcore.timebounds.clock_problem).
# Erring early only weakens the check; a day in the future would stop every
# kiosk. A constant, not the files' mtime: an install made while the clock
# was wrong would stamp the wrong time on the files.
RELEASE_DATE = "2026-11-01"     # 0.1.0, November 2026
