"""derive check: find the chains of equalities in a document and check every link."""
from .checker import Bounds, check, check_file, read_document
from .claims import CheckReport, Claim

__all__ = ["Bounds", "check", "check_file", "read_document", "Claim", "CheckReport"]
