"""Traditional Chinese characters folded to the simplified character each one is written as, so
report and post texts are compared in one script (:mod:`streams.governance.textsim`).

The table is OpenCC's character dictionary (``TSCharacters.txt``) as the ``opencc-purepy``
package ships it, read from the installed package at first use: each one-character entry whose
first target is another single character (4,137 of them in opencc-purepy 1.5.0). Character by
character, not phrase by phrase: enough for matching, where both sides are folded the same way,
not a conversion for display.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

DICTIONARY = ("opencc_purepy", "dicts/TSCharacters.txt")


@lru_cache(maxsize=1)
def fold_table() -> dict:
    """The ``str.translate`` table from each traditional character to its simplified one.

    >>> "國語報導".translate(fold_table())
    '国语报导'
    >>> len(fold_table()) > 4000
    True
    """
    package, name = DICTIONARY
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    table = {}
    for line in text.splitlines():
        traditional, _, targets = line.partition("\t")
        simplified = targets.split(" ", 1)[0]
        if len(traditional) == 1 and len(simplified) == 1 and simplified != traditional:
            table[ord(traditional)] = simplified
    return table
