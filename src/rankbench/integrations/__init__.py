"""Framework integrations. Each module imports its framework; ``import rankbench`` imports none."""
