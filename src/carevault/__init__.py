"""carevault: a HIPAA-grade healthcare data platform for Python."""

from carevault.errors import CarevaultError

__version__ = "0.1.0"
__all__ = ["CarevaultError", "__version__"]
