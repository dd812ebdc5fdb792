"""govaudit: audit government clouds for data sovereignty and responsibility."""

__version__ = "0.1.0"
