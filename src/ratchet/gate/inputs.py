"""What the gate and the report read: the base from git, read once into a Revision; the branch
from the working tree as the reproduction left it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import ValidationError

from ratchet.core.data import read_split
from ratchet.core.dvc import recorded_md5
from ratchet.core.errors import RatchetError
from ratchet.core.git import git, git_call, resolve, show, tracked_files
from ratchet.core.metrics import METRICS, parse_metrics
from ratchet.core.paths import (
    DATA_DVC_FILE,
    DATA_SUMMARY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARAMS_FILE,
    PLOTS_DIR,
    TEST_FILE,
)
from ratchet.core.settings import (
    DataParams,
    GateParams,
    Params,
    SplitParams,
    load_params,
    loose_yaml,
)
from ratchet.gate.champion import Champion, find_model, unlike
from ratchet.gate.compare import compare
from ratchet.gate.judge import (
    RESET_LABEL,
    Basis,
    GateResult,
    Measured,
    SliceMeasured,
    judge,
)
from ratchet.gate.report import DataSide, ReportInputs, render_report
from ratchet.gate.revision import Anchor, Revision, cannot_compare, find_anchor, summary_rows
from ratchet.pipeline.reproduction import Reproduction, untrusted_files

Rules = tuple[GateParams, Literal["base", "branch"]]


def base_rules(base: Revision, branch_rules: GateParams) -> Rules:
    """The base's gate section applies, so a branch cannot loosen the rules it is judged by."""
    try:
        rules = base.rules()
    except RatchetError as exc:
        raise RatchetError(
            f"{exc} (the base branch's gate section is invalid: fix it there)"
        ) from None
    return (branch_rules, "branch") if rules is None else (rules, "base")


def branch_data_md5() -> str | None:
    """The md5 of the data this branch's data.dvc records."""
    return recorded_md5(loose_yaml(read_text(None, DATA_DVC_FILE)))


def reset_grounds(base: Revision, params: Params) -> str | None:
    """Why this branch may be approved as a new baseline: it changes the data, target, task or
    gated metrics, so that its model cannot be held to the base's. None: it changes none."""
    grounds = cannot_compare(base, params.data, set(params.gate.metrics))
    if grounds is None and base.data_md5 != branch_data_md5():
        grounds = "the data changed"
    return grounds


def other_rows(base: Revision, data: DataParams, split: SplitParams) -> list[str]:
    """What makes this branch's test rows other than the base's own: its data file, the data's
    bytes, or the split. Empty when they are the same rows (the same data, split the same way)."""
    changed = []
    if base.data is None or base.data.path != data.path:
        changed.append("data.path")
    if base.data_md5 != branch_data_md5():
        changed.append("the data")
    try:
        same_split = SplitParams.model_validate(base.params.get("split")) == split
    except ValidationError:
        same_split = False
    if not same_split:
        changed.append("the split")
    return changed


@dataclass
class Measurement:
    """What was compared: the base's model and the anchor's against this branch's."""

    basis: Basis
    note: str
    measured: dict[str, Measured]
    slices: list[SliceMeasured] = field(default_factory=list)
    rows: int | None = None
    anchor: dict[str, Measured] | None = None
    anchor_note: str | None = None
    problems: list[str] = field(default_factory=list)


def recorded(
    revision: Revision, names: list[str], new_metrics: dict[str, float]
) -> dict[str, Measured] | None:
    """A commit's recorded metrics beside this branch's; None when it has none."""
    found = revision.metrics()
    if found is None:
        return None
    return {name: Measured(found.get(name), new_metrics.get(name)) for name in names}


def no_anchor_metrics(anchor_note: str) -> str:
    """The gate's problem when the anchor's side has nothing to compare with: it fails closed."""
    return (
        f"the anchor ({anchor_note}) has no readable {METRICS_FILE} to compare with: tag a "
        "release (v*) on the base branch to move the anchor"
    )


