"""Run records (:mod:`sessrec.results.record`) and the study store (:mod:`sessrec.results.store`)."""

from sessrec.results.record import REQUIRED_KEYS, RecordError, RunRecord
from sessrec.results.store import CaseTable, StoreContents, StudyStore

__all__ = ["REQUIRED_KEYS", "CaseTable", "RecordError", "RunRecord", "StoreContents", "StudyStore"]
