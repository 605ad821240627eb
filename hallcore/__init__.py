"""Shared by kiosk, agent and center: the record schema, the working-day
calendar, atomic file writes. Imported, never copied."""
__version__ = "0.1.0"
