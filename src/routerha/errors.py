"""The exception types routerha raises on purpose (defined with the data model,
which the collection's module_utils share and which must stand on its own)."""

from routerha.model.errors import ConfigError, RouterhaError

__all__ = ["ConfigError", "RouterhaError"]