def not_the_same_rows(base: Revision, params: Params, why: str) -> list[str]:
    """The problem with judging on recorded metrics when this branch's test rows are not the
    base's own (`other_rows`); nothing when they are."""
    changed = other_rows(base, params.data, params.split)
    if not changed:
        return []
    new_data = "the data" in changed or "data.path" in changed
    fix = (
        f"a maintainer approves new data as a baseline reset with the label `{RESET_LABEL}`"
        if new_data
        else "change the split in a pull request of its own, where both models are scored on "
        "the new rows"
    )
    return [
        f"the base's model cannot be scored on this branch's rows ({why}), and "
        f"{' and '.join(changed)} of this branch {'differ' if len(changed) > 1 else 'differs'} "
        "from the base's, so the two recorded "
        f"metrics were measured on different test rows: {fix}"
    ]


def measure(
    base: Revision,
    anchor: Anchor,
    rules: GateParams,
    params: Params,
    new_metrics: dict[str, float],
) -> Measurement:
    """Both models, and the anchor's, on this branch's test rows when they can be; else their
    recorded metrics, said so, but only where this branch's test rows are the base's own: recorded
    metrics of other rows would let a pull request choose easier rows to be judged on."""
    data = params.data
    names = list(rules.metrics)
    problems: list[str] = []
    try:
        base_recorded = recorded(base, names, new_metrics)
    except RatchetError as exc:
        base_recorded, problems = None, [str(exc)]
    same_model = anchor.revision.model_md5 == base.model_md5
    where = f"{anchor.why}, {anchor.revision.short}"

    def recorded_instead(why: str) -> Measurement:
        if base_recorded is None:
            return Measurement(
                "recorded",
                f"nothing: the base has a model, but {why}, and no readable {METRICS_FILE}",
                {name: Measured(None, new_metrics.get(name)) for name in names},
                problems=[
                    *problems,
                    f"the base's model cannot be compared with this branch's: {why}, and the "
                    f"base has no readable {METRICS_FILE} to compare with instead",
                ],
            )
        note = (
            f"the base's recorded metrics ({METRICS_FILE} at {base.short}, measured on its own "
            f"test rows), because {why}"
        )
        problems.extend(not_the_same_rows(base, params, why))
        anchor_recorded: dict[str, Measured] | None = base_recorded
        anchor_note = f"{where}: the base's own model"
        if not same_model:
            anchor_recorded = recorded(anchor.revision, names, new_metrics)
            anchor_note = f"{where}: its recorded metrics, measured on its own test rows"
            if anchor_recorded is None:
                problems.append(no_anchor_metrics(anchor_note))
        return Measurement(
            "recorded",
            note,
            base_recorded,
            anchor=anchor_recorded,
            anchor_note=anchor_note,
            problems=problems,
        )

    # The cheap reasons first: fetching or retraining a model can take minutes.
    if base.data is None:
        return recorded_instead("the base's params.yaml has no valid data section")
    why_not = unlike(base.data, data)
    if why_not is None and not (MODEL_FILE.is_file() and TEST_FILE.is_file()):
        why_not = "this branch has no reproduced model"
    if why_not is not None:
        return recorded_instead(why_not)
    champion = find_model(base)
    if champion.model is None:
        return recorded_instead(f"the base's model could not be had: {champion.source}")
    anchor_model: Champion | None = None
    anchor_note = f"{where}: the base's own model"
    if not same_model:
        anchor_model, anchor_note = anchor_side(anchor, data)
    import joblib

    test = read_split(TEST_FILE)
    try:
        paired, slices, since_anchor = compare(
            (champion.model, base.data),
            (joblib.load(MODEL_FILE), data),
            test,
            rules,
            [name for name in names if name in METRICS[data.task]],
            anchor=None
            if anchor_model is None or anchor.revision.data is None
            else (anchor_model.model, anchor.revision.data),
        )
    except ValueError as exc:  # e.g. a category the base's model never saw, set to refuse
        said = " ".join(str(exc).split())[:200]
        return recorded_instead(f"the base's model refuses this branch's test rows ({said})")
    measured = {name: Measured(None, new_metrics.get(name)) for name in names} | paired
    if same_model:
        since_anchor = measured
    if since_anchor is None:
        try:
            since_anchor = recorded(anchor.revision, names, new_metrics)
        except RatchetError as exc:
            problems.append(str(exc))
        if since_anchor is None:
            problems.append(no_anchor_metrics(anchor_note))
    note = (
        f"both models on this branch's {len(test):,} test rows; the base's model: {champion.source}"
    )
    return Measurement(
        "paired", note, measured, slices, len(test), since_anchor, anchor_note, problems
    )


