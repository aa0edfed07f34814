"""Document genre: is an article sport, business/markets, entertainment, tech, or
politics/world news (the only genre where a state or armed group is likely to escalate)?

Enrichment uses the decision to suppress escalation signals in the other genres ("go to war"
on prices, an "army of fans", a review of a war film). The model is an L2-regularised
multinomial logistic regression over lower-cased word unigrams and bigrams, title words
counted ``TITLE_WEIGHT`` times; the feature vector is log(1 + count), L2-normalised, so a
headline alone and a 2,000-word article are on the same scale. Weights live in
``patterns/genre.json``; this module needs numpy only.

Training (``python -m services.enrichment.genre train``) reads the BBC News articles of the
shared corpus (labels: business, entertainment, politics, sport, tech) plus the
``reuters_random`` articles that carry a Reuters economic topic code (as extra
``business``), holds out the 20% whose sha256(id) first byte % 5 == 0, and regenerates the
JSON deterministically from the rest.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_PATH = Path(__file__).with_name("patterns") / "genre.json"
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles.jsonl"

GENRES = ("business", "entertainment", "politics", "sport", "tech")
# A title word says more about the genre than a body word, and a headline-only input has
# nothing else, so title tokens count this many times.
TITLE_WEIGHT = 3
MAX_FEATURES = 4000
# Candidate features must occur in at least this many training documents (cuts names and
# typos that would only memorise single articles).
MIN_DF = 3
L2 = 1e-4
ITERATIONS = 600
# Tokens that identify a source rather than a genre: the 1987 Reuters wire ends every story
# with "Reuter", which would make any Reuters article "business".
SOURCE_TOKENS = frozenset({"reuter"})
# Only the BBC articles are trained on. The reuters_random articles (1987 wire, nearly all
# markets) were tried as extra business examples: the wire's style then made 580 of the 631
# reuters_geo_keyword articles (Gulf war, arms talks) "business", so they only serve as a
# business-recall check.
TRAIN_SUBSETS = ("bbc",)

FloatArray = npt.NDArray[np.float64]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\u201d\u2019]*\s+|\n+")


def tokens(text: str) -> list[str]:
    """Lower-cased words (letters and inner apostrophes; digits and punctuation dropped)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _grams(words: Sequence[str]) -> Iterator[str]:
    yield from words
    for a, b in itertools.pairwise(words):
        yield f"{a} {b}"


def counts(title: str, body: str) -> Counter[str]:
    """Unigram and bigram counts of one document, title grams counted ``TITLE_WEIGHT`` times.
    Bigrams never span the title/body boundary."""
    bag: Counter[str] = Counter()
    for gram in _grams(tokens(title)):
        bag[gram] += TITLE_WEIGHT
    bag.update(_grams(tokens(body)))
    for token in SOURCE_TOKENS:
        bag.pop(token, None)
    return bag


def lead(body: str) -> str:
    """The first sentence of ``body`` (up to the first . ! ? or line break)."""
    return _SENTENCE_END.split(body.strip(), maxsplit=1)[0]


@dataclass(frozen=True)
class GenreModel:
    """Trained weights: ``weights[vocab[gram]]`` is the per-genre weight row of ``gram``."""

    genres: tuple[str, ...]
    vocab: dict[str, int]
    weights: FloatArray  # shape (len(vocab), len(genres))
    bias: FloatArray  # shape (len(genres),)

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> GenreModel:
        return _load(Path(path))

    def scores(self, title: str, body: str) -> FloatArray:
        """Unnormalised log-odds per genre (order of ``genres``)."""
        # Same features as ``counts`` but only grams in the vocabulary are counted (most
        # bigrams are not), which keeps a 500-word article well under a millisecond.
        get = self.vocab.get
        found: dict[int, int] = {}
        for text, weight in ((title, TITLE_WEIGHT), (body, 1)):
            words = tokens(text)
            for gram in itertools.chain(words, map(" ".join, itertools.pairwise(words))):
                j = get(gram)
                if j is not None:
                    found[j] = found.get(j, 0) + weight
        if not found:
            return self.bias.copy()
        values = np.log1p(np.fromiter(found.values(), np.float64, len(found)))
        values /= math.sqrt(float(values @ values))
        result: FloatArray = values @ self.weights[list(found)] + self.bias
        return result

    def probabilities(self, title: str, body: str) -> dict[str, float]:
        """Probability of each genre; they sum to 1. Empty or unknown text gives the priors
        the bias encodes."""
        p = _softmax(self.scores(title, body))
        return {g: float(v) for g, v in zip(self.genres, p, strict=True)}

    def classify(self, title: str, body: str) -> tuple[str, float]:
        """The most probable genre and its probability."""
        p = _softmax(self.scores(title, body))
        best = int(np.argmax(p))
        return self.genres[best], float(p[best])

    def to_json(self) -> dict[str, Any]:
        by_index = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "about": "services/enrichment/genre.py: python -m services.enrichment.genre train",
            "genres": list(self.genres),
            "title_weight": TITLE_WEIGHT,
            "bias": [round(float(b), 4) for b in self.bias],
            "features": {
                g: [round(float(w), 4) for w in self.weights[i]] for i, g in enumerate(by_index)
            },
        }


