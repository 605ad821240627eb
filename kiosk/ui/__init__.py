"""The kiosk's Kivy screens. Kivy must not parse the kiosk's own command
line (hall-kiosk --config ...), so this is set before anything imports it."""
import os

os.environ.setdefault("KIVY_NO_ARGS", "1")
