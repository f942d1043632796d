"""The registration's other page doors: correcting a saved registration (更正登记) from the
case page, and the addresses a form posts to answered for GET too, so that someone sent to
log in again while saving comes back to the form (where the typed draft is restored) rather
than to an error."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CaseWorker
from api.deps import SettingsDep, WriterDep, now
from api.pages import case_page_response, form_values, see, zh_errors
from core.ids import is_id
from dispatch.cases.lifecycle import IllegalTransition
from dispatch.cases.registration import Invalid
from dispatch.handling import case_steps
from dispatch.intake import case_store, correction

router = APIRouter(include_in_schema=False)


@router.get("/calls/{call_id}/register")
def back_to_call(call_id: str, _login: CaseWorker) -> RedirectResponse:
    """A registration's address opened (after logging in again): the call's page."""
    if not is_id(call_id):
        raise HTTPException(status_code=404, detail="call not found")
    return see(f"/calls/{call_id}")


@router.get("/cases/{case_id}/correction")
def back_to_case(case_id: str, _login: CaseWorker) -> RedirectResponse:
    """A correction's address opened (after logging in again): the case's correction form."""
    if not is_id(case_id):
        raise HTTPException(status_code=404, detail="case not found")
    return see(f"/cases/{case_id}?correct=1#correction")


@router.post("/cases/{case_id}/correction", response_class=HTMLResponse)
async def correct_case(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    """更正登记, as ``PATCH /api/cases/{case}``: every field of the form is sent (an unticked
    box is a "no"); a refused correction comes back open, as typed, with its errors."""
    form = form_values(await request.form())
    given = {name: form.get(name, "") for name in correction.FIELDS}
    zone = ZoneInfo(settings.timezone)

    def change() -> None:
        case_steps.run(
            sessions,
            case_id,
            lambda s, c: correction.correct(
                s, c, given, form.get("correction_reason", ""), login.username, now(), zone
            ),
        )

    try:
        await run_in_threadpool(change)
    except Invalid as exc:
        errors, status = zh_errors(exc), 422
    except IllegalTransition as exc:
        errors, status = {"correction_reason": exc.message_zh}, 409
    except case_store.NotFound:
        raise HTTPException(status_code=404, detail="case not found") from None
    else:
        return see(f"/cases/{case_id}?corrected=1")
    with sessions() as session:
        return case_page_response(
            request,
            session,
            settings,
            login,
            case_id,
            extra={"correction_values": form, "correction_errors": errors},
            status_code=status,
        )
