"""SDK conformance suite: official cloud SDKs against a real `weir serve` (see harness.py, run.sh)."""
