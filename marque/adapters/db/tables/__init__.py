"""All tables, one module per area; importing this package registers them on ``metadata``."""

from marque.adapters.db.metadata import metadata
from marque.adapters.db.tables import auth, catalog, orders, sandbox_payments

__all__ = ["auth", "catalog", "metadata", "orders", "sandbox_payments"]
