"""Command line: ``evaluation <command>``.

Thin by design: it parses arguments, calls the package and prints a one-line summary.
Expected failures (any :class:`~evaluation.errors.EvaluationError`) print a clear message
to standard error without a traceback and exit with status 1; argument errors exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.errors import BatchError, EvaluationError, ParameterError

DESCRIPTION = (
    "Follow-up of children placed in out-of-home care: synthetic data, validation, "
    "pseudonymisation, data dictionary and reports."
)


def _table_arg(value: str) -> str:
    """``--table``: a known table name (English or Swedish), as the dictionary spells it."""
    from evaluation.data.dictionary import TABLES
    from evaluation.data.rawtable import resolve_table_name

    resolved = resolve_table_name(value)
    if resolved is None:
        raise argparse.ArgumentTypeError(
            f"okänd tabell {value!r}; välj en av {', '.join(TABLES)} (svenska namn som "
            f"placeringar går också) / unknown table {value!r}; choose one of "
            f"{', '.join(TABLES)} (Swedish names such as placeringar work too)"
        )
    return resolved


_TABLE_HELP = (
    "read every given file as this table (episodes, placements, followups, referrals; Swedish "
    "names work too); default: taken from each file name"
)


# Files this toolkit writes beside tables; skipped when a shell glob passes them to validate.
OUTPUT_FILE_STEMS = {"quarantine", "problems"}


def _cmd_synth(args: argparse.Namespace) -> str:
    from evaluation.data import synth

    if args.children < 1 or args.municipalities < 1:
        raise ParameterError("--children and --municipalities must be at least 1.")
    data = synth.generate(
        n_children=args.children,
        n_municipalities=args.municipalities,
        seed=args.seed,
        start=args.start,
        end=args.end,
    )
    paths = synth.write(data, args.out, raw=args.raw)
    counts = ", ".join(f"{t} {len(df)}" for t, df in data.tables.items())
    raw = " (and a raw extract in raw/)" if args.raw else ""
    return f"synth: wrote {counts} rows and truth.json to {Path(args.out)}{raw} [{len(paths)} files]"


def _cmd_validate(args: argparse.Namespace) -> str:
    from evaluation.data.validate import validate_files

    files = []
    for f in args.files:
        if Path(f).stem in OUTPUT_FILE_STEMS:
            print(f"validate: skipping {f} (an output of this toolkit, not a table)", file=sys.stderr)
        else:
            files.append(f)
    if not files:
        raise ParameterError("No table files left to validate after skipping output files.")
    summary = validate_files(files, args.out, table=args.table)
    return "validate: " + summary.line()


def _cmd_pseudonymise(args: argparse.Namespace) -> str:
    from evaluation.data.pseudonymise import load_key, pseudonymise_files

    key = load_key(args.key_file)
    summary = pseudonymise_files(args.files, key, args.out, table=args.table)
    return "pseudonymise: " + summary


def _cmd_keygen(args: argparse.Namespace) -> str:
    from evaluation.data.pseudonymise import generate_key

    folder = Path(args.keyfile).parent
    new_folder = not folder.exists()
    path = generate_key(args.keyfile)
    made = f" (created the folder {folder}, mode 700)" if new_folder else ""
    return (
        f"keygen: wrote a new 32-byte key to {path} (mode 600){made}. Keep it outside the data "
        "folders and never commit it; the same key gives the same pseudonyms."
    )


def _cmd_dictionary(args: argparse.Namespace) -> str:
    from evaluation.data.pages import write_pages

    paths = write_pages(args.out)
    return f"dictionary: wrote {len(paths)} files to {Path(args.out)}: " + ", ".join(
        p.name for p in paths
    )


def _report_parameters(args: argparse.Namespace) -> dict[str, object]:
    """Parameters from ``-f params.yaml`` then ``-p NAME VALUE`` (which wins)."""
    from evaluation.reporting.params import read_parameter_file

    params: dict[str, object] = dict(read_parameter_file(args.param_file)) if args.param_file \
        else {}
    given: set[str] = set()
    for name, value in args.parameter or []:
        if name in given:
            raise ParameterError(f"Parametern {name!r} ges två gånger. / Parameter {name!r} "
                                 "given twice.")
        given.add(name)
        params[name] = value
    return params


def _help_params(args: argparse.Namespace) -> str | None:
    """The parameter listing when ``--help-params`` is given; else check that ``--data`` and
    ``--out`` are (they are optional only for the listing) and return None."""
    from evaluation.reporting.params import parameters_help

    if args.help_params:
        return parameters_help(args.notebook)
    if not args.data or not args.out:
        raise ParameterError(f"{args.command} behöver --data och --out. / {args.command} needs "
                             "--data and --out.")
    return None


def _cmd_report(args: argparse.Namespace) -> str:
    from evaluation.reporting.run import run_report

    listing = _help_params(args)
    if listing is not None:
        return listing
    html = run_report(args.notebook, args.data, args.out, _report_parameters(args),
                      name=args.name, internal=args.internal, pdf=args.pdf)
    return f"report: wrote {html} (and {html.stem}.results.json, .tables/, .provenance.json" \
           f"{', .pdf' if args.pdf else ''})"


def _cmd_batch(args: argparse.Namespace) -> str:
    from evaluation.reporting.batch import run_batch

    listing = _help_params(args)
    if listing is not None:
        return listing
    units = [u.strip() for u in args.units.split(",") if u.strip()] if args.units else None
    summary = run_batch(args.notebook, args.data, args.out, by=args.by, units=units,
                        parameters=_report_parameters(args), workers=args.workers,
                        scheduler=args.scheduler, name=args.name, internal=args.internal,
                        progress=not args.quiet)
    if summary.failed:
        lines = [f"  {f['unit']}: {f['error']}" for f in summary.failed]
        raise BatchError("batch: " + summary.line() + "\n" + "\n".join(lines))
    return "batch: " + summary.line()


def _cmd_index(args: argparse.Namespace) -> str:
    from evaluation.reporting.index import write_folder_index

    return f"index: wrote {write_folder_index(args.folder, lang=args.lang)}"


def _add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by ``report`` and ``batch``."""
    p.add_argument("notebook", help="e.g. notebooks/01-overview.ipynb")
    p.add_argument("--data", help="folder with validated tables")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="set a notebook parameter (repeatable); see --help-params")
    p.add_argument("-f", "--param-file", metavar="PARAMS.yaml",
                   help="parameters from a YAML file (name: value per line); -p wins")
    p.add_argument("--help-params", action="store_true",
                   help="list the notebook's parameters with their types, rules and defaults")
    p.add_argument("--out", help="output folder")
    p.add_argument("--name", help="NAME of the output files (default: the notebook's stem)")
    p.add_argument(
        "--internal",
        action="store_true",
        help="internal mode: exact numbers, small counts included, with a banner; the report "
        "must not leave the organisation (default: publication mode, protected numbers; "
        "-p mode internal is refused without this flag)",
    )


