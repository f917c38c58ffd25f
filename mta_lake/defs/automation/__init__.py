"""What runs on its own: the weekly schedule, the reconciliation sensor, alerts and freshness checks."""
