"""Config: every TrainingConfig field by group, presets, TOML load/save, inline validation, cost, Start.

One group is on screen at a time (chosen in the list on the left): it fits 80x24, and a screen of
twenty fields mounts and switches in milliseconds where one of fifty would not. What the user typed
lives in the screen (`_raw`), not in the widgets, so nothing is lost when the group changes.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import DescendantFocus
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine.config import (
    FIELD_GROUPS,
    PRESETS,
    SECRET_FIELDS,
    ConfigError,
    TrainingConfig,
    field_choices,
    format_field,
    load_config,
    save_config,
)
from engine.fileio import error_text, user_path
from engine.run_cost import estimate_run_cost

from ..widgets.config_field import ConfigField, EditorKind
from ..widgets.edit_input import EditInput
from .base import AppScreen, special_file

DEFAULT_FILE = "qstore.toml"
WIDE = 120  # columns from which every field shows its description
GROUP_OF = {name: group for group, names in FIELD_GROUPS.items() for name in names}
HELP = "↑↓ group · Enter: its fields · ←→/space: change a choice · ctrl+r: Start"


def _kind(name: str) -> EditorKind:
    if name in SECRET_FIELDS:
        return "secret"
    if field_choices(name) is not None:
        return "choice"
    annotation = TrainingConfig.model_fields[name].annotation
    return "bool" if annotation is bool else "text"


def secret_placeholder(config: TrainingConfig, name: str) -> str:
    """Whether a key is there, never any part of it."""
    env = SECRET_FIELDS[name]
    if getattr(config, name) is not None:  # short: the editor is ~35 columns wide at 80x24
        return f"•••• from env {env}" if os.environ.get(env, "").strip() else "•••• typed here (not saved)"
    return f"not set: export {env}"


def cost_line(config: TrainingConfig) -> str:
    cost = estimate_run_cost(config)
    if cost is not None:
        if config.max_cost_usd is None:
            cap = "no cap set yet"
        elif cost.usd > config.max_cost_usd:
            cap = f"OVER the cap of ${config.max_cost_usd:,.2f}"
        else:
            cap = f"cap ${config.max_cost_usd:,.2f}"
        return f"{cost.line()} ({cap})"
    if config.backend == "local":
        return "Local simulator: no charge"
    where = "the in-process IonQ emulator" if config.backend == "emulator" else f"IonQ {config.quantum_target}"
    return f"{where}: no charge"


class ConfigScreen(AppScreen):
    MODE = "config"
    PURPOSE = "Set up a run: every training field by group, presets, TOML files, the cost of a QPU run; then Start."
    AUTO_FOCUS = "#groups"  # not an input: the digit keys switch screens until a field is chosen
    PALETTE = (
        ("Config: load TOML", "Load the config file named in the file box", "load"),
        ("Config: save TOML", "Save the config (never its API keys) to the file box's path", "save"),
        ("Config: gradient preflight", "Gradient variance over random initializations (barren-plateau check)",
         "preflight"),
        *((f"Config: preset {name}", f"Apply the {name} preset", f"preset('{name}')") for name in PRESETS),
        *((f"Config: {group} fields", f"Show the {group} fields", f"show_group('{group}')") for group in FIELD_GROUPS),
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="config.save"),
        Binding("ctrl+o", "load", "Load", id="config.load"),
        Binding("ctrl+r", "app.start", "Start", id="config.start"),
    ]
    DEFAULT_CSS = """
    ConfigScreen {
        #toolbar Label { padding: 0 1; }
        #preset { width: 18; }
        #path { width: 1fr; }
        #toolbar Button { margin-left: 1; }
        #status { height: auto; padding: 0 1; color: $accent; }  /* wraps at 80 columns, never cut */
        #file-message { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
        #file-message.-shown { display: block; }
        #main { height: 1fr; }
        #groups { width: 16; height: 1fr; border: none; border-right: solid $primary 50%; }
        #fields { width: 1fr; height: 1fr; padding: 0 0 0 1; }
        #help { height: 1; padding: 0 1; color: $foreground-muted; background: $panel; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._origin: TrainingConfig = TrainingConfig()
        self._origin_raw: dict[str, str] = {}
        self._raw: dict[str, str] = {}
        self._shown: TrainingConfig | None = None
        self.group = next(iter(FIELD_GROUPS))
        # Group swaps come from key handlers and from workers (preset, load, reveal): one at a time,
        # or two of them would mount the same field ids.
        self._swap_lock = asyncio.Lock()

    # ----- layout -----

    def compose_body(self) -> ComposeResult:
        config = self.qapp.config
        self._set_origin(config)
        with Horizontal(id="toolbar"):
            yield Select([(p, p) for p in PRESETS], prompt="preset", compact=True, id="preset")
            yield Label("file")
            yield EditInput(DEFAULT_FILE, compact=True, id="path")
            yield Button("Load", compact=True, id="load")
            yield Button("Save", compact=True, id="save")
            yield Button("▶ Start", compact=True, variant="success", id="start")
        yield Static("", id="file-message", markup=False)
        yield Static(cost_line(config), id="status", markup=False)
        with Horizontal(id="main"):
            yield OptionList(*(Option(group, id=group) for group in FIELD_GROUPS), id="groups", compact=True)
            with VerticalScroll(id="fields", can_focus=False):  # its fields take the focus, not the box
                yield from self._fields(self.group)
        yield Static(HELP, id="help", markup=False)

    def _fields(self, group: str) -> list[ConfigField]:
        config = self._shown or self._origin
        fields = []
        for name in FIELD_GROUPS[group]:
            kind = _kind(name)
            info = TrainingConfig.model_fields[name]
            placeholder = secret_placeholder(config, name) if kind == "secret" else (
                "none" if info.default is None and kind == "text" else "")
            fields.append(ConfigField(name, kind=kind, value=self._raw[name], description=info.description or "",
                                      choices=field_choices(name) or (), placeholder=placeholder))
        return fields

    def on_mount(self) -> None:
        self._accept(self._origin)
        self._after_mount_fields()

    def on_resize(self) -> None:
        for field in self.query(ConfigField):
            field.show_description(self.app.size.width >= WIDE)

    def on_screen_resume(self) -> None:
        if self.ready and self.qapp.config is not self._shown:  # changed elsewhere (the cost dialog set a cap)
            self._load_form(self.qapp.config)

    async def action_show_group(self, group: str) -> None:
        """Show one group's fields (the form keeps every value typed so far).

        Swaps queue on the lock, the last asked for shown last; none is cancelled midway (an exclusive worker
        did that: cancelling a task that awaits a removal cancels the removed widgets' own tasks, and the
        screen's teardown, or the app's loop, later met that CancelledError and stopped silently)."""
        async with self._swap_lock:
            self.group = group
            fields = self.query_one("#fields", VerticalScroll)
            await fields.remove_children()
            await fields.mount_all(self._fields(group))
            fields.scroll_home(animate=False)
            self._after_mount_fields()
        groups = self.query_one("#groups", OptionList)
        index = list(FIELD_GROUPS).index(group)
        if groups.highlighted != index:
            with self.prevent(OptionList.OptionHighlighted):
                groups.highlighted = index

    def _after_mount_fields(self) -> None:
        wide = self.app.size.width >= WIDE
        for field in self.query(ConfigField):
            field.show_description(wide)
            field.show_error(self.qapp.config_problems.get(field.field_name))
            if self.qapp.testing and isinstance(field.editor, Input):
                field.editor.cursor_blink = False

    @on(OptionList.OptionHighlighted, "#groups")
    async def _group_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id != self.group:
            await self.action_show_group(str(event.option.id))

    @on(OptionList.OptionSelected, "#groups")
    async def _group_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a group: its fields, and the focus in the first one."""
        if event.option.id != self.group:
            await self.action_show_group(str(event.option.id))
        for field in self.query(ConfigField).results(ConfigField):
            field.editor.focus()
            break

    # ----- the form -----

    def _set_origin(self, config: TrainingConfig) -> None:
        self._origin = config
        self._origin_raw = {name: ("" if name in SECRET_FIELDS else format_field(config, name))
                            for name in TrainingConfig.model_fields}
        self._raw = dict(self._origin_raw)

    def _load_form(self, config: TrainingConfig) -> None:
        """Make `config` the base that edits apply to, and show it."""
        self._set_origin(config)
        self._shown = config
        self.run_worker(partial(self.action_show_group, self.group), group="config-form")
        self._accept(config)

    @on(ConfigField.Edited)
    def _edited(self, event: ConfigField.Edited) -> None:
        self._raw[event.field.field_name] = event.raw
        self._validate()

    def _validate(self) -> None:
        edits = {name: raw for name, raw in self._raw.items() if raw != self._origin_raw[name]}
        try:
            candidate = self._origin.with_overrides(edits) if edits else self._origin
        except ConfigError as exc:
            self.show_problems(exc.problems)
            return
        self._accept(candidate)

    def _accept(self, config: TrainingConfig) -> None:
        self.show_problems(())
        self._shown = config
        self.qapp.config = config
        self.query_one("#status", Static).update(cost_line(config))

    def show_problems(self, problems: tuple[tuple[str | None, str], ...] | list[tuple[str | None, str]]) -> None:
        """Each problem next to its field; the status line names them all (with their groups)."""
        by_field: dict[str, str] = {}
        general: list[str] = []
        for field, reason in problems:
            if field in TrainingConfig.model_fields:
                by_field.setdefault(field, reason)
            else:
                general.append(f"{field}: {reason}" if field else reason)
        for widget in self.query(ConfigField):
            widget.show_error(by_field.get(widget.field_name))
        self.qapp.config_problems = by_field
        if by_field:
            names = ", ".join(f"{name} ({GROUP_OF[name]})" for name in by_field)
            self.query_one("#status", Static).update(f"to fix before Start: {names}")
        if general:
            self._file_message(" ".join(general))

    def reveal(self, field: str | None) -> None:
        """Show the group holding `field` (a refused Start points at it)."""
        if field in GROUP_OF and GROUP_OF[field] != self.group:
            self.run_worker(partial(self.action_show_group, GROUP_OF[field]), group="config-form")

    def _file_message(self, text: str | None) -> None:
        message = self.query_one("#file-message", Static)
        message.update(text or "")
        message.set_class(bool(text), "-shown")

    # ----- presets, files, start -----

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL and event.value in PRESETS:  # not the blank "preset" prompt
            self.action_preset(str(event.value))

    def action_preset(self, name: str) -> None:
        """Replace the form with a preset (the v3.4 guide's recommended configurations)."""
        self._show_preset(name)
        self._load_form(TrainingConfig.preset(name))
        self._file_message(None)
        self.notify(f"preset {name} applied", timeout=3)

    def _show_preset(self, name: str | None) -> None:
        """The preset box shows the preset applied (from the palette too), or none after a file load."""
        box = self.query_one("#preset", Select)
        with self.prevent(Select.Changed):
            if name is None:
                box.clear()
            else:
                box.value = name

    def _path(self) -> Path:
        """The file box's path; ConfigError for a `~nouser/...` (said next to the box, as a bad file is)."""
        try:
            return user_path(self.query_one("#path", Input).value.strip() or DEFAULT_FILE)
        except ValueError as exc:
            raise ConfigError(None, str(exc)) from None

    def action_load(self) -> None:
        """Read the TOML file named in the file box, in a thread (a slow or hung file system must not freeze the
        app); its problems show next to the box."""
        try:
            path = self._path()
        except ConfigError as exc:
            self._file_message(str(exc))
            return
        self.run_worker(partial(self._load, path), group="config-file", exclusive=True, exit_on_error=False)

    async def _load(self, path: Path) -> None:
        try:
            config = await asyncio.to_thread(_read_config, path)
        except ConfigError as exc:
            self._file_message(str(exc))
            return
        self._show_preset(None)  # the form is the file's now, not a preset's
        self._load_form(config)
        self._file_message(None)
        self.notify(f"loaded {path}", timeout=3, markup=False)

    def action_save(self) -> None:
        """Write the config as TOML (API keys are never written)."""
        if self.qapp.config_problems:
            self._file_message("not saved: fix the fields marked in red first")
            return
        try:
            path = self._path()
            save_config(self.qapp.config, path)
        except (OSError, ConfigError) as exc:  # a write error names the path and the reason; a NUL in the name
            self._file_message(error_text(exc))
            return
        self._file_message(None)
        self.notify(f"saved {path}", timeout=3, markup=False)

    async def action_preflight(self) -> None:
        """The gradient-variance preflight of the current config (preflight_initializations, else 20), as a note."""
        if self.qapp.config_problems:
            self._file_message("no preflight: fix the fields marked in red first")
            return
        cfg = self.qapp.config
        if not cfg.preflight_initializations:
            cfg = cfg.model_copy(update={"preflight_initializations": 20})
        try:
            text = await asyncio.to_thread(_preflight_text, cfg)
        except (OSError, ValueError) as exc:  # the data set (a CSV) or the model refused
            self._file_message(f"preflight: {error_text(exc)}")
            return
        self._file_message(None)
        self.notify(text, timeout=8, markup=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load":
            self.action_load()
        elif event.button.id == "save":
            self.action_save()
        elif event.button.id == "start":
            self.qapp.action_start()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        node = event.widget
        while node is not None and not isinstance(node, ConfigField):
            node = node.parent  # type: ignore[assignment]
        text = f"{node.field_name}: {node.description}" if isinstance(node, ConfigField) else HELP
        self.query_one("#help", Static).update(text)


def _read_config(path: Path) -> TrainingConfig:
    """load_config, but a FIFO or device is refused first: open() on a FIFO waits for a writer, for good."""
    if special_file(path):
        raise ConfigError(None, "not a regular file", path=path)
    return load_config(path)


def _preflight_text(cfg: TrainingConfig) -> str:
    """Load the data, build the model and run engine.preflight (a worker thread: simulator work)."""
    from engine.data import load_dataset, train_val_split
    from engine.model import QuantumModel
    from engine.preflight import preflight_event, preflight_text

    train, _ = train_val_split(load_dataset(cfg), cfg.validation_split, cfg.seed)
    model = QuantumModel.from_config(cfg, train.n_features, train.n_classes or 1)
    return preflight_text(preflight_event(cfg, model, train.x))
