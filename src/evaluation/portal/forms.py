"""Forms built from the data dictionary.

Fields, Swedish labels, help texts and drop-down lists are read from ``dictionary.yaml`` each
time a form is made, so a change there changes the forms. Field names are the dictionary's
column names. The forms do not check values themselves: :meth:`DictionaryForm.clean` hands the
row to :mod:`evaluation.portal.registration`, i.e. to the validator of ``evaluation validate``,
and puts its Swedish messages beside the fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms

from evaluation.data.dictionary import Column, load_dictionary
from evaluation.data.pseudonymise import InvalidIdentityNumber, parse_personnummer
from evaluation.data.safe_text import mask_identity_numbers
from evaluation.portal.registration import Checked

__all__ = ["FORM_KINDS", "ChildLookupForm", "DictionaryForm", "NoEchoInput", "form_layout"]

#: Columns never typed in a form: set by the server (municipality from the user's profile,
#: ids, the follow-up type) or derived (planned ending, sex and birth year from the number).
SERVER_COLUMNS = {"municipality_code", "followup_type", "episode_id", "child_id"}

FORM_KINDS = ("episode", "followup", "ending")

#: Posted values that are not masked: tokens checked on their own (a random hex id may hold a
#: run of digits shaped like an identity number).
_UNMASKED = {"csrfmiddlewaretoken", "submission_id"}

_GROUP_TITLES = {
    "problems": "Grundproblematik (kryssa i allt som stämmer)",
    "themes": "Barnets egna betyg, 1 (sämst) till 5 (bäst)",
}


def _entered(table: str, stages: tuple[str, ...], skip: set[str] = frozenset()) -> list[Column]:
    return [
        c for c in load_dictionary().table(table).values()
        if c.stage in stages and c.source == "entered" and c.identifier == "none"
        and c.name not in SERVER_COLUMNS and c.name not in skip
    ]


def form_layout(kind: str) -> list[tuple[str, str, list[Column]]]:
    """Sections of a form: ``(title, table, columns)``, columns in dictionary order.

    Parameters
    ----------
    kind : {'episode', 'followup', 'ending'}
        New placement episode (start columns of ``episodes``), follow-up (``followups``) or
        ending (end columns of ``episodes`` plus the ending assessment in ``followups``,
        dated on the end date).
    """
    if kind == "episode":
        parts = [("Placeringen", "episodes", _entered("episodes", ("start",)))]
    elif kind == "followup":
        parts = [("Uppföljningen", "followups", _entered("followups", ("followup",)))]
    elif kind == "ending":
        parts = [
            ("Avslutet", "episodes", _entered("episodes", ("end",))),
            ("Bedömning vid avslutet och barnets egen syn", "followups",
             _entered("followups", ("followup",), {"followup_date"})),
        ]
    else:
        raise ValueError(f"unknown form kind {kind!r}")
    out = []
    for title, table, cols in parts:
        plain = [c for c in cols if c.group is None]
        out.append((title, table, plain))
        for group in dict.fromkeys(c.group for c in cols if c.group is not None):
            out.append((_GROUP_TITLES.get(group, group), table,
                        [c for c in cols if c.group == group]))
    return out


def _help(col: Column) -> str:
    text = col.description["sv"]
    if col.type == "date":
        text += " Skriv datumet som ÅÅÅÅ-MM-DD."
    if col.unit:
        text += f" Enhet: {col.unit}."
    return text


def _field(col: Column) -> forms.Field:
    label = col.label["sv"] + (" (obligatoriskt)" if col.required else "")
    attrs: dict[str, str] = {}
    if col.required:
        attrs["aria-required"] = "true"
    if col.type == "code":
        choices = [("", "– Välj –")] + [(c["code"], c["sv"]) for c in col.codes]
        widget: forms.Widget = forms.Select(choices=choices, attrs=attrs)
    elif col.type == "boolean" and col.group is not None:
        return forms.BooleanField(label=label.split(": ", 1)[-1], required=False,
                                  help_text=col.description["sv"])
    elif col.type == "boolean":
        widget = forms.Select(choices=[("", "– Välj –"), ("ja", "Ja"), ("nej", "Nej")],
                              attrs=attrs)
    elif (col.type == "integer" and col.min is not None and col.max is not None
          and col.max - col.min <= 10):
        nums = [(str(i), str(i)) for i in range(int(col.min), int(col.max) + 1)]
        widget = forms.Select(choices=[("", "– Inget svar –")] + nums, attrs=attrs)
    elif col.type == "date":
        widget = forms.TextInput(attrs={**attrs, "placeholder": "ÅÅÅÅ-MM-DD",
                                        "autocomplete": "off", "inputmode": "numeric"})
    elif col.type in ("integer", "number"):
        widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal", "autocomplete": "off"})
    else:
        widget = forms.TextInput(attrs={**attrs, "autocomplete": "off"})
    # Not required for Django: "required" is a rule of the shared validator.
    return forms.CharField(label=label, required=False, help_text=_help(col), widget=widget,
                           max_length=200)


class DictionaryForm(forms.Form):
    """A registration form made from the dictionary.

    Parameters
    ----------
    data : QueryDict, optional
        Posted values; every value is passed through
        :func:`~evaluation.data.safe_text.mask_identity_numbers` first, so an identity number
        typed into a wrong field is neither checked, stored nor shown again.
    kind : {'episode', 'followup', 'ending'}
    check : callable, optional
        ``check(values) -> Checked`` with ``values = {table: {column: text}}``; run by
        :meth:`clean` (the views pass a closure adding the context rows).
    """

    submission_id = forms.CharField(widget=forms.HiddenInput, label="Formulärets id")

    def __init__(self, data: Any = None, *, kind: str,
                 check: Callable[[dict[str, dict[str, str]]], Checked] | None = None,
                 **kwargs: Any) -> None:
        if data is not None:
            data = {k: v if k in _UNMASKED else mask_identity_numbers(v)
                    for k, v in data.items()}
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("submission_id", uuid.uuid4().hex)
        super().__init__(data, **kwargs)
        self.kind = kind
        self.check = check
        self.sections: list[dict[str, Any]] = []
        self.tables: dict[str, str] = {}
        for title, table, cols in form_layout(kind):
            names = []
            for col in cols:
                self.fields[col.name] = _field(col)
                self.tables[col.name] = table
                names.append(col.name)
            if names:
                self.sections.append({"title": title, "names": names,
                                      "group": cols[0].group is not None})

    def section_fields(self) -> list[dict[str, Any]]:
        """Sections with their bound fields (for the template)."""
        return [{**s, "fields": [self[n] for n in s["names"]]} for s in self.sections]

    def clean_submission_id(self) -> str:
        value = self.cleaned_data.get("submission_id", "")
        try:
            return uuid.UUID(str(value)).hex
        except ValueError:
            raise forms.ValidationError("Formuläret är trasigt; ladda om sidan.") from None

    def values(self) -> dict[str, dict[str, str]]:
        """Cleaned values as dictionary text per table (checkboxes as ``true``/``false``)."""
        out: dict[str, dict[str, str]] = {}
        for name, table in self.tables.items():
            v = self.cleaned_data.get(name)
            if isinstance(v, bool):
                text = "true" if v else "false"
            else:
                text = "" if v is None else str(v).strip()
            if text:
                out.setdefault(table, {})[name] = text
        return out

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.check is not None and not self.errors:
            checked = self.check(self.values())
            for (table, column), messages in checked.errors.items():
                field = column if self.tables.get(column) == table else None
                for m in messages:
                    self.add_error(field, m)
            for m in checked.general:
                self.add_error(None, m)
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        for name, errors in self.errors.items():   # tie each message to its field
            if name in self.fields and errors:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"id_{name}_error id_{name}_helptext"


class NoEchoInput(forms.TextInput):
    """A text input that never writes its value back into the page."""

    def format_value(self, value: Any) -> None:
        return None


class ChildLookupForm(forms.Form):
    """The child's personnummer or samordningsnummer, turned into a pseudonym at once."""

    personnummer = forms.CharField(
        label="Barnets personnummer eller samordningsnummer",
        help_text="12 siffror, ÅÅÅÅMMDD-NNNN. Numret sparas aldrig; det omvandlas direkt till en "
                  "pseudonym.",
        max_length=20,
        widget=NoEchoInput(attrs={"autocomplete": "off", "inputmode": "numeric",
                                  "spellcheck": "false", "aria-required": "true"}),
        error_messages={"required": "Skriv barnets personnummer eller samordningsnummer."},
    )

    def clean_personnummer(self) -> Any:
        try:
            return parse_personnummer(self.cleaned_data["personnummer"])
        except InvalidIdentityNumber as err:
            why = err.message_sv.split("): ", 1)[-1]   # without the masked number
            raise forms.ValidationError(
                f"Numret är inte ett giltigt personnummer eller samordningsnummer: {why}"
            ) from None

    def full_clean(self) -> None:
        super().full_clean()
        if self.errors.get("personnummer"):
            self.fields["personnummer"].widget.attrs.update(
                {"aria-invalid": "true",
                 "aria-describedby": "id_personnummer_error id_personnummer_helptext"})


def login_form_class() -> type:
    """Django's login form that never shows an identity number again: a personnummer typed
    into the user-name field by mistake is not written back into the page after a failed
    login (the field is left empty)."""
    from django.contrib.auth.forms import AuthenticationForm

    class LoginForm(AuthenticationForm):
        def is_valid(self) -> bool:
            valid = super().is_valid()
            name = str(self.data.get("username", "")) if self.data else ""
            if not valid and name and mask_identity_numbers(name) != name:
                data = self.data.copy()
                data["username"] = ""
                self.data = data
            return valid

    return LoginForm
