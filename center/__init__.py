"""The county service center's server: ingest, bad-review cases, statistics."""
