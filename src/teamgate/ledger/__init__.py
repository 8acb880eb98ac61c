"""The usage ledger and key store: records, the Store protocol, backends, the writer."""

from teamgate.ledger.open import open_store

__all__ = ["open_store"]