def anchor_side(anchor: Anchor, data: DataParams) -> tuple[Champion | None, str]:
    """The anchor's model, when it can be scored on this branch's rows, and a note on it."""
    where = f"{anchor.why}, {anchor.revision.short}"
    if anchor.revision.data is None:
        return None, f"{where}: its recorded metrics (its params.yaml has no valid data section)"
    why_not = unlike(anchor.revision.data, data)
    if why_not is not None:
        return None, f"{where}: its recorded metrics, measured on its own rows ({why_not})"
    model = find_model(anchor.revision)
    if model.model is None:
        return None, f"{where}: its recorded metrics, measured on its own rows ({model.source})"
    return model, f"{where}, scored on the same rows; its model: {model.source}"


@dataclass(frozen=True)
class Reset:
    """A maintainer's baseline reset: asked for (the label's own run, or --baseline-reset), or
    a label left on from before the latest push, which approves nothing."""

    asked: bool = False
    stale_label: bool = False


def judge_reset(
    base: Revision, params: Params, reset: Reset, rules: Rules
) -> tuple[bool, Rules, list[str]]:
    """Whether a baseline reset is approved, the rules it is judged by, and what to tell.

    The label counts only where no comparison can be fair (new data, target, task or metrics);
    the base's bounds (min, max) still apply unless the gated metrics themselves changed."""
    if reset.stale_label and not reset.asked:
        return (
            False,
            rules,
            [
                f"the label `{RESET_LABEL}` was given before the latest push, so it approves "
                "nothing here: a maintainer removes it and labels again to approve this commit"
            ],
        )
    if not reset.asked:
        return False, rules, []
    grounds = reset_grounds(base, params)
    if grounds is None:
        return (
            False,
            rules,
            [
                f"the label `{RESET_LABEL}` was refused: this pull request changes neither the "
                "data, the target, the task nor the gated metrics, so its model is compared with "
                "the base's as usual"
            ],
        )
    if base.metric_names != set(params.gate.metrics):
        rules = (params.gate, "branch")  # the base's bounds name other metrics
    return True, rules, [f"baseline reset approved because {grounds}"]


def branch_problems() -> tuple[list[str], dict[str, float]]:
    """What the reproduction found, what is committed that must not be, and the branch's
    reproduced metrics."""
    problems: list[str] = []
    try:
        reproduction: Reproduction | None = Reproduction.load()
        problems += reproduction.problems() if reproduction else []
    except RatchetError as exc:
        reproduction = None
        problems.append(str(exc))
    if reproduction is None or reproduction.verdict != "refused":
        # the gate's own look: a record committed in place of a reproduction is one of these
        problems += untrusted_files(tracked_files())
    try:
        return problems, parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE))
    except FileNotFoundError:
        problems.append(
            f"this branch has no {METRICS_FILE}: training did not finish (see the reproduction)"
        )
    except RatchetError as exc:
        problems.append(str(exc))
    return problems, {}


