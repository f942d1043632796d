"""Suggests the routing category (一级标签) of a complaint from its text. Pure: no database.

Design: character n-grams (Chinese needs no segmenter, and n-grams survive recognition
errors) are hashed into a large space, only buckets seen in at least ``min_df`` training
texts are kept, weighted by sublinear TF-IDF and L2-normalised, then a multinomial logistic
regression with balanced class weights gives probabilities.

A saved model is one ``.npz`` of plain arrays (kept buckets, idf, coefficients, intercepts,
metadata as UTF-8 JSON bytes), read with ``allow_pickle=False`` so loading runs no code, plus
a ``.json`` copy of the metadata beside it for people to read. Prediction needs only numpy
and scikit-learn's stateless ``HashingVectorizer``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FORMAT = "hotline-routing-model"
FORMAT_VERSION = 1
BATCH = 1024

FloatArray = npt.NDArray[np.float32]
_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


class RoutingModelError(Exception):
    """A model or a data file that cannot be used, with a message for people."""


@dataclass(frozen=True)
class Suggestion:
    label: str
    confidence: float


@dataclass(frozen=True)
class Parameters:
    """How a model is built. The defaults won a comparison by macro-F1 (clean text, and 80
    noisy characters) over four splits of the benchmark's training portion, never its
    held-out part: n-grams up to 3 or 4, ``min_df`` 1-3 and ``c`` 3-100 did no better, and
    longer n-grams cost time and memory."""

    ngram_min: int = 1
    ngram_max: int = 2
    hash_bits: int = 22
    min_df: int = 2
    c: float = 30.0
    max_iter: int = 1000
    tol: float = 1e-4

    def check(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max <= 6:
            raise RoutingModelError("n-gram sizes must satisfy 1 <= min <= max <= 6")
        if not 10 <= self.hash_bits <= 26:
            raise RoutingModelError("hash_bits must be between 10 and 26")
        if self.min_df < 1 or self.c <= 0 or self.max_iter < 1 or self.tol <= 0:
            raise RoutingModelError("min_df, c, max_iter and tol must be positive")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, no punctuation or spaces (a recogniser writes
    none), every run of digits as one ``0`` (numbers are case details, not topics)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _DIGITS.sub("0", _NOT_WORD.sub("", folded))


def _vectoriser(params: Parameters) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer  # noqa: PLC0415 - scikit-learn loads only when a model is built or loaded

    return HashingVectorizer(
        analyzer="char",
        ngram_range=(params.ngram_min, params.ngram_max),
        n_features=1 << params.hash_bits,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        preprocessor=normalise,
        dtype=np.float32,
    )


def _counts(vectoriser: Any, texts: Sequence[str]) -> sp.csr_matrix:
    matrix: sp.csr_matrix = vectoriser.transform(texts).tocsr()
    matrix.sum_duplicates()
    return matrix


def _row_numbers(matrix: sp.csr_matrix) -> npt.NDArray[np.int64]:
    """The row of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _keep_columns(counts: sp.csr_matrix, columns: npt.NDArray[np.int64]) -> sp.csr_matrix:
    """The count matrix restricted to the kept hash buckets, renumbered 0..len(columns)-1."""
    position = np.minimum(np.searchsorted(columns, counts.indices), len(columns) - 1)
    known = columns[position] == counts.indices
    return sp.csr_matrix(
        (counts.data[known], (_row_numbers(counts)[known], position[known])),
        shape=(counts.shape[0], len(columns)),
        dtype=np.float32,
    )