def cli_language(argv: list[str] | None = None) -> str:
    """Language of help and messages: ``--lang`` on the command line, else
    ``EVALUATION_LANG``, else Swedish when the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``,
    or Windows' locale) is Swedish, else English."""
    import locale
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args) and args[i + 1] in ("sv", "en"):
            return args[i + 1]
        if arg in ("--lang=sv", "--lang=en"):
            return arg[-2:]
    chosen = os.environ.get("EVALUATION_LANG", "")
    if chosen in ("sv", "en"):
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "sv" if value.lower().startswith("sv") else "en"
    try:
        current = locale.getlocale()[0] or ""
    except ValueError:
        current = ""
    return "sv" if current.lower().startswith(("sv", "swedish")) else "en"


def help_translations() -> dict[str, str]:
    """English help text -> Swedish (catalog ``cli.yaml``)."""
    from evaluation.reporting.text import load_catalog

    return {entry["en"]: entry["sv"] for entry in load_catalog("cli")["help"].values()}


def _parsers(parser: argparse.ArgumentParser):
    """The parser and every sub-parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def _translate(parser: argparse.ArgumentParser) -> None:
    """Put the Swedish help texts and argparse's headings in Swedish."""
    words = help_translations()
    for p in _parsers(parser):
        p.description = words.get(p.description, p.description) if p.description else None
        p._positionals.title = "argument"
        p._optionals.title = "flaggor"
        p.formatter_class = _SwedishFormatter
        for action in p._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                action.help = words.get(action.help, action.help)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    choice.help = words.get(choice.help, choice.help)


