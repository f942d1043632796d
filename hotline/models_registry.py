"""Imports every package's models so that the metadata is complete (for migrations)."""

from accounts import issued_secrets, lockout
from accounts import models as account_models
from asr import live_models
from asr import models as asr_models
from asr import recognisers as recogniser_models
from core.db import Base
from custody import models as custody_models
from dispatch.cases import handling_models, survey_models
from dispatch.cases import models as dispatch_models
from dispatch.feedback import operator_dial_models
from dispatch.handling import job_runs
from dispatch.reports import bulletin_models, window_explanation_models
from ivr import models as ivr_models
from ivr import node_models
from recordings import models as recording_models
from recordings import offload_models

metadata = Base.metadata

__all__ = [
    "account_models",
    "asr_models",
    "bulletin_models",
    "custody_models",
    "dispatch_models",
    "handling_models",
    "issued_secrets",
    "ivr_models",
    "job_runs",
    "live_models",
    "lockout",
    "metadata",
    "node_models",
    "offload_models",
    "operator_dial_models",
    "recogniser_models",
    "recording_models",
    "survey_models",
    "window_explanation_models",
]
