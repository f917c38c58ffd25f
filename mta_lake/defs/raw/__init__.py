"""The raw layer: ``raw_turnstile``, each week's file byte for byte in the lake."""
