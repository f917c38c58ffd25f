"""The clean layer: ``turnstile_readings``, every reading of every week in one typed Parquet table."""
