"""The knowledge base over JSON: operators search it, supervisors edit it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import CaseWorker, KnowledgeEditor
from api.case_schemas import KnowledgeHit, KnowledgeIn, KnowledgePublic
from api.deps import SessionDep, WriterDep, now
from core.db import transaction
from dispatch.cases.models import KnowledgeEntry
from dispatch.knowledge import entries

router = APIRouter(tags=["knowledge"])


@router.get("/api/knowledge", response_model=list[KnowledgeHit])
def search(
    session: SessionDep,
    _login: CaseWorker,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[KnowledgeHit]:
    """Entries matching ``q`` in any wording that shares its key phrases (character
    bigrams over question, keywords and answer), best first."""
    return [
        KnowledgeHit(entry=KnowledgePublic.model_validate(hit.entry), score=hit.score)
        for hit in entries.search(session, q, limit)
    ]


@router.post("/api/knowledge", response_model=KnowledgePublic, status_code=201)
def create(body: KnowledgeIn, sessions: WriterDep, login: KnowledgeEditor) -> KnowledgePublic:
    with transaction(sessions) as session:
        entry = entries.create(session, body.model_dump(), login.username, now())
        return KnowledgePublic.model_validate(entry)


def entry_or_404(session: SessionDep, entry_id: str) -> KnowledgeEntry:
    """An entry by id, active or retired (404 if none)."""
    entry = entries.find(session, entry_id)
    if entry is None:
        raise HTTPException(status_code=404, detail="knowledge entry not found")
    return entry


@router.put("/api/knowledge/{entry_id}", response_model=KnowledgePublic)
def update(
    entry_id: str, body: KnowledgeIn, sessions: WriterDep, login: KnowledgeEditor
) -> KnowledgePublic:
    with transaction(sessions) as session:
        entry = entries.update(
            session, entry_or_404(session, entry_id), body.model_dump(), login.username, now()
        )
        return KnowledgePublic.model_validate(entry)


@router.delete("/api/knowledge/{entry_id}", status_code=204)
def retire(entry_id: str, sessions: WriterDep, login: KnowledgeEditor) -> None:
    """Retire an entry: it no longer shows in searches; cases answered from it keep it."""
    with transaction(sessions) as session:
        entries.retire(entry_or_404(session, entry_id), login.username, now())
