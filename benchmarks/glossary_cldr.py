"""Build rag/data/glossary_en_ar_cldr.tsv: the English→Arabic names the Unicode CLDR already
translates, read through Babel (installed with the project: trafilatura needs it, through courlan):

    python benchmarks/glossary_cldr.py            # a second, no model involved

Countries and territories, cities (the time zones' exemplar cities), languages (whose Arabic names
are also the nationality adjectives of news prose: "Turkish" → التركية), the months (the Arabic
names and, where one word, the Levantine ones: "April" → أبريل, نيسان), the days of the week and the
one-word currency names. Not units: CLDR's "year" is سنة/سنوات, and news writes عام, which the
generated glossary has. Only one-word names on both sides: the glossary is read word
by word, and the words of "الولايات المتحدة" would each match far more than the country.

rag.crosslingual reads these entries before the generated glossary (benchmarks/glossary.py), whose
embedding-aligned renderings are weakest exactly here ("Friday" → فبراير, "Iraq" → الارهاب).
CLDR data: Unicode License v3 (permissive; its notice is in the file's header).
"""

from __future__ import annotations

import re
import sys
import unicodedata
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rag.arabic import normalize_arabic  # noqa: E402

OUT = ROOT / "rag" / "data" / "glossary_en_ar_cldr.tsv"
MAX_FORMS = 3
_ENGLISH = re.compile(r"[a-z][a-z'-]+")
_ARABIC = re.compile("[\u0621-\u064a\u0640\u064b-\u065f\u0670]+")
_CONTINENTS = {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}


def _english(name: str) -> str | None:
    """A one-word English name, lower case, accents folded ("Türkiye" → "turkiye"); else None. A name
    that is also an English function word is left out: "May" the month is "may" the verb too."""
    from glossary import MORE_STOP  # type: ignore[import-not-found]  # benchmarks/glossary.py

    from rag.crosslingual import _ENGLISH_STOP

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()
    if not _ENGLISH.fullmatch(folded) or folded in MORE_STOP or folded in _ENGLISH_STOP:
        return None
    return folded


def _arabic(name: str) -> str | None:
    """A one-word Arabic name of three letters or more (as normalised); else None."""
    name = name.strip()
    return name if _ARABIC.fullmatch(name) and len(normalize_arabic(name)) >= 3 else None


def entries() -> dict[str, list[str]]:
    """English word → its Arabic names, in the order CLDR's categories are read."""
    from babel import Locale
    from babel.dates import get_timezone_location

    en, ar, levant = Locale("en"), Locale("ar"), Locale("ar", "SY")
    out: dict[str, list[str]] = {}

    def add(english: str | None, *arabic: str | None) -> None:
        if english is None:
            return
        forms = out.setdefault(english, [])
        for a in arabic:
            if a is not None and a not in forms and len(forms) < MAX_FORMS:
                forms.append(a)
        if not forms:
            del out[english]

    for code, name in en.territories.items():
        if not str(code).isdigit():  # regions ("019" Americas) are left out
            add(_english(name), _arabic(ar.territories.get(code, "")))
    for code, name in en.languages.items():
        add(_english(name), _arabic(ar.languages.get(code, "")))
    for zone in sorted(zoneinfo.available_timezones()):
        if "/" in zone and zone.split("/")[0] in _CONTINENTS:
            add(
                _english(get_timezone_location(zone, "en", return_city=True)),
                _arabic(get_timezone_location(zone, "ar", return_city=True)),
            )
    for n, name in en.months["format"]["wide"].items():
        add(_english(name), _arabic(ar.months["format"]["wide"][n]), _arabic(levant.months["format"]["wide"][n]))
    for n, name in en.days["format"]["wide"].items():
        add(_english(name), _arabic(ar.days["format"]["wide"][n]))
    for code, name in en.currencies.items():
        add(_english(name), _arabic(ar.currencies.get(code, "")))
    return out


def main() -> None:
    import babel

    found = entries()
    lines = [
        f"# English word<TAB>Arabic names, best first. Made by benchmarks/glossary_cldr.py from the Unicode CLDR "
        f"(through Babel {babel.__version__}): Copyright © 1991-2025 Unicode, Inc., Unicode License v3, "
        "https://www.unicode.org/license.txt"
    ]
    lines += [f"{word}\t{' '.join(forms)}" for word, forms in sorted(found.items())]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(found)} English words → {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
