"""The `cvalues run` configuration: which models, which suites, which judges, where the output goes.

A YAML file (UTF-8 or GB18030) is validated with pydantic; every problem is reported on its own line as
``FILE:LINE: FIELD.PATH: what is wrong`` (the line found from the YAML node), so a person can fix the
file without guessing. Unknown keys are errors (a typo never silently falls back to a default).
:func:`default_config` is the built-in job of ``cvalues run --model SPEC``: small samples of the four
CValues suites, finishing in minutes on a CPU, with the safety answers judged by Qwen3Guard.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from cvalues.data.suites import SUITES
from cvalues.models.base import GenerationSettings

Level = Literal["safety", "responsibility"]
MCMode = Literal["auto", "generate", "logprob", "both"]


def _judge_rubrics() -> dict[str, Any]:
    """The judge's rubrics by name (:mod:`cvalues.judge.rubrics`, contract B); empty when the judge is
    not installed (then the judge stages say so when they run)."""
    try:
        from cvalues.judge.rubrics import RUBRICS
    except ImportError:
        return {}
    return dict(RUBRICS)


def rubric_levels() -> dict[str, str]:
    """Rubric name -> the level it judges (safety or responsibility)."""
    return {name: rubric.level for name, rubric in _judge_rubrics().items()}


#: The built-in job: small samples so that a 0.5B model on a CPU finishes in minutes.
DEFAULT_SUITES: dict[str, dict[str, Any]] = {
    "safety-mc": {"sample": 50},
    "responsibility-mc": {"sample": 50},
    "safety-prompts": {"sample": 20},
    "responsibility-prompts": {"sample": 16},
}
DEFAULT_SAFETY_JUDGE = "hf:Qwen/Qwen3Guard-Gen-0.6B"
DEFAULT_JUDGES: dict[str, dict[str, Any] | None] = {
    "safety": {"spec": DEFAULT_SAFETY_JUDGE, "rubric": "qwen3guard"}
}

_NAME_OK = re.compile(r"^[^/\\\x00-\x1f]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_path(value: Any) -> Any:
    """A path as a shell user means it: ``~`` is the home folder and ``$NAME`` / ``${NAME}`` the
    variable's value (an unset variable is an error, never a folder literally named ``$NAME``); an
    empty path is an error (it would silently be the working directory)."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise ValueError("an empty path (it would be the working directory)")
    unset = sorted({a or b for a, b in _ENV_REF.findall(value) if (a or b) not in os.environ})
    if unset:
        raise ValueError(f"environment variable {', '.join(unset)} is not set (named in {value!r})")
    return os.path.expanduser(os.path.expandvars(value))


#: A path field of the config: ``~`` and environment variables expanded, never empty.
ConfigPath = Annotated[Path, BeforeValidator(expand_path)]


def _check_env_name(name: str | None) -> str | None:
    """``api_key_env`` names the variable that holds the key; a value that cannot be a variable name is
    most likely the key itself, so it is refused without being repeated (it would land in logs)."""
    if name is not None and not _ENV_NAME.match(name):
        raise ValueError(
            "this is the name of the environment variable that holds the key (e.g. DEEPSEEK_API_KEY), "
            "not the key itself; the value given is not a variable name (not shown, in case it is a key)"
        )
    return name


