"""``Demand``: what an admitted request holds against the limits and the budgets."""

from __future__ import annotations

from dataclasses import dataclass

from teamgate.pricing.prices import PriceTable


@dataclass(frozen=True, slots=True)
class Demand:
    """What an admitted request holds: ``tokens`` against TPM/TPD (prompt bound plus
    the cap; 0 for none), ``audio_seconds`` against ASH/ASD, ``worst_case_pusd``
    against the budgets. ``fit_field`` names the request's output cap (e.g.
    ``max_completion_tokens``): a budget refusal then says the largest value of it
    that fits now, from ``prompt_bound``."""

    model: str
    tokens: int
    worst_case_pusd: int
    audio_seconds: int = 0
    prompt_bound: int = 0
    fit_field: str | None = None

    @classmethod
    def for_tokens(
        cls, prices: PriceTable, model: str, prompt_bound: int, cap: int, fit_field: str
    ) -> Demand:
        """A token-priced request's demand: prompt bound plus cap against TPM/TPD, its
        worst-case cost against the budgets, ``fit_field`` its output cap's name."""
        return cls(
            model,
            prompt_bound + cap,
            prices.worst_case(model, prompt_bound, cap),
            prompt_bound=prompt_bound,
            fit_field=fit_field,
        )
