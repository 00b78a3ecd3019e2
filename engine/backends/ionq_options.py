"""IonQ job settings a run chooses: error mitigation (debiasing), how results are aggregated, dry runs.

What the spec (openapi-v0.4.json) and IonQ's docs say, and what we follow:
- `settings.error_mitigation` is `{"debiasing": bool, "symmetry_verification": bool}`; "to turn on
  debiasing, you must request at least 500 shots". IonQ's default, which we keep by default: debiasing
  is on for QPU jobs of 500 shots or more, off below, off for native-gate jobs (what you submit in native
  gates is what runs), and not offered on the simulator (IonQ's error-mitigation guide); `None` leaves the
  key out of the body so IonQ applies that default itself.
- Debiased results are aggregated two ways: `average` (the default distribution) and plurality voting,
  which the spec names `voting` in `output.error_mitigation.aggregations` and requests with the
  `sharpen=true` query parameter of `GET /jobs/{id}/results/probabilities` (older SDKs: "sharpen").
  Voting only means something when the job was debiased, so it is refused otherwise.
- `dry_run: true` asks IonQ to validate and price a job without running it; the job's `results` are null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Aggregation = Literal["average", "voting"]
AGGREGATIONS: tuple[Aggregation, ...] = ("average", "voting")
DEBIASING_MIN_SHOTS = 500  # the spec: "To turn on debiasing, you must request at least 500 shots"


class JobSettingsError(ValueError):
    """A combination IonQ refuses; `field` names the config field, the message states the rule."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def debiasing_by_default(backend: str, shots: int, native: bool = False) -> bool:
    """IonQ's default: debiasing on QPU jobs in QIS gates with at least 500 shots; never on the simulator."""
    return backend.startswith("qpu.") and shots >= DEBIASING_MIN_SHOTS and not native


@dataclass(frozen=True)
class ErrorMitigation:
    """The error-mitigation choice of a run; `debiasing=None` means IonQ's default."""

    debiasing: bool | None = None
    aggregation: Aggregation = "average"

    def effective_debiasing(self, backend: str, shots: int, native: bool = False) -> bool:
        """Whether IonQ will debias a job of `shots` on `backend` with these settings."""
        return debiasing_by_default(backend, shots, native) if self.debiasing is None else self.debiasing

    def problems(self, backend: str, shots: int, native: bool = False) -> list[JobSettingsError]:
        """Every combination IonQ refuses or that cannot mean anything, with the field and the rule."""
        out: list[JobSettingsError] = []
        if self.aggregation not in AGGREGATIONS:
            out.append(JobSettingsError("ionq_aggregation", f"must be one of {', '.join(AGGREGATIONS)}, "
                                                            f"got {self.aggregation!r}"))
        if self.debiasing and not backend.startswith("qpu."):
            out.append(JobSettingsError(
                "ionq_debiasing", f"debiasing runs on IonQ QPUs only, not on {backend!r} (IonQ's rule); "
                                  "leave it unset or off"))
        elif self.debiasing and shots < DEBIASING_MIN_SHOTS:
            out.append(JobSettingsError(
                "ionq_debiasing", f"debiasing needs at least {DEBIASING_MIN_SHOTS} shots per circuit (IonQ's rule), "
                                  f"got shots_per_circuit = {shots}"))
        elif self.aggregation == "voting" and not self.effective_debiasing(backend, shots, native):
            why = ("debiasing is off" if self.debiasing is False else
                   f"IonQ does not debias {'native-gate ' if native else ''}{shots}-shot jobs on {backend!r} "
                   "by default")
            out.append(JobSettingsError(
                "ionq_aggregation", f"'voting' (sharpened) aggregates debiased variants, but {why}; "
                                    "use 'average' or turn ionq_debiasing on with >= 500 shots"))
        return out

    def check(self, backend: str, shots: int, native: bool = False) -> None:
        """Raise the first problem, if any."""
        found = self.problems(backend, shots, native)
        if found:
            raise found[0]

    def settings_body(self) -> dict[str, dict[str, bool]] | None:
        """The job's `settings` object (spec: CircuitJobSettings), or None to leave IonQ's default."""
        if self.debiasing is None:
            return None
        return {"error_mitigation": {"debiasing": self.debiasing}}

    @property
    def sharpen(self) -> bool:
        """The `sharpen` query parameter that reads this aggregation."""
        return self.aggregation == "voting"

    def describe(self, backend: str, shots: int, native: bool = False) -> str:
        """One line for the report and the Training screen: what was used and why."""
        on = self.effective_debiasing(backend, shots, native)
        how = "IonQ's default" if self.debiasing is None else "set"
        agg = "voting (sharpened)" if self.aggregation == "voting" else "average"
        return f"debiasing {'on' if on else 'off'} ({how}), aggregation {agg}"
