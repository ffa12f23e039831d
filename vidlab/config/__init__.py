"""vidlab's config system: MMAction2 1.x / MMEngine-style Python configs, no registries.

- :func:`load_config` reads a file (``_base_`` inheritance, ``_delete_``, ``{{_base_.x}}``,
  ``cfg_options``) into a :class:`Config` (a dict with attribute access).
- :func:`resolve_type` / :func:`build` turn ``dict(type=..., **kwargs)`` nodes into objects; the
  short names are the static table :data:`vidlab.config.names.NAMES`.
- :func:`validate` checks every node against its constructor and reports all problems at once.
- MMAction2 0.x configs are upgraded on load by :func:`vidlab.compat.upgrade_config`.

Modules, each importing only those above it in this list: ``errors`` (ConfigError, how
messages name files and key paths), ``names`` (the table), ``format`` (Config -> Python source),
``options`` (``--cfg-options``), ``types`` (Config), ``load`` (files, ``_base_``; calls
:mod:`vidlab.compat.mmaction0x`), ``resolve`` (type names -> objects), ``values`` (values against annotations), ``schema``
(dicts without ``type``, top-level names, pipeline order), ``build``, ``validate``. The one import the other way is inside
:meth:`Config.fromfile`, MMEngine's name for :func:`load_config`.

Importing this package pulls in no torch and none of the modules the names point to.
"""

from vidlab.config.build import build
from vidlab.config.errors import ConfigError, ConfigWarning
from vidlab.config.load import load_config, merge_configs
from vidlab.config.names import NAMES
from vidlab.config.options import apply_options, parse_option_value, parse_options
from vidlab.config.resolve import LAZY_KEYS, is_node, resolve_type
from vidlab.config.types import Config
from vidlab.config.validate import DEFAULT_INJECTED, find_problems, validate

__all__ = [
    "Config",
    "ConfigError",
    "ConfigWarning",
    "NAMES",
    "DEFAULT_INJECTED",
    "LAZY_KEYS",
    "apply_options",
    "build",
    "find_problems",
    "is_node",
    "load_config",
    "merge_configs",
    "parse_option_value",
    "parse_options",
    "resolve_type",
    "validate",
]
