"""Scores of generated captions through pycocoevalcap, and the radar audit of generated text (chapter 9).

The COCO caption metrics, computed by the maintained ``pycocoevalcap`` package rather than by hand:

* **BLEU-1..4**: clipped n-gram precision against the references, geometric mean over n = 1..4,
  times a brevity penalty (short candidates cannot win by saying little);
* **METEOR**: unigram matches with stems and synonyms, recall-weighted, with a fragmentation
  penalty (needs Java: ``/usr/bin/java`` runs pycocoevalcap's bundled ``meteor-1.5.jar``);
* **ROUGE-L**: longest common subsequence F-score;
* **CIDEr-D**: TF-IDF-weighted n-gram cosine similarity (IDF over the evaluated references, so
  words every caption uses count little), with a length penalty and clipped counts.

SPICE is left out: it parses captions into scene graphs with Stanford CoreNLP, which pycocoevalcap
downloads on first use, and this machine is offline.

Text is lower-cased and split into words by :func:`closp_lite.captions.audit.words` (punctuation
dropped) instead of pycocoevalcap's PTB tokenizer, which would start another Java process.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from closp_lite.captions.audit import words
from closp_lite.captions.sar_rewrite import forbidden_words

METRICS: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D")


def _prepared(texts: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    return {key: [" ".join(words(text)) for text in values] for key, values in texts.items()}


def caption_scores(references: Mapping[str, Sequence[str]], candidates: Mapping[str, str], meteor: bool | Any = True) -> dict[str, float]:
    """BLEU-1..4, METEOR (if ``meteor`` and Java is available), ROUGE-L and CIDEr-D of ``candidates`` (chapter 9).

    ``references`` maps each key to its reference captions, ``candidates`` each key to one generated caption.
    ``meteor`` may also be a running ``pycocoevalcap`` ``Meteor`` scorer to reuse: starting one
    (a Java process loading its paraphrase table) takes 10-40 s.

    Raises:
        ValueError: if the two do not have the same keys or a key has no reference.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if set(references) != set(candidates) or not candidates:
        raise ValueError(f"references and candidates must have the same (non-empty) keys; differing: {sorted(set(references) ^ set(candidates))[:5]}")
    if any(not refs for refs in references.values()):
        raise ValueError("every key needs at least one reference caption")
    gts, res = _prepared(references), _prepared({k: [v] for k, v in candidates.items()})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores = {f"BLEU-{n}": float(b) for n, b in enumerate(bleu, start=1)}
    if meteor is not True and meteor is not False:
        scores["METEOR"] = float(meteor.compute_score(gts, res)[0])
    elif meteor and shutil.which("java"):
        from pycocoevalcap.meteor.meteor import Meteor

        scorer = Meteor()
        scores["METEOR"] = float(scorer.compute_score(gts, res)[0])
        del scorer  # its __del__ ends the Java process
    scores["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr-D"] = float(Cider().compute_score(gts, res)[0])
    return scores


def optical_word_audit(captions: Sequence[str]) -> dict[str, object]:
    """Count the optical-only words (:data:`~closp_lite.captions.sar_rewrite.FORBIDDEN_IN_SAR`) in generated SAR captions (chapter 9).

    Returns the number of captions with any, the total count and the words found (must all stay 0 / empty).
    """
    found = [forbidden_words(text) for text in captions]
    return {
        "captions_with_optical_words": sum(bool(f) for f in found),
        "optical_words": sum(len(f) for f in found),
        "words_found": sorted({w for f in found for w in f}),
    }
