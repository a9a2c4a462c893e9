"""``compiled.npz``: the compiled form on disk. Plain arrays only (never a pickle), with a
format number that a reader must know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mpg_core.artifact.blend import Blend, Calibration
from mpg_core.artifact.compiled import Block, CompiledModel, Forest, NotCompilable, Preprocessor

# Bump when the arrays' meaning changes; a reader refuses formats it does not know. Format 2
# adds every tree-ensemble family (per-tree output columns, a baseline, sums or means, NaN
# directions, float64 comparisons, a link); a format 1 file is a regression forest. Format 3
# adds text levels ("pre_level_inputs", "pre_levels", "pre_level_counts": the input columns
# whose cells are text, and their levels as one unicode array cut by the counts), which a
# reader of format 2 would silently miss (it would read codes as numbers); one-hot blocks with
# rare levels grouped ("pre{i}_slots", "_widths", "_unknown": each category's output column
# within its column's outputs, their number, an unknown value's output or -1) and "ordinal"
# blocks (category i -> the number i, any other value -1).
COMPILED_FORMAT = 3
READABLE_FORMATS = (1, 2, 3)
# Format 3 also adds the blend (mpg_core.artifact.blend): "blend_weights" (float64 per member),
# "blend_calibration" ("none", "sigmoid", "isotonic" or "temperature"), "blend_sigmoid" ([a, b];
# a temperature's power is a),
# "blend_knots_x" / "blend_knots_y" (isotonic), and member k's forest arrays under
# "blend<k>_<name>" with the names a lone forest has under "forest_<name>".


def _arrays(model: CompiledModel) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"format": np.array(COMPILED_FORMAT)}
    pre = model.preprocessor
    if pre is not None:
        out["pre_n_inputs"] = np.array(pre.n_inputs)
        out["pre_year_columns"] = np.array(pre.year_columns, dtype=np.int64)
        out["pre_reference_years"] = np.array(pre.reference_years, dtype=np.float64)
        out["pre_n_outputs"] = np.array(pre.n_outputs)
        out["pre_blocks"] = np.array([b.kind for b in pre.blocks])
        text = [(i, k) for i, k in enumerate(pre.input_levels) if k is not None]
        if text:
            out["pre_level_inputs"] = np.array([i for i, _ in text], dtype=np.int64)
            out["pre_level_counts"] = np.array([len(k) for _, k in text], dtype=np.int64)
            out["pre_levels"] = np.array([v for _, k in text for v in k], dtype=np.str_)
        for i, b in enumerate(pre.blocks):
            out[f"pre{i}_columns"] = b.columns
            out[f"pre{i}_fill"] = b.fill
            if b.kind == "numeric":
                assert b.mean is not None and b.scale is not None
                out[f"pre{i}_mean"], out[f"pre{i}_scale"] = b.mean, b.scale
            else:
                out[f"pre{i}_categories"] = np.concatenate(b.categories)
                out[f"pre{i}_lengths"] = np.array([len(c) for c in b.categories])
                if b.slots:  # rare levels grouped: each category's output, per column
                    out[f"pre{i}_slots"] = np.concatenate(b.slots).astype(np.int64)
                    out[f"pre{i}_widths"] = np.array(b.widths, dtype=np.int64)
                    out[f"pre{i}_unknown"] = np.array(b.unknown, dtype=np.int64)
    head = model.forest
    if isinstance(head, Blend):
        out["blend_weights"] = np.asarray(head.weights, dtype=np.float64)
        calibration = head.calibration
        out["blend_calibration"] = np.array("none" if calibration is None else calibration.method)
        if calibration is not None:
            out["blend_sigmoid"] = np.array([calibration.a, calibration.b], dtype=np.float64)
            out["blend_knots_x"] = np.asarray(calibration.x, dtype=np.float64)
            out["blend_knots_y"] = np.asarray(calibration.y, dtype=np.float64)
        for k, member in enumerate(head.members):
            out.update(_forest_arrays(member, f"blend{k}_"))
    elif isinstance(head, Forest):
        out.update(_forest_arrays(head, "forest_"))
    elif head is not None:
        raise NotCompilable(f"no file format for a {type(head).__name__}")
    return out


def _forest_arrays(forest: Forest, prefix: str) -> dict[str, np.ndarray]:
    # Narrow integers on disk: node indices fit int32 (Forest checks), NaN directions uint8.
    return {
        f"{prefix}feature": forest.feature.astype(np.int32),
        f"{prefix}left": forest.left.astype(np.int32),
        f"{prefix}threshold": forest.threshold,
        f"{prefix}value": forest.value,
        f"{prefix}roots": forest.roots.astype(np.int32),
        f"{prefix}depth": np.array(forest.depth),
        f"{prefix}n_features": np.array(forest.n_features),
        f"{prefix}column": forest.columns32,
        f"{prefix}baseline": forest.starts,
        f"{prefix}average": np.array(forest.average),
        f"{prefix}nan_left": forest.nan_left8,
        f"{prefix}float32": np.array(forest.float32),
        f"{prefix}link": np.array(forest.link),
    }


def save_compiled(path: Path, model: CompiledModel) -> None:
    with path.open("wb") as f:
        np.savez(f, allow_pickle=False, **_arrays(model))


def _block(data: Any, i: int, kind: str) -> Block:
    columns = data[f"pre{i}_columns"].astype(np.intp)
    fill = data[f"pre{i}_fill"].astype(np.float64)
    if kind == "numeric":
        return Block(kind, columns, fill, data[f"pre{i}_mean"], data[f"pre{i}_scale"])
    if kind not in ("onehot", "ordinal"):
        raise NotCompilable(f"unknown preprocessor block {kind!r}")
    lengths = data[f"pre{i}_lengths"].astype(np.int64)
    bounds = np.cumsum(lengths)[:-1]
    categories = tuple(np.split(data[f"pre{i}_categories"].astype(np.float64), bounds))
    if f"pre{i}_slots" not in data:
        return Block(kind, columns, fill, categories=categories)
    slots = tuple(np.split(data[f"pre{i}_slots"].astype(np.intp), bounds))
    widths = tuple(int(w) for w in data[f"pre{i}_widths"])
    unknown = tuple(int(u) for u in data[f"pre{i}_unknown"])
    if not (
        len(slots) == len(widths) == len(unknown) == len(categories)
        and all(len(s) == len(c) for s, c in zip(slots, categories, strict=True))
        and all(
            ((s >= 0) & (s < w)).all() and -1 <= u < w
            for s, w, u in zip(slots, widths, unknown, strict=True)
        )
    ):
        raise NotCompilable("grouped one-hot block: slots outside the columns' widths")
    return Block(
        kind, columns, fill, categories=categories, slots=slots, widths=widths, unknown=unknown
    )


def _age_steps(data: Any) -> dict[str, tuple[Any, ...]]:
    """The age steps: arrays (any number, from schemas), or one year column as files written
    before schemas travelled have it."""
    if "pre_year_columns" in data:
        columns = tuple(int(c) for c in data["pre_year_columns"])
        references = tuple(float(r) for r in data["pre_reference_years"])
    else:
        columns = (int(data["pre_year_column"]),)
        references = (float(data["pre_reference_year"]),)
    if len(columns) != len(references):
        raise NotCompilable("age steps: year columns and reference years differ in number")
    return {"year_columns": columns, "reference_years": references}


def _levels(data: Any, n_inputs: int) -> tuple[tuple[str, ...] | None, ...]:
    """Each input column's text levels (None: numbers); () when no column is text."""
    if "pre_level_inputs" not in data:
        return ()
    inputs = [int(i) for i in data["pre_level_inputs"]]
    counts = data["pre_level_counts"].astype(np.int64)
    values = [str(v) for v in data["pre_levels"]]
    if len(inputs) != len(counts) or int(counts.sum()) != len(values) or (counts < 1).any():
        raise NotCompilable("text levels: inputs, counts and levels differ in number")
    if not all(0 <= i < n_inputs for i in inputs) or len(set(inputs)) != len(inputs):
        raise NotCompilable("text levels name an input column the preprocessor does not have")
    levels: list[tuple[str, ...] | None] = [None] * n_inputs
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for k, i in enumerate(inputs):
        levels[i] = tuple(values[bounds[k] : bounds[k + 1]])
    return tuple(levels)