def run_gate(base: str, *, reset: Reset = Reset()) -> tuple[GateResult, Revision | None]:
    """Judge the reproduced branch against `base`, reading everything from git and disk; the
    verdict and the base as read, for the report."""
    params = load_params()
    problems, new_metrics = branch_problems()
    rules: Rules = (params.gate, "branch")
    revision: Revision | None = None
    try:
        revision = Revision.read(resolve(base, "base revision"))
        rules = base_rules(revision, params.gate)
    except RatchetError as exc:
        problems.append(str(exc))
    approved, notes = False, list[str]()
    if revision is not None:
        approved, rules, notes = judge_reset(revision, params, reset, rules)

    def nothing(why: str) -> Measurement:
        return Measurement(
            "none", why, {name: Measured(None, new_metrics.get(name)) for name in rules[0].metrics}
        )

    if revision is None:
        measurement = nothing("nothing: no base")
    elif approved:
        measurement = nothing(
            "nothing: a baseline reset, approved; the base's bounds (min, max) still apply"
            if rules[1] == "base"
            else "nothing: a baseline reset of the gated metrics, approved; this branch's "
            "bounds apply"
        )
    elif revision.model_md5 is None:
        measurement = nothing("nothing: the base has no model yet")
    else:
        try:
            anchor = find_anchor(revision)
            assert anchor is not None  # the base has a model
            measurement = measure(revision, anchor, rules[0], params, new_metrics)
        except RatchetError as exc:  # a commit git cannot read, a corrupt metrics file
            measurement = nothing("nothing: the base's side could not be read")
            measurement.problems = [str(exc)]
    result = judge(
        base=base,
        base_commit=revision.commit if revision else None,
        rules=rules[0],
        thresholds_from=rules[1],
        measured=measurement.measured,
        basis=measurement.basis,
        basis_note=measurement.note,
        reported=set(METRICS[params.data.task]),
        rows=measurement.rows,
        slices=measurement.slices,
        reset=approved,
        problems=[*problems, *measurement.problems],
        anchor=measurement.anchor,
        anchor_note=measurement.anchor_note,
        notes=notes,
    )
    return result, revision


def read_text(commit: str | None, path: Path) -> str | None:
    """The file at `commit`, or in the working tree when commit is None; None if absent."""
    if commit is None:
        return path.read_text() if path.is_file() else None
    return show(commit, path)


def branch_data_side() -> DataSide:
    return DataSide(
        md5=recorded_md5(loose_yaml(read_text(None, DATA_DVC_FILE))),
        rows=summary_rows(read_text(None, DATA_SUMMARY_FILE)),
    )


# The columns each chart reads; a plot file without them is skipped like an unreadable one.
PLOT_COLUMNS = {
    "predictions.csv": {"actual", "predicted", "residual"},
    "confusion.csv": {"actual", "predicted"},
    "roc.csv": {"fpr", "tpr"},
}


def plot_frames(commit: str | None) -> dict[str, pd.DataFrame]:
    if commit is None:
        names = sorted(path.name for path in PLOTS_DIR.glob("*.csv"))
    else:
        listing = git("ls-tree", "--name-only", commit, f"{PLOTS_DIR.as_posix()}/")
        names = sorted(Path(line).name for line in listing.splitlines() if line.endswith(".csv"))
    frames = {}
    for name in names:
        text = read_text(commit, PLOTS_DIR / name)
        if text:
            try:
                frame = pd.read_csv(io.StringIO(text))
            except (pd.errors.ParserError, pd.errors.EmptyDataError):
                continue  # a broken plot file costs a chart, not the report
            if PLOT_COLUMNS.get(name, set()) <= set(frame.columns):
                frames[name] = frame
    return frames


def collect_report(result: GateResult, base: Revision | None, *, run_url: str | None = None) -> str:
    """The report's Markdown."""
    return render_report(
        ReportInputs(
            result=result,
            head=git_call("rev-parse", "HEAD").stdout.strip() or "working tree",
            params_base=base.params if base else {},
            params_new=loose_yaml(read_text(None, PARAMS_FILE)),
            data_base=DataSide(md5=base.data_md5, rows=base.data_rows)
            if base
            else DataSide(md5=None, rows=None),
            data_new=branch_data_side(),
            plots_base=plot_frames(base.commit) if base else {},
            plots_new=plot_frames(None),
            run_url=run_url,
        )
    )
