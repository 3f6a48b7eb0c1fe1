"""Evaluate a patient's timeline and upsert alerts (filled in with the detection engine)."""
