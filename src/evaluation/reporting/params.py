"""A report notebook's parameters: read, typed, documented and checked before execution.

One job: the annotated ``parameters`` cell of a notebook -> :class:`ParameterSpec` per
parameter -> values from the command line or a YAML file checked and converted, or refused
with a message in Swedish and English, before any cell runs.

A parameter line reads ``name: type = default  # help [rule]...``. The type is ``str``,
``int``, ``float`` or ``bool`` (without an annotation: the default's type). Rules in square
brackets at the end of the comment: ``[choices: sv, en]``, ``[min: 5]``, ``[max: 100]``,
``[date]`` (YYYY-MM-DD) and ``[municipality]`` (a four-digit code or ``all``).
"""

from __future__ import annotations

import ast
import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.errors import ParameterError

__all__ = ["INTERNAL_FLAG", "ParameterSpec", "check_mode", "check_parameters",
           "notebook_parameters", "parameter_specs", "parameters_help", "read_parameter_file"]

#: The command-line flag without which no report runs in internal mode.
INTERNAL_FLAG = "--internal"

_TRUE = {"true", "1", "yes", "ja", "y", "j"}
_FALSE = {"false", "0", "no", "nej", "n"}
_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_RULE = re.compile(r"\[(choices|min|max|date|municipality)(?::\s*([^\]]*))?\]")


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of a report notebook.

    Attributes
    ----------
    name : str
    type : type
        ``str``, ``int``, ``float`` or ``bool``; ``None`` for a parameter whose default is
        None and that has no annotation (any value).
    default : object
    help : str
        The comment after the default, without the rules.
    choices : tuple of str
    minimum, maximum : float or None
    kind : str
        ``""``, ``"date"`` or ``"municipality"``.
    """

    name: str
    type: type | None
    default: Any
    help: str = ""
    choices: tuple[str, ...] = field(default_factory=tuple)
    minimum: float | None = None
    maximum: float | None = None
    kind: str = ""

    def describe(self) -> str:
        """One line for ``--help-params``: name, type, default, rules and help."""
        rules = []
        if self.choices:
            rules.append("one of " + ", ".join(self.choices))
        if self.minimum is not None:
            rules.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            rules.append(f"<= {self.maximum:g}")
        if self.kind == "date":
            rules.append("date YYYY-MM-DD")
        if self.kind == "municipality":
            rules.append("four-digit municipality code or all")
        kind = self.type.__name__ if self.type else "any"
        extra = f" ({'; '.join(rules)})" if rules else ""
        return f"  {self.name} ({kind}, default {self.default!r}){extra}\n      {self.help}"


def _spec(name: str, info: dict[str, Any], path: Path) -> ParameterSpec:
    try:
        default = ast.literal_eval(info["default"])
    except (ValueError, SyntaxError) as exc:
        raise ParameterError(
            f"Default of parameter {name!r} in {path.name} is not a literal: "
            f"{info['default']!r}. Parameters cells hold literals only.") from exc
    annotated = _TYPES.get(str(info.get("inferred_type_name") or "").strip())
    kind = annotated or (type(default) if default is not None else None)
    text = str(info.get("help") or "")
    choices: tuple[str, ...] = ()
    minimum = maximum = None
    special = ""
    for rule, arg in _RULE.findall(text):
        if rule == "choices":
            choices = tuple(x.strip().strip("\"'") for x in arg.split(",") if x.strip())
        elif rule in ("min", "max"):
            try:
                number = float(arg)
            except ValueError as exc:
                raise ParameterError(f"{path.name}: [{rule}: {arg}] of {name!r} is not a "
                                     "number.") from exc
            minimum, maximum = (number, maximum) if rule == "min" else (minimum, number)
        else:
            special = rule
    return ParameterSpec(name=name, type=kind, default=default,
                         help=_RULE.sub("", text).strip(), choices=choices, minimum=minimum,
                         maximum=maximum, kind=special)


def parameter_specs(notebook: str | Path) -> dict[str, ParameterSpec]:
    """The parameters of a notebook's ``parameters``-tagged cell, in order.

    Raises
    ------
    ParameterError
        If the notebook does not exist or a default is not a Python literal.
    """
    import papermill

    path = Path(notebook)
    if not path.is_file():
        raise ParameterError(f"Notebook {str(path)!r} does not exist.")
    return {name: _spec(name, info, path)
            for name, info in papermill.inspect_notebook(str(path)).items()}


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """Names and default values of the notebook's ``parameters``-tagged cell.

    Parameters
    ----------
    notebook : str or Path
        Path of the ``.ipynb`` file.

    Returns
    -------
    dict of str to object
        Parameter name to its literal default, in the order of the cell.

    Raises
    ------
    ParameterError
        If the notebook does not exist or a default is not a Python literal.
    """
    return {name: spec.default for name, spec in parameter_specs(notebook).items()}


def _refuse(spec: ParameterSpec, value: Any, sv: str, en: str) -> ParameterError:
    return ParameterError(
        f"Parametern {spec.name} = {value!r}: {sv}. / Parameter {spec.name} = {value!r}: {en}.",
        parameter=spec.name, value=value)


def _convert(spec: ParameterSpec, value: Any) -> Any:
    kind = spec.type
    wrong = _refuse(spec, value, f"ska vara {getattr(kind, '__name__', 'ett värde')}",
                    f"must be {getattr(kind, '__name__', 'a value')}")
    if kind is None:
        if isinstance(value, str) and value.strip().lower() in {"none", "null", ""}:
            return None
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise wrong
    if isinstance(value, bool):
        raise wrong
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise wrong from None
        raise wrong
    if kind is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip().replace(",", "."))
            except ValueError:
                raise wrong from None
        raise wrong
    if isinstance(value, (_dt.date,)):
        return value.isoformat()
    if isinstance(value, (str, int, float)):
        return str(value)
    raise wrong


def _check_rules(spec: ParameterSpec, value: Any) -> Any:
    if value is None:
        return value
    if spec.choices and str(value) not in spec.choices:
        raise _refuse(spec, value, "välj en av " + ", ".join(spec.choices),
                      "choose one of " + ", ".join(spec.choices))
    if spec.minimum is not None and value < spec.minimum:
        raise _refuse(spec, value, f"minst {spec.minimum:g}", f"at least {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise _refuse(spec, value, f"högst {spec.maximum:g}", f"at most {spec.maximum:g}")
    if spec.kind == "date":
        try:
            _dt.date.fromisoformat(str(value))
        except ValueError:
            raise _refuse(spec, value, "ett datum ÅÅÅÅ-MM-DD, t.ex. 2024-12-31",
                          "a date YYYY-MM-DD, e.g. 2024-12-31") from None
    if spec.kind == "municipality":
        text = str(value).strip()
        if text.isdigit() and len(text) == 3:
            text = "0" + text  # the leading zero Excel drops
        if not (text == "all" or (len(text) == 4 and text.isdigit())):
            raise _refuse(spec, value, "en kommunkod med fyra siffror (t.ex. 0580) eller all",
                          "a four-digit municipality code (e.g. 0580) or all")
        return text
    return value


def check_parameters(given: dict[str, Any], specs: dict[str, ParameterSpec],
                     notebook: str | Path) -> dict[str, Any]:
    """Check and convert the given parameters; refuse unknown names, wrong types and values
    outside their rules (the message names the closest known parameter)."""
    name_of = Path(notebook).name
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name not in specs:
            close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}? / Menade du {close[0]!r}?" if close else ""
            raise ParameterError(
                f"Unknown parameter {name!r} for {name_of}.{hint} "
                f"Known parameters: {', '.join(specs)}.", parameter=name)
        spec = specs[name]
        checked[name] = _check_rules(spec, _convert(spec, value))
    return checked


def parameters_help(notebook: str | Path) -> str:
    """The text of ``evaluation report NOTEBOOK --help-params``."""
    specs = parameter_specs(notebook)
    lines = [f"Parametrar för / parameters of {Path(notebook).name} "
             "(-p NAME VALUE or -f params.yaml; data_dir comes from --data):"]
    lines += [spec.describe() for spec in specs.values()]
    return "\n".join(lines)


def read_parameter_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML file holding one mapping of names to values.

    Raises
    ------
    ParameterError
        If the file is missing, not YAML, or not a mapping of names to plain values.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"Parameterfilen {str(p)!r} finns inte. / The parameter file "
                             f"{str(p)!r} does not exist.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{p.name} är inte giltig YAML ({exc}). / {p.name} is not valid "
                             f"YAML ({exc}).") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(f"{p.name} ska vara namn: värde per rad. / {p.name} must hold "
                             "name: value lines.")
    for k, v in data.items():
        if isinstance(v, (dict, list)):
            raise ParameterError(f"{p.name}: {k} ska ha ett enkelt värde. / {p.name}: {k} must "
                                 "have a plain value.", parameter=k)
    return dict(data)


def check_mode(params: dict[str, Any], defaults: dict[str, Any], *, internal: bool,
               notebook: str = "the notebook") -> dict[str, Any]:
    """Apply the disclosure mode to checked parameters: publication unless ``internal``.

    Internal mode (exact numbers, small counts included) is never a default: a notebook whose
    ``mode`` defaults to ``"internal"`` is refused, ``mode = "internal"`` as a parameter is
    refused unless ``internal`` is True (the ``--internal`` flag of ``evaluation report``),
    and ``internal`` sets ``mode`` to ``"internal"``.

    Parameters
    ----------
    params : dict
        Parameters already checked (:func:`check_parameters`).
    defaults : dict
        The notebook's parameters and defaults (:func:`notebook_parameters`).
    internal : bool
        The explicit request for internal mode.
    notebook : str
        Name of the notebook, for messages.

    Returns
    -------
    dict
        ``params`` with ``mode`` set when the notebook has that parameter.

    Raises
    ------
    ParameterError
        With a message in Swedish and English naming ``--internal``.
    """
    out = dict(params)
    has_mode = "mode" in defaults
    if has_mode and defaults["mode"] != "publication":
        raise ParameterError(
            f"{notebook}: parametern mode måste ha standardvärdet \"publication\", inte "
            f"{defaults['mode']!r}. / The mode parameter must default to \"publication\", not "
            f"{defaults['mode']!r}."
        )
    asked = str(out.get("mode", "publication")).strip().lower()
    if asked not in ("publication", "internal"):
        raise ParameterError(
            f"mode={out.get('mode')!r} är okänt; välj \"publication\" (standard) eller "
            f"\"internal\" med {INTERNAL_FLAG}. / mode={out.get('mode')!r} is unknown; choose "
            f"\"publication\" (the default) or \"internal\" with {INTERNAL_FLAG}."
        )
    if internal:
        if not has_mode:
            raise ParameterError(
                f"{notebook} har ingen parameter mode och kan inte köras internt. / "
                f"{notebook} has no mode parameter and cannot run in internal mode."
            )
        if asked != "internal" and "mode" in out:
            raise ParameterError(
                f"{INTERNAL_FLAG} och -p mode {out['mode']} motsäger varandra. / "
                f"{INTERNAL_FLAG} contradicts -p mode {out['mode']}."
            )
        out["mode"] = "internal"
    elif asked == "internal":
        raise ParameterError(
            f"Internt läge (exakta tal) kräver flaggan {INTERNAL_FLAG}; rapporten får då inte "
            f"lämna organisationen. / Internal mode (exact numbers) needs the flag "
            f"{INTERNAL_FLAG}; the report must then not leave the organisation."
        )
    return out
