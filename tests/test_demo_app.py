"""The interim demo app runs a batch on the local simulator and shows real results."""

from textual.widgets import DataTable, Static

from qstore_tui.demo import DemoApp


async def test_demo_app_runs_a_batch_and_fills_the_table():
    app = DemoApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = str(app.query_one("#summary", Static).render())
        assert "200 circuits" in summary and "circuits/s" in summary
        table = app.query_one(DataTable)
        assert table.row_count == 20
        cell = table.get_row_at(0)[1]
        assert -1.0 <= float(cell) <= 1.0