def _forest(data: Any, found: int, prefix: str = "forest_") -> Forest:
    arrays = {
        "feature": data[f"{prefix}feature"].astype(np.intp),
        "threshold": data[f"{prefix}threshold"].astype(np.float64),
        "left": data[f"{prefix}left"].astype(np.intp),
        "value": data[f"{prefix}value"].astype(np.float64),
        "roots": data[f"{prefix}roots"].astype(np.intp),
        "depth": int(data[f"{prefix}depth"]),
        "n_features": int(data[f"{prefix}n_features"]),
    }
    if found == 1:
        return Forest(**arrays)
    return Forest(
        **arrays,
        column=data[f"{prefix}column"].astype(np.intp),
        baseline=data[f"{prefix}baseline"].astype(np.float64),
        average=bool(data[f"{prefix}average"]),
        nan_left=data[f"{prefix}nan_left"].astype(np.uint8),
        float32=bool(data[f"{prefix}float32"]),
        link=str(data[f"{prefix}link"]),
    )


def _blend(data: Any, found: int) -> Blend:
    weights = data["blend_weights"].astype(np.float64)
    members = tuple(_forest(data, found, f"blend{k}_") for k in range(len(weights)))
    method = str(data["blend_calibration"])
    calibration = None
    if method != "none":
        a, b = (float(v) for v in data["blend_sigmoid"])
        calibration = Calibration(
            method,
            a,
            b,
            data["blend_knots_x"].astype(np.float64),
            data["blend_knots_y"].astype(np.float64),
        )
    return Blend(members, weights, calibration)


def load_compiled(path: Path) -> CompiledModel:
    """Read ``compiled.npz`` (never unpickling anything); NotCompilable for a format this code
    does not know."""
    with np.load(path, allow_pickle=False) as data:
        found = int(data["format"]) if "format" in data else None
        if found not in READABLE_FORMATS:
            raise NotCompilable(f"compiled format {found}; this code reads {READABLE_FORMATS}")
        pre = None
        forest: Forest | Blend | None = None
        if "pre_blocks" in data:
            kinds = [str(k) for k in data["pre_blocks"]]
            n_inputs = int(data["pre_n_inputs"])
            pre = Preprocessor(
                n_inputs=n_inputs,
                **_age_steps(data),
                blocks=tuple(_block(data, i, k) for i, k in enumerate(kinds)),
                n_outputs=int(data["pre_n_outputs"]),
                levels=_levels(data, n_inputs),
            )
        if "forest_roots" in data:
            forest = _forest(data, found)
        elif "blend_weights" in data:
            forest = _blend(data, found)
    if pre is None and forest is None:
        raise NotCompilable(f"{path} holds neither a preprocessor nor a forest")
    return CompiledModel(pre, forest)
