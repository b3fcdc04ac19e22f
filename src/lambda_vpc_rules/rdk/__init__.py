"""The rdklib adapter: the rule handlers (`evaluator_for(RULE).handle`), the event checks, JSON logs."""

from .handler import evaluator_for

__all__ = ["evaluator_for"]
