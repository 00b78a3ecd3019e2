"""The Training screen's stats panel shows a QPU run's actual spend beside the estimate and cap, and the
mitigation used, from the events (the same path an attached viewer follows)."""

from __future__ import annotations

from engine.events import CostEstimate, MitigationInfo, SpendUpdate, parse_event
from qstore_tui.view import SessionView
from qstore_tui.widgets.stats_panel import _details


def test_spend_and_mitigation_events_reach_the_stats_panel():
    view = SessionView()
    events = [
        CostEstimate(target="qpu.aria-1", circuits=40, shots=1000, usd=12.0, per_circuit_usd=0.3,
                     source="ionq-estimate", basis="x"),
        SpendUpdate(job_id="j1", job_usd=1.25, billed=True, spent_usd=1.25, jobs=1, cap_usd=50.0, estimate_usd=12.0),
        SpendUpdate(job_id="j2", job_usd=2.5, billed=False, spent_usd=3.75, jobs=2, cap_usd=50.0, estimate_usd=12.0),
        MitigationInfo(ionq="debiasing on (IonQ's default), aggregation average",
                       readout="calibration circuits (10000 shots each)", readout_p01=[0.004], readout_p10=[0.005]),
    ]
    for e in events:
        view.apply(parse_event(e.model_dump_json()))  # as read back from events.jsonl
    text = _details(view)
    assert "spent $3.75 of est. $12.00, cap $50.00 over 2 job(s) (estimated: not billed yet)" in text
    assert "mitigation: IonQ debiasing on (IonQ's default), aggregation average; readout calibration circuits" in text