@functools.cache
def _load(path: Path) -> GenreModel:
    data = json.loads(path.read_text("utf-8"))
    if data["title_weight"] != TITLE_WEIGHT:
        raise ValueError(f"{path}: title_weight {data['title_weight']} != {TITLE_WEIGHT}")
    features: dict[str, list[float]] = data["features"]
    genres = tuple(data["genres"])
    if any(len(row) != len(genres) for row in features.values()):
        raise ValueError(f"{path}: a feature row does not have {len(genres)} weights")
    return GenreModel(
        genres=genres,
        vocab={g: i for i, g in enumerate(features)},
        weights=np.array(list(features.values()), dtype=np.float64).reshape(-1, len(genres)),
        bias=np.array(data["bias"], dtype=np.float64),
    )


def _softmax(z: FloatArray) -> FloatArray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    result: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return result


# --- training --------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    id: str
    subset: str
    title: str
    body: str
    label: str | None


def held_out(article_id: str) -> bool:
    """The fixed 20% evaluation split: sha256(id) first byte % 5 == 0."""
    return hashlib.sha256(article_id.encode("utf-8")).digest()[0] % 5 == 0


def read_corpus(path: Path) -> list[Example]:
    """BBC articles with their category, ``reuters_random`` articles with a Reuters topic
    code as ``business``, and ``reuters_geo_keyword`` articles unlabelled."""
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            subset = rec.get("subset")
            label: str | None
            if subset == "bbc":
                label = rec["category"]
            elif subset == "reuters_random" and rec.get("category"):
                label = "business"
            elif subset in ("reuters_random", "reuters_geo_keyword"):
                label = None
            else:
                continue
            if label is not None and label not in GENRES:
                raise ValueError(f"{path}: {rec['id']}: unknown category {label!r}")
            out.append(Example(rec["id"], subset, rec.get("title") or "", rec["text"], label))
    return out


def _views(ex: Example) -> Iterator[Counter[str]]:
    """A training article three times: whole, headline alone, headline + first sentence,
    so the model also learns what short inputs look like."""
    yield counts(ex.title, ex.body)
    yield counts(ex.title, "")
    yield counts(ex.title, lead(ex.body))


def select_features(docs: Sequence[Counter[str]], labels: Sequence[int], k: int) -> list[str]:
    """The ``k`` grams with the highest chi-square statistic (document presence vs genre,
    maximum over genres) among grams in at least ``MIN_DF`` documents; ties by gram."""
    n_genres = len(GENRES)
    df: dict[str, list[int]] = {}
    for bag, y in zip(docs, labels, strict=True):
        for g in bag:
            row = df.get(g)
            if row is None:
                row = df[g] = [0] * n_genres
            row[y] += 1
    n = len(docs)
    per_genre = np.bincount(np.asarray(labels), minlength=n_genres).astype(np.float64)
    grams = sorted(g for g, row in df.items() if sum(row) >= MIN_DF)
    a = np.array([df[g] for g in grams], dtype=np.float64)  # docs with gram, in genre
    with_gram = a.sum(axis=1, keepdims=True)
    b = with_gram - a  # with gram, other genres
    c = per_genre - a  # without gram, in genre
    d = n - with_gram - c  # without gram, other genres
    num = n * (a * d - b * c) ** 2
    den = (a + b) * (c + d) * (a + c) * (b + d)
    chi2 = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).max(axis=1)
    order = sorted(range(len(grams)), key=lambda i: (-round(float(chi2[i]), 6), grams[i]))
    return sorted(grams[i] for i in order[:k])


def _matrix(docs: Sequence[Counter[str]], vocab: dict[str, int]) -> FloatArray:
    x = np.zeros((len(docs), len(vocab)), dtype=np.float64)
    for row, bag in enumerate(docs):
        for g, c in bag.items():
            j = vocab.get(g)
            if j is not None:
                x[row, j] = math.log1p(c)
        norm = math.sqrt(float(x[row] @ x[row]))
        if norm:
            x[row] /= norm
    return x


