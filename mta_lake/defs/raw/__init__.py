"""The raw layer: ``raw_turnstile`` (each week's file in the lake) and the job the schedule runs."""
