"""Enqueueing background work from the domain, after commit, without losing it.

The domain never imports notifications (layering): tasks are sent by name. A broker
outage at commit time must not fail the patient's write: we log and carry on, because the
evaluation sweep re-evaluates every patient whose `changed_at` is newer than `evaluated_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from tracker.models import Patient

logger = logging.getLogger(__name__)

EVALUATE_TASK = "notifications.evaluation.patient_evaluate_task"

_batch: ContextVar[set[int] | None] = ContextVar("changed_patients_batch", default=None)


def send_task_on_commit(name: str, **kwargs: Any) -> None:
    """Publish a task by name once the current transaction commits; never raise."""

    def publish() -> None:
        from config.celery import app

        try:
            app.send_task(name, kwargs=kwargs)
        except Exception as exc:
            logger.warning(
                "could not enqueue %s (%s); the sweep will catch up", name, type(exc).__name__
            )

    transaction.on_commit(publish)


def patient_changed(patient_id: int) -> None:
    """Mark the patient's data as changed and enqueue their evaluation after commit.

    Must run inside the transaction of the write, so that the mark and the data commit
    together: the sweep relies on `changed_at` to find evaluations a broker outage lost.
    """
    pending = _batch.get()
    if pending is not None:
        pending.add(patient_id)
        return
    Patient.objects.filter(pk=patient_id).update(changed_at=Now(), change_seq=F("change_seq") + 1)
    send_task_on_commit(EVALUATE_TASK, patient_id=patient_id)


def clinic_patients_changed(clinic_id: int) -> int:
    """Mark every patient of the clinic as changed, without enqueueing one task each.

    For a change that alters what the rules conclude from unchanged data (the clinic's
    thresholds): the catch-up sweep re-evaluates them all, in batches, within a minute or two.
    """
    return Patient.objects.filter(clinic_id=clinic_id).update(
        changed_at=Now(), change_seq=F("change_seq") + 1
    )


@contextmanager
def patients_changed_once() -> Iterator[None]:
    """Collapse the marks and evaluations of a batch of writes into one per patient.

    Use inside the batch's transaction: the marks are written when the block ends.
    """
    token = _batch.set(set())
    try:
        yield
        pending = _batch.get() or set()
    finally:
        _batch.reset(token)
    for patient_id in sorted(pending):
        patient_changed(patient_id)
