"""Dialogs that can be dismissed only once.

Textual's `Screen.dismiss` pops whatever screen is on top. Two Enters typed within one refresh reach a
dialog twice; the second dismiss then popped the screen below it (or raised `ScreenStackError` on a
mode's base screen, ending the app). A dismissed dialog ignores further dismissals.
"""

from __future__ import annotations

from typing import Any

from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette
from textual.screen import Screen


class DismissOnce:
    """Mixin for a `Screen`: `dismiss` does nothing unless the screen is the one on top."""

    def dismiss(self, result: Any = None) -> AwaitComplete:
        screen: Screen[Any] = self  # type: ignore[assignment]
        if not screen.is_attached or screen.app.screen is not screen:
            return AwaitComplete.nothing()
        return super().dismiss(result)  # type: ignore[misc]


class QCommandPalette(DismissOnce, CommandPalette):
    """Textual's command palette, dismissed once (fast Enters select the same command twice).

    Its search worker can also outlive it: a search that finishes while the palette is being
    removed set a flag whose watcher queried the removed list (`NoMatches`, ending the app). The
    watcher (textual is pinned) now does nothing once the list is gone.
    """

    def _watch__list_visible(self) -> None:
        if not self.is_attached or not self.query(CommandList):
            return
        super()._watch__list_visible()
