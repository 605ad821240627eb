"""The citizen-facing evaluation app on the hall tablet."""