class ConfigError(ValueError):
    """A configuration that cannot be run; ``str()`` lists every problem as ``file:line: field: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsConfig(_Strict):
    """Decoding settings of one model (:class:`cvalues.models.base.GenerationSettings`)."""

    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    stop: list[str] = Field(default_factory=list)
    system_prompt: str | None = None
    seed: int | None = 0

    def to_settings(self) -> GenerationSettings:
        return GenerationSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=tuple(self.stop),
            system_prompt=self.system_prompt,
            seed=self.seed,
        )


def _check_spec(spec: str) -> str:
    from cvalues.models.registry import parse_spec

    scheme, target = parse_spec(spec)  # ValueError names the known schemes
    return f"{scheme}:{target}"


class ModelConfig(_Strict):
    """One model under test, with its own endpoint. ``options`` are backend options (``batch_size``,
    ``device``, ``dtype``, ``timeout``, ``max_retries``, ``continue_final_message``, ``revision``, ...)."""

    name: str = Field(min_length=1, max_length=100)
    spec: str
    base_url: str | None = None
    api_key_env: str | None = None
    settings: SettingsConfig = Field(default_factory=SettingsConfig)
    options: dict[str, Any] = Field(default_factory=dict)
    concurrency: int | None = Field(None, ge=1)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _NAME_OK.match(name) or name.strip() in (".", "..") or name != name.strip():
            raise ValueError(
                "a model name is a folder name under `out`: no slashes, control characters, "
                "surrounding spaces, '.' or '..'"
            )
        return name

    @field_validator("spec")
    @classmethod
    def _known_scheme(cls, spec: str) -> str:
        return _check_spec(spec)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        return _check_env_name(name)

    def backend_options(self) -> dict[str, Any]:
        """Keyword options for :func:`cvalues.models.registry.load_model`."""
        return {
            **self.options,
            **({"base_url": self.base_url} if self.base_url else {}),
            **({"api_key_env": self.api_key_env} if self.api_key_env else {}),
            **({"concurrency": self.concurrency} if self.concurrency else {}),
        }


class SuiteConfig(_Strict):
    """How one suite is run. ``sample`` counts pairs for multi-choice suites and prompts otherwise;
    ``mode`` (multi-choice only): ``auto`` is ``logprob`` for ``hf:`` models and ``generate`` for
    others; ``file`` is the suite's data file given by hand; the rest are :func:`load_suite` options."""

    sample: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=0)
    seed: int = 0
    mode: MCMode = "auto"
    template: str | None = None
    file: ConfigPath | None = None
    fields: dict[str, str] | None = None
    full: bool = False
    include_benign: bool = False
    allocation: str | None = None
    pair_type: str | None = None
    level: Level | None = None
    kind: Literal["auto", "prompt", "mc"] | None = None


class JudgeConfig(_Strict):
    """The judge of one level: a model spec, its rubric (default from the spec), and where it is served."""

    spec: str
    rubric: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    samples: int = Field(1, ge=1)
    temperature: float | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)

    @field_validator("spec")
    @classmethod
    def _known_scheme(cls, spec: str) -> str:
        return _check_spec(spec)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        return _check_env_name(name)

    @field_validator("rubric")
    @classmethod
    def _known_rubric(cls, rubric: str | None) -> str | None:
        known = rubric_levels()
        if rubric is not None and known and rubric not in known:
            raise ValueError(f"unknown rubric {rubric!r}; choose from {', '.join(known)}")
        return rubric

    def backend_options(self) -> dict[str, Any]:
        return {
            **self.options,
            **({"base_url": self.base_url} if self.base_url else {}),
            **({"api_key_env": self.api_key_env} if self.api_key_env else {}),
            **({"concurrency": self.concurrency} if self.concurrency else {}),
        }


class DataSection(_Strict):
    """Where data files come from (as --data-mirror, --cache-dir, --offline, --source-file)."""

    mirror: ConfigPath | None = None
    cache_dir: ConfigPath | None = None
    offline: bool = False
    source_files: dict[str, ConfigPath] = Field(default_factory=dict)


class RunConfig(_Strict):
    """A whole `cvalues run`: see ``docs/run.md`` and ``examples/two-models.yaml``."""

    models: list[ModelConfig] = Field(min_length=1)
    suites: dict[str, SuiteConfig] = Field(
        default_factory=lambda: {k: SuiteConfig(**v) for k, v in DEFAULT_SUITES.items()}
    )
    judge: dict[Level, JudgeConfig | None] = Field(
        default_factory=lambda: {k: JudgeConfig(**v) for k, v in DEFAULT_JUDGES.items() if v}
    )
    annotations: str | None = None
    out: ConfigPath | None = None
    concurrency: int | None = Field(None, ge=1)
    data: DataSection = Field(default_factory=DataSection)

    def judges(self) -> dict[Level, JudgeConfig]:
        """The configured judges (levels set to null left out)."""
        return {level: j for level, j in self.judge.items() if j is not None}

    def dump(self) -> dict[str, Any]:
        """The config as plain data (paths as strings), for ``OUT/config.yaml``."""
        return self.model_dump(mode="json", exclude_none=True)


