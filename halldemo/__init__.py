"""Demo and development wiring: `python -m halldemo` (the README's `make demo`)
runs the whole chain on one machine. Nothing in kiosk/, agent/ or center/
imports this package; the demo's credentials live here, not in the product."""
