"""All tables, one module per area; importing this package registers them on ``metadata``."""

from marque.adapters.db.metadata import metadata
from marque.adapters.db.tables import auth, catalog, launch, orders, sandbox_payments

__all__ = ["auth", "catalog", "launch", "metadata", "orders", "sandbox_payments"]
