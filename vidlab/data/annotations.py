"""Annotation lists: parsing MMAction2's text and JSON annotation files into records.

Annotation files are MMAction2's: one sample per line, columns split by ``delimiter``
(whitespace by default); a path with spaces is quoted (``"my video.mp4" 3``, see
:func:`split_list_line`). Problems in the file are reported at construction as
``file:line: <problem> in line '<text>'``, all of them at once.

:class:`AnnotationList` is the parsing half of :class:`vidlab.data.datasets.BaseActionDataset`:
it reads ``self.ann_file`` with the subclass's ``parse_line`` / ``parse_record`` and keeps the
records and their labels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

__all__ = ["AnnotationError", "AnnotationList", "split_list_line"]


class AnnotationError(ValueError):
    """Problems in an annotation file; the message lists each as ``file:line: problem``."""


_QUOTES = ('"', "'")


def split_list_line(text: str, delimiter: str = " ") -> list[str]:
    """The columns of one list line.

    As in MMAction2, columns are split on whitespace (``delimiter=' '``) or on ``delimiter``.
    A path with spaces is written in quotes: ``"my video.mp4" 3`` (single quotes too); only a
    line that *starts* with a quote is read this way, so every MMAction2 line reads as before.

    Raises:
        ValueError: an unclosed quote, or text glued to the closing quote.
    """
    stripped = text.strip()
    if stripped[:1] in _QUOTES:
        quote = stripped[0]
        end = stripped.find(quote, 1)
        if end < 0:
            raise ValueError(f"the path's opening {quote} has no closing {quote}")
        rest = stripped[end + 1 :]
        if delimiter == " ":
            if rest and not rest[0].isspace():
                raise ValueError(f"text right after the closing {quote} (add a space)")
            return [stripped[1:end], *rest.split()]
        if rest and not rest.startswith(delimiter):
            raise ValueError(f"text right after the closing {quote} (expected {delimiter!r})")
        tail = rest[len(delimiter) :]
        return [stripped[1:end], *([c.strip() for c in tail.split(delimiter)] if rest else [])]
    if delimiter == " ":
        return stripped.split()
    return [c.strip() for c in stripped.split(delimiter)]


class AnnotationList:
    """Records of an annotation file and their labels (a base of the datasets).

    A subclass sets ``ann_file``, ``delimiter``, ``multi_class`` and ``_num_classes``, then
    calls ``_load`` and ``_check_labels``; it defines ``parse_line`` (the columns of one text
    line) and ``parse_record`` (one JSON record).
    """

    _prefix_keys: tuple[str, ...] = ("video", "prefix")

    # -- annotations -------------------------------------------------------------------------
    def _prefix_of(self, data_prefix) -> str:
        if data_prefix is None:
            return ""
        if isinstance(data_prefix, dict):
            for key in self._prefix_keys:
                if data_prefix.get(key):
                    return os.fspath(data_prefix[key])
            return ""
        return os.fspath(data_prefix)

    def _load(self) -> list[dict]:
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"{self.ann_file}: annotation file does not exist")
        if self.ann_file.endswith(".json"):
            return self._load_json()
        records, problems = [], []
        with open(self.ann_file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    rec = self.parse_line(split_list_line(text, self.delimiter))
                except ValueError as e:
                    problems.append(f"{self.ann_file}:{lineno}: {e} in line {text!r}")
                    continue
                rec["ann_line"] = f"{self.ann_file}:{lineno}"
                rec["ann_text"] = text
                records.append(rec)
        labeled = [r for r in records if r.get("label") != -1]
        if labeled and len(labeled) < len(records):
            # Some lines have a label and some not: a line lost its label (an unlabeled list,
            # for inference, has none at all).
            problems += [
                f"{r['ann_line']}: no label in line {r['ann_text']!r} (the other lines have one)"
                for r in records
                if r.get("label") == -1
            ]
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return records

    def _load_json(self) -> list[dict]:
        with open(self.ann_file, encoding="utf-8") as f:
            try:
                items = json.load(f)
            except json.JSONDecodeError as e:
                raise AnnotationError(
                    f"{self.ann_file}:{e.lineno}: invalid JSON ({e.msg})"
                ) from None
        if isinstance(items, dict) and "data_list" in items:  # MMEngine's format
            items = items["data_list"]
        if not isinstance(items, list):
            raise AnnotationError(f"{self.ann_file}: expected a JSON list of records")
        records, problems = [], []
        for i, item in enumerate(items):
            try:
                rec = self.parse_record(dict(item))
            except (ValueError, TypeError, KeyError) as e:
                problems.append(f"{self.ann_file}: item {i}: {e} in {item!r}")
                continue
            rec["ann_line"] = f"{self.ann_file}: item {i}"
            records.append(rec)
        if problems:
            raise AnnotationError(self._problem_report(problems))
        return records

    @staticmethod
    def _problem_report(problems: list[str]) -> str:
        head = f"{len(problems)} problem(s) in the annotation file:\n" if len(problems) > 1 else ""
        shown = problems[:50]
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        return head + "\n".join(shown) + more

    @staticmethod
    def _int_label(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise ValueError(f"bad label {s!r} (not an integer)") from None
        if v < 0:
            raise ValueError(f"bad label {v} (negative)")
        return v

    def _labels_from(self, cols: Sequence[str], what: str):
        if not cols:
            return -1  # a list for inference, without labels
        if self.multi_class:
            return [self._int_label(c) for c in cols]
        if len(cols) > 1:
            raise ValueError(
                f"expected {what} but found {len(cols) - 1} extra column(s) "
                "(several labels need multi_class=True; a path with spaces needs quotes: "
                '"my video.mp4" 3)'
            )
        return self._int_label(cols[0])

    def parse_line(self, cols: list[str]) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_record(self, item: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_labels(self) -> None:
        top = -1
        for lab in self.labels:
            top = max([top, *lab] if isinstance(lab, list) else [top, lab])
        self._max_label = top
        k = self._num_classes
        if k is None:
            return
        problems = []
        for rec in self._records:
            labels = rec["label"] if isinstance(rec["label"], list) else [rec["label"]]
            bad = [v for v in labels if v >= k]
            if bad:
                where = rec["ann_line"]
                text = rec.get("ann_text")
                problems.append(
                    f"{where}: label {bad[0]} >= num_classes={k}"
                    + (f" in line {text!r}" if text is not None else "")
                )
        if problems:
            raise AnnotationError(self._problem_report(problems))

    def check_labels_against(self, num_classes: int | None, key: str, need_labels: bool) -> None:
        """Check the labels against the model's ``num_classes`` (and, when ``need_labels``,
        that every record has one): every bad line, ``file:line``, in one AnnotationError."""
        problems = []
        for rec in self._records:
            labels = rec["label"] if isinstance(rec["label"], list) else [rec["label"]]
            where = rec["ann_line"]
            text = rec.get("ann_text")
            shown = f" in line {text!r}" if text is not None else ""
            if need_labels and (labels == [-1] or not labels):
                problems.append(f"{where}: no label{shown} ({key} needs labels)")
            elif num_classes is not None and any(v >= num_classes for v in labels):
                bad = max(labels)
                problems.append(
                    f"{where}: label {bad} is outside the model's {num_classes} classes "
                    f"(0..{num_classes - 1}, model.cls_head.num_classes){shown}"
                )
        if problems:
            raise AnnotationError(self._problem_report(problems))

    # -- properties ---------------------------------------------------------------------------
    @property
    def records(self) -> list[dict]:
        """The parsed annotation records (paths joined with the prefix)."""
        return self._records

    @property
    def labels(self) -> list:
        """Label of each record: an int (``-1`` when the line has none) or a list (multi-class)."""
        return [r["label"] for r in self._records]

    @property
    def num_classes(self) -> int:
        """The given ``num_classes``, or the largest label + 1."""
        if self._num_classes is not None:
            return int(self._num_classes)
        return self._max_label + 1

    @property
    def class_counts(self) -> list[int]:
        """Number of records of each class (a multi-class record counts for each of its labels)."""
        counts = [0] * self.num_classes
        for lab in self.labels:
            for v in lab if isinstance(lab, list) else [lab]:
                if v >= 0:
                    counts[v] += 1
        return counts
