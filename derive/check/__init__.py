"""derive check: find the chains of equalities in a document and check every link."""
from .checker import check, check_file
from .claims import CheckReport, Claim

__all__ = ["check", "check_file", "Claim", "CheckReport"]
