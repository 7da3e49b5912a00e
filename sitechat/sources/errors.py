"""File source and re-sync errors with stable problem types."""

from __future__ import annotations

from collections.abc import Iterable

from sitechat.core.errors import Conflict, PaymentRequired, ProblemError, UnprocessableEntity


class FileTooLarge(ProblemError):
    status = 413
    slug = "file-too-large"
    title = "File too large"

    def __init__(self, size: int, limit: int, plan_id: str) -> None:
        super().__init__(
            f"The file has {size} bytes; the plan allows files of at most {limit} bytes.",
            extra={"file_bytes": size, "limit": limit, "plan_id": plan_id},
        )


class UnsupportedFileType(ProblemError):
    status = 415
    slug = "unsupported-file-type"
    title = "Unsupported file type"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"{why} Send a PDF, DOCX, HTML, Markdown or plain-text file.",
            extra={"accepted": ["pdf", "docx", "html", "markdown", "text"]},
        )


class MissingFile(UnprocessableEntity):
    slug = "missing-file"

    def __init__(self) -> None:
        super().__init__("Send the file as the `file` part of a multipart/form-data body.")


class NotAFileSource(Conflict):
    slug = "not-a-file-source"

    def __init__(self) -> None:
        super().__init__("Only a file source takes a new file.")


class NotSyncable(UnprocessableEntity):
    slug = "not-syncable"

    def __init__(self) -> None:
        super().__init__(
            "Only website sources and files fetched from a URL re-sync. A text source's title "
            "and content and a Q&A source's question and answer are changed with PATCH; an "
            "uploaded file is replaced with PUT .../file."
        )


class NotEditable(UnprocessableEntity):
    slug = "not-editable"

    def __init__(self, kind: str, fields: Iterable[str]) -> None:
        super().__init__(
            f"A {kind} source has no {', '.join(sorted(fields))} to change: a text source "
            "takes title and content, a Q&A source question and answer."
        )


class ScheduleNotInPlan(PaymentRequired):
    slug = "schedule-not-in-plan"
    title = "Schedule not in plan"

    def __init__(self, schedule: str, plan_id: str, upgrade_plan_id: str | None) -> None:
        super().__init__(
            f"The plan does not allow a {schedule} re-sync.",
            extra={"plan_id": plan_id, "upgrade_plan_id": upgrade_plan_id},
        )


class SyncInProgress(Conflict):
    slug = "sync-in-progress"

    def __init__(self) -> None:
        super().__init__("This source is already being synced; wait for that run to end.")
