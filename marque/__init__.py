"""marque: direct-to-consumer sales and after-sales for an electric-vehicle maker."""

__version__ = "0.1.0"
