"""The case record: its rows, its lifecycle, its number and the registration form."""

# The case table refers to units: both mappings must be known whenever either is used.
from dispatch.cases import handling_models as handling_models
from dispatch.cases import models as models
