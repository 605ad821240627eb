"""The kiosk's Kivy screens. Kivy must not parse the kiosk's own command
line (hall-kiosk --config ...), so this is set before anything imports it."""
import os

from hallcore.packagedata import shipped

os.environ.setdefault("KIVY_NO_ARGS", "1")

# The screens' layout rules; here, not in app.py, so `hall-kiosk --check` can
# find them without importing Kivy's app machinery.
KV_FILE = shipped(__name__, "kiosk.kv")
