"""``GET /api/diag/sensor``: the sensor as the running daemon's sensor worker sees it.

The lead includes this router in ``station.api.create_app``::

    from station.diag.api import router as diag_router
    app.include_router(diag_router)

The answer holds the worker's ``status()`` (state, message, baud rate, packet size, counters) and,
when the worker is free within a few seconds, the module's description (``describe()``: capacity,
security level, templates stored). No personal data. A capture in progress keeps the worker busy:
then ``module`` is null and ``module_error`` says why.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from fastapi import APIRouter, Request

DESCRIBE_TIMEOUT_S = 3.0

router = APIRouter(prefix="/api/diag")


def sensor_worker(request: Request) -> Any:
    """The daemon's ``SensorWorker`` (through the workflow the services hold)."""
    services = request.app.state.services
    return getattr(services.workflow, "sensor", None)


@router.get("/sensor")
def diag_sensor(request: Request) -> dict[str, Any]:
    worker = sensor_worker(request)
    if worker is None:
        return {"status": {"state": "unknown", "message": "no sensor worker"}, "module": None}
    status = worker.status()
    answer: dict[str, Any] = {"status": status, "module": None}
    if status.get("state") not in ("ready", "busy"):
        answer["module_error"] = f"the sensor is {status.get('state')}"
        return answer
    job = worker.describe()
    try:
        answer["module"] = job.result(timeout=DESCRIBE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        job.cancel()
        answer["module_error"] = "the sensor worker is busy (a capture is in progress); ask again later"
    except Exception as exc:  # the worker's own failure, reported rather than raised
        answer["module_error"] = f"{type(exc).__name__}: {exc}"
    return answer
