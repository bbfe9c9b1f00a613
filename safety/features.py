"""What the shipped judge reads: the windows of a reply it embeds, and its hashed n-gram features.

A sentence embedding of a whole reply says what the reply is about; whether it refuses or carries
out a harmful request is in its words: "I can't help with that" at the start, "Step 1:" and
quantities in the middle, a role-play wrapper that ends in real instructions. So the judge embeds
the reply's opening and its end separately (a long role-play puts the payload late), and reads all
of it through hashed word n-grams (with punctuation and digits, which carry lists and steps), while
requests also get character n-grams (misspelt and disguised slurs). Hashing keeps the vocabulary out
of the weights file and makes features identical on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from scipy import sparse

HEAD_CHARS = 600  # about 130 tokens: where a refusal or a "Sure, here is" sits
TAIL_CHARS = 600
LEXICAL_CHARS = 6000  # a reply is read up to here (the chat path caps replies well below this)
WORD_FEATURES = 2 ** 18
CHAR_FEATURES = 2 ** 18


def windows(reply: str) -> tuple[str, str]:
    """The opening and the end of a reply; a short reply is both."""
    reply = reply.strip()
    if len(reply) <= HEAD_CHARS + TAIL_CHARS // 2:
        return reply, reply
    return reply[:HEAD_CHARS], reply[-TAIL_CHARS:]


@cache
def _word_vectorizer():  # noqa: ANN202
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=WORD_FEATURES, ngram_range=(1, 3), alternate_sign=False, norm="l2",
                             token_pattern=r"(?u)\b\w+\b|[^\w\s]", lowercase=True, dtype=np.float32)


@cache
def _char_vectorizer():  # noqa: ANN202
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=CHAR_FEATURES, analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False,
                             norm="l2", lowercase=True, dtype=np.float32)


def request_lexical(texts: Sequence[str]) -> sparse.csr_matrix:
    """Word 1-3-grams and character 3-5-grams of requests, side by side."""
    texts = [t[:LEXICAL_CHARS] for t in texts]
    return sparse.hstack([_word_vectorizer().transform(texts), _char_vectorizer().transform(texts)], format="csr")


def reply_lexical(texts: Sequence[str]) -> sparse.csr_matrix:
    """Word 1-3-grams of replies (character n-grams of long replies cost more than they add)."""
    return _word_vectorizer().transform([t[:LEXICAL_CHARS] for t in texts])


def reply_dense(e_prompt: np.ndarray, e_head: np.ndarray, e_tail: np.ndarray) -> np.ndarray:
    """Request, opening and end embeddings, and request x opening (does the reply take the request up?)."""
    return np.concatenate([e_prompt, e_head, e_tail, e_prompt * e_head], axis=-1)
