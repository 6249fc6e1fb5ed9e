"""derive check: find the chains of equalities in a document and check every link."""
from .checker import Claim, CheckReport, check, check_file

__all__ = ["check", "check_file", "Claim", "CheckReport"]
