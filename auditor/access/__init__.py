"""Offline AWS IAM policy evaluation: who may do what on which resource, and under which keys."""

from auditor.access.conditions import ConditionError
from auditor.access.evaluate import (
    Decision,
    Evaluation,
    PolicyDocumentError,
    PolicySet,
    Request,
    evaluate,
)

__all__ = [
    "ConditionError",
    "Decision",
    "Evaluation",
    "PolicyDocumentError",
    "PolicySet",
    "Request",
    "evaluate",
]