def default_rubric(level: Level, spec: str) -> str:
    """The rubric a judge model speaks when none is named: its own format for a guard model, else the
    CValues instruction rubric of the level."""
    for name, rubric in _judge_rubrics().items():
        if rubric.default_model == spec and rubric.level == level:
            return name
    if level == "responsibility":
        return "cvalues-responsibility"
    lowered = spec.casefold().replace("_", "-")
    if "qwen3guard" in lowered:
        return "qwen3guard"
    if "shieldlm" in lowered:
        return "shieldlm"
    if "llama-guard" in lowered or "llamaguard" in lowered:
        return "llamaguard"
    return "cvalues-safety"


def model_name_from_spec(spec: str, taken: set[str] | None = None) -> str:
    """A folder name for a model given only by spec: the last part of the target, lower-cased
    (``hf:Qwen/Qwen2.5-0.5B-Instruct`` -> ``qwen2.5-0.5b-instruct``), made unique against ``taken``."""
    target = spec.partition(":")[2].rstrip("/\\") or spec
    base = re.split(r"[/\\]", target)[-1].strip().casefold() or "model"
    base = re.sub(r"[^\w.\-]+", "-", base).strip("-.") or "model"
    name, n = base, 2
    while taken is not None and name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def default_config(model_specs: Sequence[str], **overrides: Any) -> RunConfig:
    """The built-in job for ``model_specs``; ``overrides`` are RunConfig fields (``out``, ``judge``,
    ...) or, under ``model_options``, backend options applied to every model."""
    model_options = dict(overrides.pop("model_options", {}) or {})
    taken: set[str] = set()
    models = []
    for spec in model_specs:
        name = model_name_from_spec(spec, taken)
        taken.add(name)
        models.append({"name": name, "spec": spec, **model_options})
    data = {"models": models, **{k: v for k, v in overrides.items() if v is not None}}
    return validate_config(data, source="command line")


def _yaml_walk(root: yaml.Node | None, loc: Sequence[str | int]) -> tuple[yaml.Node | None, int, int | None]:
    """The YAML node at ``loc`` or its deepest existing parent, how many steps of ``loc`` were found,
    and the line of the first alias (``*name``) passed on the way: what lies under an alias is written
    where the alias is, not where its anchor is."""
    node, depth, alias_line = root, 0, None
    if node is None:
        return None, 0, None
    for key in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if str(getattr(k, "value", "")) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            child = node.value[key]
        if child is None:
            break
        node, depth = child, depth + 1
        if alias_line is None and getattr(node, "alias_mark", None) is not None:
            alias_line = node.alias_mark.line + 1
    return node, depth, alias_line


