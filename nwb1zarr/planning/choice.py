"""Choosing the profile that maps a file (plan stage, step 1)."""

from __future__ import annotations

from ..errors import SourceDataError
from ..reading.legacy_tree import LegacyTree
from .profiles import Profile, load_profile, shipped_profiles


def choose_profile(tree: LegacyTree, requested: str | None) -> tuple[Profile, str | None]:
    """The requested profile, or the highest-priority shipped one whose requirements hold, and a note
    saying why better-ranked profiles were passed over.

    >>> with LegacyTree.open("session.nwb") as tree:       # doctest: +SKIP
    ...     choose_profile(tree, None)[0].name
    'brain_observatory_ophys'
    """
    exists = tree.nodes.__contains__
    if requested is not None:
        chosen = load_profile(requested)
        missing = chosen.missing(exists)
        if missing:
            raise SourceDataError(f"profile {chosen.name!r} needs {', '.join(missing)}, which the file lacks",
                                  file=str(tree.source))
        return chosen, None
    notes = []
    for candidate in shipped_profiles():
        missing = candidate.missing(exists)
        if not missing:
            return candidate, "; ".join(notes) or None
        notes.append(f"not {candidate.name}: missing {', '.join(missing)}")
    raise SourceDataError("no profile applies: " + "; ".join(notes), file=str(tree.source))
