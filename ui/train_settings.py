"""The Train page's hyperparameter widgets, declared once as a table of :class:`TrainingConfig` fields.

Each widget's key is ``<key>_<preset>`` so that switching the preset shows that preset's values, and
each returns its field's value in the field's own type, ready for
:meth:`~medqa.training.arguments.TrainingConfig.with_overrides`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medqa.training import arguments
from medqa.training.arguments import TrainingConfig


@dataclass(frozen=True)
class Number:
    """A number input (or a slider) for a numeric field; min and max take the field's type."""

    field: str
    label: str
    key: str
    low: float
    high: float
    step: float | None = None
    format: str | None = None
    slider: bool = False
    help: str | None = None

    def widget(self, where: Any, defaults: TrainingConfig, preset: str, disabled: bool) -> Any:
        kind = type(getattr(defaults, self.field))
        make = where.slider if self.slider else where.number_input
        options = {"format": self.format} if self.format else {}
        value = make(
            self.label,
            kind(self.low),
            kind(self.high),
            kind(getattr(defaults, self.field)),
            None if self.step is None else kind(self.step),
            key=f"{self.key}_{preset}",
            disabled=disabled,
            help=self.help,
            **options,
        )
        return kind(value)


@dataclass(frozen=True)
class Choice:
    """A select box over a field's allowed values, or a multiselect for a tuple field."""

    field: str
    label: str
    key: str
    options: tuple[str, ...]
    help: str | None = None
    #: Words shown for option values (the raw value when absent).
    labels: tuple[tuple[str, str], ...] = ()

    def widget(self, where: Any, defaults: TrainingConfig, preset: str, disabled: bool) -> Any:
        default = getattr(defaults, self.field)
        names = dict(self.labels)
        common = {
            "key": f"{self.key}_{preset}",
            "disabled": disabled,
            "help": self.help,
            "format_func": lambda value: names.get(value, value),
        }
        if isinstance(default, tuple):
            return tuple(where.multiselect(self.label, list(self.options), default=list(default), **common))
        return where.selectbox(self.label, list(self.options), index=self.options.index(default), **common)


#: Beside the data pickers.
MAIN = (
    Number("epochs", "Epochs", "epochs", 0.1, 20.0, 0.5),
    Number("learning_rate", "Learning rate", "lr", 1e-7, 1e-2, format="%.1e"),
    Number("batch_size", "Batch size", "batch", 2, 256),
    Number("max_seq_length", "Max sequence length", "seq", 8, 512),
    Number("max_steps", "Max steps (-1: all epochs)", "steps", -1, 100_000),
)

#: "More settings", left column.
MORE_LEFT = (
    Choice(
        "query_variants",
        "Query variants",
        "variants",
        arguments.QUERY_VARIANTS,
        help="question: as written; keywords: 'gout treatment'; synonym: focus swapped for an XML synonym; "
        "focus: the focus name alone; description: a sentence of the answer with the condition's name "
        "masked, pointing at its '<focus>: <question>' entry.",
    ),
    Choice(
        "batch_sampler",
        "How batches are formed",
        "sampler",
        arguments.BATCH_SAMPLERS,
        help="Which training pairs share a batch (each pair learns against the others in its batch).",
        labels=(
            ("batch_sampler", "Random"),
            ("no_duplicates", "Random, no repeated text in a batch"),
            ("length_grouped", "Similar lengths together (faster)"),
        ),
    ),
    Choice(
        "loss",
        "Loss",
        "loss",
        arguments.LOSSES,
        labels=(
            ("mnrl", "Ranking loss (MNRL)"),
            ("cached_mnrl", "Ranking loss, large batches in small steps (cached MNRL)"),
        ),
    ),
    Number("max_pairs", "Max pairs (0: all)", "pairs", 0, 100_000),
)

#: "More settings", right column.
MORE_RIGHT = (
    Number("distill_weight", "Anti-forgetting weight", "distill", 0.0, 100.0),
    Number("merge_with_base", "Merge with base (share kept)", "merge", 0.0, 0.9, 0.05, slider=True),
    Number("seed", "Seed", "seed", 0, 2**31 - 1),
    Choice(
        "precision",
        "Precision",
        "precision",
        arguments.PRECISIONS,
        help="auto: bf16 only on a CPU with native bf16, else fp32.",
    ),
)


def render(
    settings: tuple[Number | Choice, ...], where: Any, defaults: TrainingConfig, preset: str, disabled: bool
) -> dict[str, Any]:
    """Draw the widgets of ``settings`` in ``where`` (``st`` or a column) and return ``{field: value}``."""
    return {setting.field: setting.widget(where, defaults, preset, disabled) for setting in settings}
