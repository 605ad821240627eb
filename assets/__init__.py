"""Installed as the package `hall_assets` (setup.cfg package_dir): the kiosk's
font and voice prompts, read through hallcore.packagedata."""
