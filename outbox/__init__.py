"""The tablet's durable outbox, shared by the kiosk (which puts records) and
the agent (which sends and acknowledges them): DESIGN.md section 5.

Its one I/O seam is the folder it is given; `store.Outbox` is the whole
interface the other parts use.
"""
from .store import Outbox, OutboxError

__all__ = ["Outbox", "OutboxError"]