class _SwedishFormatter(argparse.HelpFormatter):
    """argparse's formatter with the usage line in Swedish."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix="användning: ")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors say "fel" in Swedish mode."""

    swedish = False

    def error(self, message):  # noqa: D401 - argparse's signature
        if not _Parser.swedish:
            super().error(message)
        import re

        for pattern, swedish in _ARGPARSE_SV:
            message = re.sub(pattern, swedish, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: fel: {message}\n")


# argparse's own usage errors in Swedish (the details it names stay as typed).
_ARGPARSE_SV = [
    (r"^the following arguments are required: ", "dessa argument krävs: "),
    (r"^unrecognized arguments: ", "okända argument: "),
    (r"invalid choice: (.*) \(choose from (.*)\)$", r"ogiltigt val: \1 (välj bland \2)"),
    (r"invalid (int|float) value: ", r"ogiltigt tal (\1): "),
    (r"expected (\w+) arguments?", r"väntade \1 argument"),
    (r"expected one argument", "väntade ett argument"),
]


def build_parser(lang: str = "en") -> argparse.ArgumentParser:
    """Build the argument parser (one sub-command per task), help in ``lang``."""
    from evaluation import __version__

    _Parser.swedish = lang == "sv"
    parser = _Parser(prog="evaluation", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"evaluation {__version__}")
    parser.add_argument("--lang", choices=["sv", "en"], default=None,
                        help="language of help and messages: sv or en (default: from LANG, "
                        "else en)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser(
        "synth",
        help="write synthetic data with known true effects",
        description="Write the four tables (episodes, placements, followups, referrals), "
        "pseudonymised, plus truth.json stating every true parameter. Same seed, same bytes.",
    )
    p.add_argument("--children", type=int, default=2000, help="number of children (default 2000)")
    p.add_argument(
        "--municipalities", type=int, default=30, help="number of municipalities (default 30)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--start", default="2019-01-01", help="first possible start date")
    p.add_argument("--end", default="2024-12-31", help="extraction date (data end)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--raw",
        action="store_true",
        help="also write a messy raw extract (identity numbers, labels, Swedish CSV) in OUT/raw",
    )
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "validate",
        help="check files against the data dictionary; bad rows go to quarantine",
        description="Read CSV/Excel/Parquet/SPSS files, check every row against the data "
        "dictionary and the cross-table rules, write accepted rows per table and "
        "quarantine.csv with the reason for every rejected row.",
    )
    p.add_argument("files", nargs="+", help="input files (table name taken from the file name)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--table", type=_table_arg, default=None, metavar="NAME", help=_TABLE_HELP)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "pseudonymise",
        help="replace identity numbers with keyed pseudonyms",
        description="Check each personnummer/samordningsnummer, derive sex and birth year, "
        "replace it by HMAC-SHA256 under your secret key and drop direct identifiers. "
        "Invalid numbers go to quarantine.csv. Key from --key-file or $EVALUATION_KEY.",
    )
    p.add_argument("files", nargs="+", help="input files")
    p.add_argument("--key-file", default=None, help="key file made by `evaluation keygen`")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--table", type=_table_arg, default=None, metavar="NAME", help=_TABLE_HELP)
    p.set_defaults(func=_cmd_pseudonymise)

    p = sub.add_parser(
        "keygen",
        help="make a new secret pseudonymisation key",
        description="Write 32 random bytes (hex) to KEYFILE, readable only by you.",
    )
    p.add_argument(
        "keyfile",
        help="where to write the key (must not exist; missing folders are created, private)",
    )
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser(
        "dictionary",
        help="render the data dictionary pages and the Excel registration template",
        description="Write dictionary.sv.md, dictionary.en.md, dictionary.html and "
        "registration_template.xlsx from data_dictionary/dictionary.yaml.",
    )
    p.add_argument("--out", default="data_dictionary", help="output folder (default data_dictionary)")
    p.set_defaults(func=_cmd_dictionary)

    p = sub.add_parser(
        "report",
        help="run a report notebook and write HTML, results and tables",
        description="Execute NOTEBOOK on the data in --data (papermill, in this process) and "
        "write NAME.html (no code), NAME.ipynb, NAME.results.json (every number on the page), "
        "NAME.tables/*.csv and NAME.provenance.json. Parameters are checked against the "
        "notebook before it runs. Reports are in publication mode (disclosure control, see "
        "docs/disclosure.en.md) unless --internal is given.",
    )
    _add_report_arguments(p)
    p.add_argument("--pdf", action="store_true", help="also write NAME.pdf (A4, WeasyPrint)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "batch",
        help="run a report for every municipality (or other unit), with an index page",
        description="Run NOTEBOOK once per value of --by in episodes.csv into OUT/<unit>/, "
        "in parallel (--workers) or on a Dask cluster (--scheduler), keep going when a unit "
        "fails, write OUT/index.html and OUT/index.json, list failures and exit 1 if any.",
    )
    _add_report_arguments(p)
    p.add_argument("--by", default="municipality_code",
                   help="column of episodes.csv whose values are the units "
                   "(default municipality_code)")
    p.add_argument("--units", help="only these units, comma-separated (default: all)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing Dask distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser(
        "index",
        help="write index.html linking every report in a folder",
        description="Write FOLDER/index.html listing every NAME.html that has a "
        "NAME.results.json beside it, by title.",
    )
    p.add_argument("folder", help="folder of reports, e.g. reports/demo")
    p.add_argument("--lang", default="sv", choices=["sv", "en"], help="language (default sv)")
    p.set_defaults(func=_cmd_index)
    from evaluation.portal.commands import add_parser as add_portal_parser

    add_portal_parser(sub)
    if lang == "sv":
        _translate(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``evaluation`` console script."""
    lang = cli_language(argv)
    parser = build_parser(lang)
    args = parser.parse_args(argv)
    try:
        line = args.func(args)
    except EvaluationError as exc:
        from evaluation.data.safe_text import mask_identity_numbers  # pandas: only when needed

        word = "fel" if lang == "sv" else "error"
        print(f"evaluation {args.command}: {word}: {mask_identity_numbers(str(exc))}",
              file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        text = "filen finns inte" if lang == "sv" else "file not found"
        print(f"evaluation {args.command}: {'fel' if lang == 'sv' else 'error'}: {text}: "
              f"{exc.filename}", file=sys.stderr)
        return 1
    try:
        print(line)
    except BrokenPipeError:  # e.g. `evaluation ... | head`: the reader has gone, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
