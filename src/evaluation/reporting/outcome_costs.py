"""The costs section of the outcomes report: care costs by placement type and the adjusted
extra cost per avoided breakdown (a mixin of :class:`evaluation.reporting.outcomes.OutcomeReport`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evaluation.errors import BootstrapError, LevelError, ParameterError
from evaluation.measures import costs
from evaluation.models.cost_effect import incremental_cost_effect
from evaluation.reporting.notes import collects
from evaluation.reporting.tables import care_costs_display, cost_effect_display
from evaluation.reporting.text import format_integer, number_ticks, phrase, phrases

__all__ = ["CostSections"]


class CostSections:
    """Cost tables, text and plane of the outcomes report (needs the report's cohort, arms,
    policy and language)."""

    @collects("costs")
    def cost_table(self) -> pd.DataFrame:
        """Care days and costs in the period by placement type (protected: see
        :func:`evaluation.reporting.tables.care_costs_display`)."""
        ep = self.tables["episodes"]
        t = costs.care_costs(ep, self.period_start, self.period_end,
                             group_cols=["placement_type"])
        per = costs.care_costs(ep, self.period_start, self.period_end,
                               group_cols=["placement_type", "episode_id"])
        per = per[per["episodes"] > 0]
        ids = self._episode_ids(per)
        kind = per["placement_type"].astype(str)
        t = t.copy()
        types = t["placement_type"].astype(str)
        t["episodes"] = types.map(self.policy.counts(ids, kind)).fillna(0).astype(int)
        t["children"] = types.map(self.policy.counts(
            per["episode_id"].map(self._child_of).astype(str), kind)).fillna(0).astype(int)
        return care_costs_display(t, lang=self.lang, policy=self.policy)

    @collects("costs")
    def cost_effect(self):
        """Adjusted extra cost per avoided breakdown, ``treated`` vs ``control`` (cached).

        Returns None when it cannot be estimated (e.g. arms too small for the bootstrap);
        :meth:`cost_effect_text` then says why.
        """
        if "ice" not in self._cache and not self.effect_allowed():
            self._cache["ice"], self._cache["ice_error"] = None, None
        if "ice" not in self._cache:
            f = self._two_arms()
            f = f[f[f"cost_{self.horizon}d"].notna()]
            try:
                self._cache["ice"] = incremental_cost_effect(
                    f, "placement_type", f"cost_{self.horizon}d", f"unplanned_{self.horizon}d",
                    self.adjustment(), treated=self.treated, control=self.control,
                    cluster_col="child_id", n_bootstrap=self.n_bootstrap, seed=self.seed)
            except ParameterError as exc:
                self._cache["ice"] = None
                self._cache["ice_error"] = exc
        return self._cache["ice"]

    @collects("costs")
    def cost_effect_text(self) -> str:
        """Which quadrant of the cost-effectiveness plane the estimate lies in, in words."""
        res = self.cost_effect()
        if res is None:
            return phrase("outcomes", "sentences", "cost_not_estimable", self.lang,
                          reason=self._cost_error_reason())
        quadrant = phrases("outcomes", "quadrants", self.lang)[res.metadata["quadrant"]]
        return phrase("outcomes", "sentences", "cost_quadrant", self.lang,
                      treated=self.treated, control=self.control, quadrant=quadrant)

    def _cost_error_reason(self) -> str:
        """Why the cost effect could not be estimated, in the report's language.

        The reasons are told apart by the error's class and attributes
        (:class:`~evaluation.errors.BootstrapError`, :class:`~evaluation.errors.LevelError`,
        a too small ``n_bootstrap``), never by its text; any other message is quoted without
        identifiers or small counts.
        """
        exc = self._cache["ice_error"]
        if exc is None:  # withheld by the disclosure policy
            return self.withheld_text()

        def say(key: str, **fields: Any) -> str:
            return phrase("outcomes", "sentences", key, self.lang, **fields)

        if isinstance(exc, BootstrapError):
            return say("cost_bootstrap_failed")
        if isinstance(exc, LevelError):
            return say("cost_arm_missing", treated=self.treated, control=self.control,
                       horizon=self.horizon)
        if exc.parameter == "n_bootstrap" and exc.minimum is not None:
            return say("cost_n_bootstrap", least=exc.minimum, given=repr(exc.value))
        return say("original_text", text=self._quoted(str(exc)))

    @collects("costs")
    def cost_effect_plot(self, ax=None):
        """Cost-effectiveness plane of the bootstrap replicates (None if not estimable)."""
        res = self.cost_effect()
        if res is None:
            return None
        ax = res.plot(ax=ax)
        ax.yaxis.set_major_formatter(lambda y, _: format_integer(y, self.lang))
        ax.set_xlabel(self._axis("avoided_breakdowns"))
        ax.set_ylabel(self._axis("extra_cost"))
        legend = phrases("plots", "legends", self.lang)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, [legend[lab] if lab in ("bootstrap", "estimate") else lab
                            for lab in labels], fontsize="small")
        number_ticks(ax, self.lang, "x")
        return ax

    @collects("costs")
    def cost_effect_table(self) -> pd.DataFrame:
        """The cost-effect summary (display strings: see
        :func:`evaluation.reporting.tables.cost_effect_display`); empty if not estimable."""
        res = self.cost_effect()
        if res is None:
            return pd.DataFrame()
        return cost_effect_display(res, lang=self.lang, horizon=self.horizon)