def _yaml_line(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    node, _, alias_line = _yaml_walk(root, loc)
    if node is None:
        return None
    return alias_line or node.start_mark.line + 1


def _field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out or "(top level)"


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Drop pydantic's own markers (``function-after[...]``, union member names) from an error location."""
    return [k for k in loc if isinstance(k, int) or not (str(k).startswith(("function-", "json-or-")))]


def _cross_checks(config: RunConfig) -> list[tuple[list[str | int], str]]:
    """Problems no single field shows: duplicate names, a mode on a prompt suite, a rubric of the
    other level, no suite at all."""
    problems: list[tuple[list[str | int], str]] = []
    seen: dict[str, int] = {}
    for i, model in enumerate(config.models):
        key = model.name.casefold()  # folders that differ only by case are one folder on some systems
        if key in seen:
            problems.append(
                (["models", i, "name"], f"{model.name!r} is already the name of models[{seen[key]}]")
            )
        seen.setdefault(key, i)
    if not config.suites:
        problems.append((["suites"], "name at least one suite (or leave `suites` out for the built-in ones)"))
    for name, suite in config.suites.items():
        info = SUITES.get(name)
        if info is None and not _user_suite_path(name):
            problems.append((["suites", name], _unknown_suite(name)))
        if info is not None and info.kind == "prompt" and suite.mode != "auto":
            problems.append(
                (["suites", name, "mode"], f"{name} holds open prompts: `mode` is for multi-choice")
            )
    levels = rubric_levels()
    for level, judge in config.judge.items():
        judged = levels.get(judge.rubric or "") if judge is not None else None
        if judge is not None and judged is not None and judged != level:
            problems.append((["judge", level, "rubric"], f"{judge.rubric!r} judges {judged} answers"))
        if judge is not None and judge.samples > 1 and not judge.temperature:
            problems.append(
                (
                    ["judge", level, "samples"],
                    f"{judge.samples} samples need a `temperature` above 0 (greedy samples would all agree)",
                )
            )
    for i, model in enumerate(config.models):
        problems += _backend_problems(["models", i], model.spec, model.backend_options())
    for level, judge in config.judges().items():
        problems += _backend_problems(["judge", level], judge.spec, judge.backend_options())
    from cvalues.data.sources import SOURCES

    for source_id in config.data.source_files:
        if source_id not in SOURCES:
            close = difflib.get_close_matches(source_id, list(SOURCES), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(SOURCES))}"
            problems.append((["data", "source_files", source_id], f"unknown source id; {hint}"))
    return problems


def _user_suite_path(name: str) -> bool:
    """Whether a suite name is a file of the user's (as :func:`cvalues.data.suites.load_suite` reads it)."""
    from cvalues.data.suites import USER_FILE_SUFFIXES

    path = Path(name).expanduser()
    return path.suffix.casefold() in USER_FILE_SUFFIXES or path.exists()


def _unknown_suite(name: str) -> str:
    """What a suite name that is neither built in nor a file is, with the closest built-in name."""
    from cvalues.data.suites import USER_FILE_SUFFIXES

    close = difflib.get_close_matches(
        unicodedata.normalize("NFKC", name).strip().replace("_", "-"), SUITES, n=1
    )
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown suite {name!r}; {hint}known: {', '.join(SUITES)}, or a "
        f"{'/'.join(s.lstrip('.') for s in USER_FILE_SUFFIXES)} file" + _full_width_hint(name)
    )


def _backend_problems(
    loc: list[str | int], spec: str, options: Mapping[str, Any]
) -> list[tuple[list[str | int], str]]:
    """Options the backend of ``spec`` would refuse when it is built (halfway through a run, after other
    stages wrote their folders), found now: an unknown option, a base_url without its scheme."""
    from cvalues.models.registry import SHARED_OPTIONS, backend_options, parse_spec

    scheme = parse_spec(spec)[0]
    accepted = backend_options(scheme)
    problems: list[tuple[list[str | int], str]] = []
    for key, value in options.items():
        if value is None or key in accepted or key in SHARED_OPTIONS:
            continue
        where = [*loc, key] if key in ("base_url", "api_key_env") else [*loc, "options", key]
        close = difflib.get_close_matches(key, list(accepted), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            (where, f"{scheme}: models take no option {key!r}; {hint}accepted: {', '.join(sorted(accepted))}")
        )
    base_url = options.get("base_url")
    if (
        isinstance(base_url, str)
        and "base_url" in accepted
        and not base_url.lower().startswith(("http://", "https://"))
    ):
        problems.append(
            ([*loc, "base_url"], "must start with http:// or https:// (e.g. http://127.0.0.1:8000/v1)")
        )
    return problems


