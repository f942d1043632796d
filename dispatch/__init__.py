"""Cases after the call: registration, routing, dispatch to units, deadlines, supervision, feedback.

Sub-packages, in the order a case meets them (each may use the ones before it only):
``cases`` (the case record, its lifecycle and the registration form), ``deadlines``,
``knowledge``, ``routing``, ``intake``, ``handling``, ``feedback``.
"""
