"""Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, str, bool, str, str], ...]  # key, display, description, enabled, tooltip, group


class KeyFooter(Footer):
    """Textual's `Footer` recomposes all its keys (a widget each) whenever the screen's bindings are
    updated, which is every focus change: Tab through a form rebuilt and restyled the footer at each
    key, most of a key's cost. Here the recompose happens only when what the footer shows differs,
    and several updates within one refresh make one check."""

    _shown: Shown | None = None
    _check_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._check_pending = False
        if not self.is_attached:
            return
        shown = self._keys_shown()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _keys_shown(self) -> Shown:
        """What `Footer.compose` draws from: the shown bindings, their key display and state."""
        app = self.app
        return tuple(
            (key, app.get_key_display(binding), binding.description, enabled, tooltip or "",
             binding.group.description if binding.group else "")
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == app.COMMAND_PALETTE_BINDING
        )
