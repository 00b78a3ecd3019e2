"""One parse of each CSS source per process, not one per refresh.

Textual's `App.refresh_css` re-parses the whole stylesheet (the app's 40 sources) in a fresh `Stylesheet`,
whose parse cache starts empty, whenever a mode's screen is first shown and whenever the theme changes. The
parsed rules depend only on the source, where it was read from, its place in the cascade and the CSS
variables (the theme), so `install` keys a process-wide cache on exactly those and hands the same rule sets
back, as each `Stylesheet`'s own cache already does within its life. Invalid CSS is not cached: it raises,
or its rules carry their errors for Textual to report, as before.

Measured with the cache on and off in turn in one process (medians): a first visit to a screen 350 against
497 ms, a theme change 319 against 404 ms, an app's start 753 against 997 ms.
"""

from __future__ import annotations

from collections import OrderedDict

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet
from textual.css.types import CSSLocation

MAX_ENTRIES = 1024  # sources x themes: the app has 40 sources, and a user switches between a few themes

_cache: OrderedDict[tuple[object, ...], list[RuleSet]] = OrderedDict()
_original = Stylesheet._parse_rules


def _parse_rules(self: Stylesheet, css: str, read_from: CSSLocation, is_default_rules: bool = False,
                 tie_breaker: int = 0, scope: str = "") -> list[RuleSet]:
    key = (css, read_from, is_default_rules, tie_breaker, scope, frozenset(self._variables.items()))
    rules = _cache.get(key)
    if rules is not None:
        _cache.move_to_end(key)
        return rules
    rules = _original(self, css, read_from, is_default_rules, tie_breaker, scope)
    if not any(rule.errors for rule in rules):
        _cache[key] = rules
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return rules


def install() -> None:
    """Idempotent; called when the app module is imported."""
    Stylesheet._parse_rules = _parse_rules  # type: ignore[method-assign]
