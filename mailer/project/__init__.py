"""The project as a whole: ``mailer init`` (the starter), ``mailer check`` and ``mailer status``.

Front door of the project package; it sits above the domain packages, whose parts it combines.
"""

from mailer.project.check import CheckReport, run_check
from mailer.project.starter import StarterResult, write_starter
from mailer.project.status import (
    PROBLEMS_SHOWN,
    Status,
    collect_status,
    project_status,
    status_json,
)

__all__ = [
    "PROBLEMS_SHOWN",
    "CheckReport",
    "StarterResult",
    "Status",
    "collect_status",
    "project_status",
    "run_check",
    "status_json",
    "write_starter",
]