def _problems(source: str, root: yaml.Node | None, errors: Sequence[Any]) -> list[str]:
    """One ``FILE:LINE: FIELD.PATH: message`` per pydantic error; a value holding full-width
    characters a Chinese input method types where YAML needs ASCII has them pointed out (`max_tokens：64`
    under `settings:` is one text, not a mapping)."""
    problems = []
    for err in errors:
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (a typo?" + _full_width_hint(str(err["loc"][-1])) + ")"
        elif isinstance(err.get("input"), str) and err["type"] != "value_error":
            message += _full_width_hint(err["input"])
        elif err.get("input", "") is None and err["type"] in ("dict_type", "list_type", "model_type"):
            message = _nothing_given(_clean_loc(err["loc"]), err["type"])
        problems.append(_problem(source, root, _clean_loc(err["loc"]), message))
    return problems


def _nothing_given(loc: Sequence[str | int], kind: str) -> str:
    """A key with nothing after it, e.g. `judge:` whose entries are all commented out: YAML reads null,
    which is neither `{}` nor leaving the key out, so what was meant is asked rather than guessed."""
    expected = "a list" if kind == "list_type" else "a mapping"
    message = f"nothing is given here (every entry commented out?); expected {expected}"
    if list(loc) == ["judge"]:
        message += "; `judge: {}` is no judge, and leaving `judge` out the default safety judge"
    elif list(loc) == ["suites"]:
        message += "; leave `suites` out for the built-in suites"
    return message


def _problem(source: str, root: yaml.Node | None, loc: Sequence[str | int], message: str) -> str:
    line = _yaml_line(root, loc)
    where = f"{source}:{line}" if line is not None else source
    return f"{where}: {_field_path(loc)}: {message}"


#: Tags of the plain scalars YAML 1.1 reads as something other than text (`no`, `1.10`, `2024-01-01`).
_NOT_TEXT_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}


def _read_as_written(data: Any, root: yaml.Node | None, errors: Sequence[Any]) -> bool:
    """Give each value pydantic refused the reading the writer meant, where YAML read it otherwise;
    True when something changed (then the data is validated again):

    - a text field holding an unquoted scalar YAML 1.1 made a boolean, number or date (`name: no`,
      `name: 1.10`) takes the text as written (`no`, `1.10`; the Norway problem);
    - a number field holding full-width digits a Chinese input method typed (`sample: ５０`) takes
      their ASCII form.
    """
    changed = False
    for err in errors:
        loc = _clean_loc(err["loc"])
        value: Any = None
        if err["type"] == "string_type":
            node, depth, _ = _yaml_walk(root, loc)
            if depth == len(loc) and isinstance(node, yaml.ScalarNode) and node.style is None:
                if node.tag in _NOT_TEXT_TAGS:
                    value = node.value
        elif err["type"] in ("int_parsing", "float_parsing") and isinstance(err.get("input"), str):
            normal = unicodedata.normalize("NFKC", err["input"]).strip()
            if normal != err["input"]:
                value = normal
        if value is not None and _set_at(data, loc, value):
            changed = True
    return changed


def _set_at(data: Any, loc: Sequence[str | int], value: Any) -> bool:
    """Set ``data[loc[0]][loc[1]]... = value`` in loaded YAML data; False when the path is not there."""
    if not loc:
        return False
    for key in loc[:-1]:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return False
    if (isinstance(data, dict) and loc[-1] in data) or (isinstance(data, list) and isinstance(loc[-1], int)):
        data[loc[-1]] = value
        return True
    return False


