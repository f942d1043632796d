"""The operators' confirmed categories as training examples (see ``dispatch.routing``)."""

from dispatch.routing import confirmed_examples

__all__ = ["confirmed_examples"]
