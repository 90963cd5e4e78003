"""Address types shared by the model and the protocol cores (defined with the model)."""

from routerha.model.ip import IPAddress, IPInterface

__all__ = ["IPAddress", "IPInterface"]