def fit(examples: Sequence[Example]) -> GenreModel:
    """Train on labelled examples (full-batch Nesterov gradient descent on the mean
    cross-entropy + L2; convex, fixed iteration count, so the result is deterministic)."""
    docs: list[Counter[str]] = []
    labels: list[int] = []
    for ex in examples:
        assert ex.label is not None
        for view in _views(ex):
            docs.append(view)
            labels.append(GENRES.index(ex.label))
    # Features are chosen on whole articles only, so a headline counts once per article.
    features = select_features(docs[::3], labels[::3], MAX_FEATURES)
    vocab = {g: i for i, g in enumerate(features)}
    x = _matrix(docs, vocab)
    y = np.zeros((len(docs), len(GENRES)))
    y[np.arange(len(docs)), labels] = 1.0
    # Each genre's examples get the same total weight, so the largest genre in the
    # training set does not become the default for short, uninformative inputs.
    per_genre = y.sum(axis=0)
    sample = (y / per_genre).sum(axis=1) * len(docs) / len(GENRES)
    n = float(len(docs))
    w: FloatArray = np.zeros((x.shape[1] + 1, len(GENRES)), dtype=np.float64)
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    step = 1.0 / (0.5 * float(sample.max()) + L2)
    velocity = np.zeros_like(w)
    for t in range(ITERATIONS):
        look = w + (t / (t + 3)) * velocity
        grad = xb.T @ ((_softmax(xb @ look) - y) * sample[:, None]) / n
        grad[:-1] += L2 * look[:-1]
        new = look - step * grad
        velocity = new - w
        w = new
    rounded: FloatArray = np.round(w, 4).astype(np.float64)
    return GenreModel(GENRES, vocab, rounded[:-1], rounded[-1])


def confusion(
    model: GenreModel, examples: Iterable[Example], view: str = "full"
) -> tuple[float, list[list[int]]]:
    """Accuracy and confusion matrix (rows: true genre, columns: predicted) on one view of
    the examples: ``full``, ``title`` or ``lead`` (title + first sentence)."""
    m = [[0] * len(model.genres) for _ in model.genres]
    for ex in examples:
        assert ex.label is not None
        body = {"full": ex.body, "title": "", "lead": lead(ex.body)}[view]
        genre, _ = model.classify(ex.title, body)
        m[model.genres.index(ex.label)][model.genres.index(genre)] += 1
    total = sum(map(sum, m))
    return sum(m[i][i] for i in range(len(m))) / total, m


def dump(model: GenreModel, out: Path) -> None:
    out.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", "utf-8")


def _train(corpus: Path, out: Path) -> None:
    examples = read_corpus(corpus)
    train = [e for e in examples if e.subset in TRAIN_SUBSETS and not held_out(e.id)]
    model = fit(train)
    dump(model, out)
    _load.cache_clear()
    model = GenreModel.load(out)  # evaluate what was written (rounded weights)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {len(model.vocab)} features)")
    print(f"trained on {len(train)} articles of {', '.join(TRAIN_SUBSETS)}")
    bbc = [e for e in examples if e.subset == "bbc" and held_out(e.id)]
    for view in ("full", "title", "lead"):
        acc, m = confusion(model, bbc, view)
        print(f"held-out bbc ({len(bbc)}), {view}: accuracy {acc:.3f}")
        print("  " + " ".join(f"{g[:6]:>6}" for g in model.genres) + "  <- predicted")
        for g, row in zip(model.genres, m, strict=True):
            print("  " + " ".join(f"{v:6d}" for v in row) + f"  {g}")
    wire = [e for e in examples if e.subset == "reuters_random" and e.label]
    for view in ("full", "lead"):
        acc, _ = confusion(model, wire, view)
        print(
            f"reuters_random with a topic code ({len(wire)}, not trained on), {view}: "
            f"business {acc:.3f}"
        )
    geo = [e for e in examples if e.subset == "reuters_geo_keyword"]
    probs = [model.probabilities(e.title, e.body) for e in geo]
    decided = Counter(max(p, key=p.__getitem__) for p in probs)
    print(f"reuters_geo_keyword ({len(geo)}, unlabelled): {dict(sorted(decided.items()))}")
    for genre in model.genres:
        ps = sorted(p[genre] for p in probs)
        qs = " ".join(f"{ps[int(q * (len(ps) - 1))]:.2f}" for q in (0.1, 0.25, 0.5, 0.75, 0.9))
        over = {t: sum(v >= t for v in ps) for t in (0.5, 0.7, 0.8, 0.9)}
        print(
            f"  P({genre}) 10/25/50/75/90%: {qs}; articles at >= 0.5/0.7/0.8/0.9: "
            + "/".join(str(v) for v in over.values())
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.enrichment.genre")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="regenerate the genre model from the corpus")
    train.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    train.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    if args.command == "train":
        _train(args.corpus, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
