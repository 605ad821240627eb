"""Installed as the package `hall_config` (setup.cfg package_dir): the example
and default configs, read through hallcore.packagedata."""
