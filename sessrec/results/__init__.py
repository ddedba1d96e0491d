"""Run records and the study store."""

from sessrec.results.store import REQUIRED_KEYS, CaseTable, StoreContents, StudyStore

__all__ = ["REQUIRED_KEYS", "CaseTable", "StoreContents", "StudyStore"]
