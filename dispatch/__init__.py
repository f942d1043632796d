"""Cases: registration, routing, dispatch to units, deadlines, supervision and feedback."""

# The case table refers to units: both mappings must be known whenever either is used.
from dispatch import handling_models as handling_models
from dispatch import models as models
