"""Software-defined assets, one module per layer of the lake."""
