"""Tests of the plain-Python core (no Dagster)."""
