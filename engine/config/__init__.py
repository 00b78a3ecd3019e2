"""The training configuration: `TrainingConfig` and everything that reads, writes and explains it.

- `model.py`       TrainingConfig (fields grouped as the Config screen shows them), FIELD_GROUPS, and the typed
                   text functions bound to it: parse_field / format_field / field_choices (the CLI's --set and
                   the Config screen both go through them, so they live here, beside the model)
- `fieldtypes.py`  the field value types (URL, index name, secret, user path), secrets from the environment
- `errors.py`      ConfigError ("field: rule, got value") and pydantic errors turned into it
- `fieldtext.py`   typed text <-> values for any pydantic model's fields
- `presets.py`     the v3.4 guide's recommended configurations
- `tomlio.py`      load_config / save_config / config_to_toml

Errors are `ConfigError` (a ValueError) whose message names the field and the rule, e.g.
"learning_rate: must be > 0, got -1", so the CLI and the Config screen can show them as they are.
"""

from .errors import ConfigError
from .fieldtypes import DEFAULT_IONQ_API_URL, SECRET_FIELDS
from .model import FEATURE_SWITCHES, FIELD_GROUPS, GROUP_OF, TrainingConfig, field_choices, format_field, parse_field
from .presets import PRESETS
from .tomlio import config_to_toml, load_config, save_config

__all__ = [
    "DEFAULT_IONQ_API_URL", "FEATURE_SWITCHES", "FIELD_GROUPS", "GROUP_OF", "PRESETS", "SECRET_FIELDS",
    "ConfigError", "TrainingConfig",
    "config_to_toml", "field_choices", "format_field", "load_config", "parse_field", "save_config",
]
