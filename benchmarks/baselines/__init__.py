"""Re-creations of the pipelines mta_lake replaces, for side-by-side benchmarks."""