def validate_config(data: Any, *, source: str = "config", root: yaml.Node | None = None) -> RunConfig:
    """Validate plain data as a :class:`RunConfig`; :class:`ConfigError` lists every problem."""
    if not isinstance(data, Mapping):
        hint = _full_width_hint(data) if isinstance(data, str) else ""
        where = f"{source}:{root.start_mark.line + 1}" if root is not None else source
        raise ConfigError([f"{where}: expected a mapping of keys (models, suites, judge, out, ...){hint}"])
    data = copy.deepcopy(dict(data))
    for _attempt in range(3):
        try:
            config = RunConfig.model_validate(data)
            break
        except ValidationError as exc:
            errors = exc.errors()
            if root is not None and _read_as_written(data, root, errors):
                continue
            raise ConfigError(_problems(source, root, errors)) from None
    else:
        raise ConfigError(_problems(source, root, errors))
    cross = _cross_checks(config)
    if cross:
        raise ConfigError([_problem(source, root, loc, message) for loc, message in cross])
    return config


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file (UTF-8 with or without BOM, or GB18030)."""
    from cvalues.data.errors import DataError
    from cvalues.data.readers import detect_encoding

    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path}: no such file"])
    try:
        text = path.read_text(encoding=detect_encoding(path))
    except (DataError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: not UTF-8 or GB18030 text ({exc})"]) from None
    except OSError as exc:  # no read permission, a file that vanished, an I/O error
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        text, root = _compose(text)
        data = yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_syntax_problem(path, text, exc)]) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; it needs at least `models:`"])
    duplicates = _duplicate_keys(str(path), root)
    try:
        config = validate_config(data, source=str(path), root=root)
    except ConfigError as exc:
        raise ConfigError(duplicates + exc.problems) from None
    if duplicates:
        raise ConfigError(duplicates)
    return config


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader with two corrections a config needs:

    - merge keys as the YAML merge spec says: the mapping's own keys win over merged ones, and of
      `<<: [*a, *b]` the first listed wins (PyYAML 6.0.4 lets the last win for keys that are not
      interned strings, so `max_tokens` behaved unlike `x`);
    - an alias (`*name`) keeps where it is written (``alias_mark``), so a problem in an aliased part
      names the alias's line, not the anchor's.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        node = super().compose_node(parent, index)
        clone = copy.copy(node)  # the same content, written here
        if isinstance(clone.value, list):
            clone.value = list(clone.value)  # flattening merge keys edits the list in place
        clone.alias_mark = mark  # type: ignore[attr-defined]
        return clone

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        own: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                if key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
                continue
            if isinstance(value_node, yaml.MappingNode):
                sources = [value_node]
            elif isinstance(value_node, yaml.SequenceNode):
                sources = list(value_node.value)
            else:
                sources = [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {source.id}",
                        source.start_mark,
                    )
                self.flatten_mapping(source)
                merged.extend(source.value)
        if not merged and len(own) == len(node.value):
            return
        taken = {_key_identity(k) for k, _ in own}
        first: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in merged:
            identity = _key_identity(key_node)
            if identity not in taken:
                taken.add(identity)
                first.append((key_node, value_node))
        node.value = first + own


def _key_identity(node: yaml.Node) -> Any:
    return (node.tag, node.value) if isinstance(node, yaml.ScalarNode) else id(node)


#: PyYAML's complaint about a tab where a token would start.
_TAB_TOKEN = "found character '\\t' that cannot start any token"


def _compose(text: str) -> tuple[str, yaml.Node | None]:
    """The YAML node tree of ``text``, and the text it was read from. A tab used as separation
    whitespace inside a line (after `key:`, `-` or `,`, before a `# comment`, at a line's end) is valid
    YAML 1.2 that PyYAML refuses; such tabs, and only those, are read as spaces (columns and lines stay
    as they were). A tab in a line's indentation stays an error (YAML forbids it), and so does one
    between two words of a plain text, which a space would silently change."""
    for _attempt in range(text.count("\t") + 1):
        try:
            return text, yaml.compose(text, Loader=_ConfigLoader)
        except yaml.scanner.ScannerError as exc:
            mark = exc.problem_mark
            if mark is None or _TAB_TOKEN not in str(exc.problem):
                raise
            start = end = mark.index
            while end < len(text) and text[end] == "\t":
                end += 1
            before = text[text.rfind("\n", 0, start) + 1 : start].rstrip(" \t")
            after = text[end : end + 1]
            if not before or (before[-1] not in ":-,[{?" and after not in ("#", "\r", "\n", "")):
                raise
            text = text[:start] + " " * (end - start) + text[end:]
    return text, yaml.compose(text, Loader=_ConfigLoader)


#: Full-width characters a Chinese input method types where YAML needs ASCII, with their ASCII forms.
_FULL_WIDTH_YAML = {"：": ":", "\u3000": "a space", "，": ",", "｛": "{", "｝": "}", "［": "[", "］": "]"}


def _full_width_hint(text: str) -> str:
    """``"; it holds the full-width '：' (YAML needs :)"`` when ``text`` holds such characters, else ""."""
    hints = [f"{ch!r} (YAML needs {ascii_form})" for ch, ascii_form in _FULL_WIDTH_YAML.items() if ch in text]
    return "; it holds the full-width " + ", ".join(hints) if hints else ""


def _yaml_syntax_problem(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """``FILE:LINE: not valid YAML (...)`` for a parse error: the line where the broken construct began
    (an unclosed quote or bracket, a key without its colon) rather than where the parser gave up, which
    is often the next line or the end of the file; both are in the message when they differ. A
    full-width colon, comma, bracket or space on that line is pointed out."""
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    mark = context_mark or problem_mark
    if "another document" in problem:  # a second `---` document: where it starts is the mistake
        mark = problem_mark or context_mark
    if mark is None:
        return f"{path}: not valid YAML ({exc})"
    context = getattr(exc, "context", None)
    detail = problem
    if _TAB_TOKEN in problem:
        detail += "; a tab: YAML indents with spaces only"
    if context and problem_mark is not None and context_mark is not None:
        detail = f"{context} on line {context_mark.line + 1}: {problem} on line {problem_mark.line + 1}"
    lines = text.split("\n")
    detail += _full_width_hint(lines[mark.line] if mark.line < len(lines) else "")
    return f"{path}:{mark.line + 1}: not valid YAML ({detail})"


def locate_values(path: str | Path, values: Iterable[str]) -> dict[str, str]:
    """Where each of ``values`` (a path as written) is named in the YAML config at ``path``: ``FILE:LINE:
    field.path`` of the first key or scalar equal to it, or ending in ``:VALUE`` (``replay:FILE``).

    For messages about a file the config names that does not exist; a config that cannot be read (it was
    read once already) or a value not found leaves the value out."""
    from cvalues.data.errors import DataError
    from cvalues.data.readers import detect_encoding

    wanted = set(values)
    found: dict[str, str] = {}
    try:
        _, root = _compose(Path(path).read_text(encoding=detect_encoding(Path(path))))
    except (OSError, UnicodeDecodeError, DataError, yaml.YAMLError):
        return found

    def note(node: yaml.Node, loc: list[str | int]) -> None:
        text = str(getattr(node, "value", ""))
        for value in wanted - found.keys():
            if text == value or text.endswith(":" + value):
                found[value] = f"{path}:{node.start_mark.line + 1}: {_field_path(loc)}"

    def walk(node: yaml.Node, loc: list[str | int]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(getattr(key, "value", ""))
                note(key, [*loc, name])
                walk(value, [*loc, name])
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, [*loc, i])
        elif isinstance(node, yaml.ScalarNode):
            note(node, loc)

    if root is not None:
        walk(root, [])
    return found


def _duplicate_keys(source: str, root: yaml.Node | None) -> list[str]:
    """A key given twice in one mapping (YAML loaders silently keep the last one, so a second `out:`
    would quietly move the whole run): ``FILE:LINE: field.path: given twice (first on line N)``."""
    problems: list[str] = []

    def walk(node: yaml.Node, loc: list[str | int]) -> None:
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(getattr(key, "value", ""))
                if name in first:
                    problems.append(
                        f"{source}:{key.start_mark.line + 1}: {_field_path([*loc, name])}: "
                        f"given twice (first on line {first[name]})"
                    )
                else:
                    first[name] = key.start_mark.line + 1
                walk(value, [*loc, name])
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, [*loc, i])

    if root is not None:
        walk(root, [])
    return problems