def _tfidf(counts: sp.csr_matrix, idf: FloatArray) -> sp.csr_matrix:
    """Sublinear term frequency times idf, each row scaled to unit length."""
    rows = _row_numbers(counts)
    weights = ((1.0 + np.log(counts.data)) * idf[counts.indices]).astype(np.float32)
    lengths = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=counts.shape[0]))
    lengths[lengths == 0] = 1.0
    weights /= lengths[rows].astype(np.float32)
    return sp.csr_matrix((weights, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)


def _softmax(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: npt.NDArray[np.float64] = shifted / shifted.sum(axis=1, keepdims=True)
    return result


class RoutingModel:
    """A trained model: ``top`` for one case, ``classify_many`` for many."""

    def __init__(
        self,
        labels: Sequence[str],
        columns: npt.NDArray[np.int64],
        idf: FloatArray,
        coef: FloatArray,
        intercept: FloatArray,
        params: Parameters,
        info: dict[str, Any],
    ) -> None:
        self.labels = list(labels)
        self.columns = columns
        self.idf = idf
        self.coef = coef
        self.intercept = intercept
        self.params = params
        self.info = info
        self._vectoriser = _vectoriser(params)

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """One row per text, one column per label (in ``labels`` order), rows sum to 1."""
        parts = [
            self._batch_probabilities(texts[start : start + BATCH])
            for start in range(0, len(texts), BATCH)
        ]
        if not parts:
            return np.zeros((0, len(self.labels)))
        return np.vstack(parts)

    def _batch_probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        features = _tfidf(_keep_columns(_counts(self._vectoriser, texts), self.columns), self.idf)
        scores = np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept
        return _softmax(scores)

    def top(self, text: str, k: int = 3) -> list[Suggestion]:
        """The ``k`` likeliest labels for one text, most confident first."""
        row = self.probabilities([text])[0]
        order = np.argsort(-row, kind="stable")[: max(k, 0)]
        return [Suggestion(self.labels[i], float(row[i])) for i in order]

    def classify_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """The likeliest label of every text."""
        matrix = self.probabilities(texts)
        best = matrix.argmax(axis=1) if len(matrix) else np.zeros(0, dtype=np.int64)
        return [Suggestion(self.labels[i], float(matrix[row, i])) for row, i in enumerate(best)]

    def save(self, path: Path) -> None:
        """Write ``path`` (.npz) atomically, then the readable ``.json`` copy of its
        metadata."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = self._metadata()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            columns=self.columns,
            idf=self.idf,
            coef=self.coef,
            intercept=self.intercept,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
        )
        _atomic_write(path, buffer.getvalue())
        text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
        _atomic_write(path.with_suffix(".json"), text.encode())

    def _metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "labels": self.labels,
            "parameters": dataclasses.asdict(self.params),
            **self.info,
        }

    @classmethod
    def load(cls, path: Path) -> RoutingModel:
        """Read a model written by ``save``; a missing or damaged file raises
        ``RoutingModelError``."""
        path = Path(path)
        if not path.is_file():
            raise RoutingModelError(f"no routing model at {path}")
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
                arrays = {
                    name: archive[name] for name in ("columns", "idf", "coef", "intercept", "meta")
                }
            meta = json.loads(arrays["meta"].tobytes().decode())
        except (
            OSError,
            ValueError,
            KeyError,
            EOFError,
            zipfile.BadZipFile,
            UnicodeDecodeError,
        ) as exc:
            raise RoutingModelError(
                f"routing model {path} is damaged or not a model: {exc}"
            ) from exc
        return cls._from_arrays(path, arrays, meta)

    @classmethod
    def _from_arrays(cls, path: Path, arrays: dict[str, Any], meta: Any) -> RoutingModel:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RoutingModelError(f"{path} is not a routing model")
        if meta.get("version") != FORMAT_VERSION:
            raise RoutingModelError(
                f"routing model {path} has format version "
                f"{meta.get('version')}, expected {FORMAT_VERSION}: "
                "train it again"
            )
        try:
            params = Parameters(**meta["parameters"])
            params.check()
            labels = [str(label) for label in meta["labels"]]
        except (KeyError, TypeError) as exc:
            raise RoutingModelError(f"routing model {path} has bad metadata: {exc}") from exc
        columns = arrays["columns"].astype(np.int64)
        coef = arrays["coef"].astype(np.float32)
        shapes_ok = (
            coef.shape == (len(labels), len(columns))
            and arrays["idf"].shape == columns.shape
            and arrays["intercept"].shape == (len(labels),)
            and len(labels) >= 2
            and len(columns) >= 1
            and bool(np.all(np.diff(columns) > 0))
        )
        if not shapes_ok:
            raise RoutingModelError(f"routing model {path} is inconsistent (array shapes)")
        info = {
            key: value
            for key, value in meta.items()
            if key not in ("format", "version", "labels", "parameters")
        }
        return cls(
            labels,
            columns,
            arrays["idf"].astype(np.float32),
            coef,
            arrays["intercept"].astype(np.float32),
            params,
            info,
        )


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o600)  # trained on complaints: private like the data folder
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def data_fingerprint(examples: Iterable[tuple[str, str]]) -> str:
    """sha256 of the examples, independent of their order."""
    digest = hashlib.sha256()
    for text, label in sorted(examples):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def train(
    examples: Sequence[tuple[str, str]],
    params: Parameters | None = None,
    now: dt.datetime | None = None,
) -> RoutingModel:
    """Fit a model on (text, label) pairs; at least two distinct labels are needed."""
    params = params or Parameters()
    params.check()
    labels = sorted({label for _, label in examples})
    if len(labels) < 2:
        raise RoutingModelError(f"training needs at least two labels, got {len(labels)}")
    texts = [text for text, _ in examples]
    targets = np.array([labels.index(label) for _, label in examples])
    vectoriser = _vectoriser(params)
    counts = sp.vstack(
        [
            _counts(vectoriser, texts[start : start + BATCH])
            for start in range(0, len(texts), BATCH)
        ],
        format="csr",
    )
    buckets, frequency = np.unique(counts.indices, return_counts=True)
    common = frequency >= params.min_df
    columns = buckets[common].astype(np.int64)
    if not len(columns):
        raise RoutingModelError("no character n-gram occurs in enough training texts")
    idf = (np.log((1 + len(texts)) / (1 + frequency[common])) + 1).astype(np.float32)
    del buckets, frequency, common
    features = sp.vstack(
        [
            _tfidf(_keep_columns(counts[start : start + BATCH], columns), idf)
            for start in range(0, len(texts), BATCH)
        ],
        format="csr",
    )
    del counts
    coef, intercept = _fit(features, targets, len(labels), params)
    info = {
        "examples": len(examples),
        "label_counts": dict(sorted(Counter(label for _, label in examples).items())),
        "features": len(columns),
        "created": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "data_sha256": data_fingerprint(examples),
    }
    return RoutingModel(labels, columns, idf, coef, intercept, params, info)


def _fit(
    features: sp.csr_matrix, targets: npt.NDArray[np.int64], classes: int, params: Parameters
) -> tuple[FloatArray, FloatArray]:
    """Multinomial logistic regression (SAGA: memory stays at the size of the data, unlike
    L-BFGS whose history holds twenty copies of the coefficients)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - scikit-learn loads only when a model is trained

    model = LogisticRegression(
        C=params.c,
        class_weight="balanced",
        solver="saga",
        max_iter=params.max_iter,
        tol=params.tol,
        random_state=0,
    )
    model.fit(features, targets)
    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if classes == 2:
        # One logit for two classes: softmax over (-z/2, z/2) is the sigmoid of z.
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.concatenate([-intercept / 2, intercept / 2])
    return coef, intercept


def read_labelled_csv(path: Path) -> list[tuple[str, str]]:
    """(text, label) pairs from a UTF-8 CSV with ``text`` and ``label`` columns (others,
    such as ``title``, are ignored). Labels are kept as written, without outer spaces."""
    rows = _read_csv(path, ("text", "label"))
    examples: list[tuple[str, str]] = []
    for line, row in rows:
        label = (row["label"] or "").strip()
        text = row["text"] or ""
        if not label or not text.strip():
            raise RoutingModelError(f"{path}, line {line}: empty text or label")
        examples.append((text, label))
    return examples


def read_cases_csv(path: Path) -> list[tuple[str, str]]:
    """(id, text) pairs from a UTF-8 CSV with ``id`` and ``text`` columns (no rows is fine)."""
    return [
        ((row["id"] or "").strip(), row["text"] or "")
        for _, row in _read_csv(path, ("id", "text"), allow_empty=True)
    ]


def _read_csv(
    path: Path, needed: tuple[str, ...], allow_empty: bool = False
) -> list[tuple[int, dict[str, str]]]:
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames
            if not columns:
                raise RoutingModelError(
                    f"{path} is empty: expected a header with {', '.join(needed)}"
                )
            missing = [name for name in needed if name not in columns]
            if missing:
                raise RoutingModelError(
                    f"{path} lacks column(s) {', '.join(missing)} (has {', '.join(columns)})"
                )
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError as exc:
        raise RoutingModelError(f"no such file: {path}") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RoutingModelError(f"cannot read {path} as UTF-8 CSV: {exc}") from exc
    if not rows and not allow_empty:
        raise RoutingModelError(f"{path} has a header but no rows")
    return rows


def write_suggestions_csv(
    path: Path, ids: Sequence[str], suggestions: Sequence[Suggestion]
) -> None:
    """``id,label,confidence`` (4 decimals), written to a temporary file then renamed."""
    path = Path(path)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "label", "confidence"])
    for case_id, suggestion in zip(ids, suggestions, strict=True):
        writer.writerow([case_id, suggestion.label, f"{suggestion.confidence:.4f}"])
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, buffer.getvalue().encode())
