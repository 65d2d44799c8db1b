"""The synthetic sample portfolio (``relief-kit sample``): customers, bills and written requests."""
