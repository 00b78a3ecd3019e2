"""Dialogs that can be dismissed only once.

Textual's `Screen.dismiss` pops whatever screen is on top. Two Enters typed within one refresh reach a
dialog twice; the second dismiss then popped the screen below it (or raised `ScreenStackError` on a
mode's base screen, ending the app). A dismissed dialog ignores further dismissals.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette
from textual.events import Mount
from textual.screen import Screen
from textual.widgets import LoadingIndicator


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
    removed queried the removed list (`NoMatches`) and, as a worker with `exit_on_error`, ended
    the app. Here the search runs with `exit_on_error=False` (a search that failed shows nothing),
    and the watchers that touch the list (and the busy indicator, set by a timer that can fire after the list
    went: random keys found it) do nothing once it is gone (textual is pinned).
    """

    def _on_mount(self, event: Mount) -> None:
        """Textual's, but the calling screen is the one below the palette on the stack that holds it:
        when a screen switch lands between the palette's push and its mount, the palette is on another
        mode's stack and `screen_stack[-2]` (Textual's choice) raised IndexError, ending the app."""
        event.prevent_default()  # Textual's own handler (base class) must not run as well
        holder = next((stack for stack in self.app._screen_stacks.values() if self in stack), [])
        index = holder.index(self) if self in holder else 0
        if index == 0:  # already popped: nothing to search for
            return
        self.app.post_message(CommandPalette.Opened())
        self._calling_screen = holder[index - 1]
        match_style = self.get_visual_style("command-palette--highlight", partial=True)
        self._providers = [provider(self._calling_screen, match_style) for provider in self._provider_classes]
        for provider in self._providers:
            provider._post_init()
        self._gather_commands("")

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP, exit_on_error=False)
    async def _gather_commands(self, search_value: str) -> None:
        await _UNGUARDED_GATHER(self, search_value)

    def _watch__list_visible(self) -> None:
        if not self.is_attached or not self.query(CommandList):
            return
        super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        if not self.is_attached or not self.query(LoadingIndicator) or not self.query(CommandList):
            return
        await super()._watch__show_busy()


_UNGUARDED_GATHER = CommandPalette._gather_commands.__wrapped__  # type: ignore[attr-defined]
