"""relief-kit: case-by-case relief for customers who cannot pay their internet bill."""

__version__ = "0.1.0"
