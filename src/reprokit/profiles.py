"""Run profiles of the book's chapters.

Every chapter has a papermill parameter ``profile``: ``"quick"`` (the default and what CI runs;
minutes on a 2-core CPU) or ``"paper"`` (the paper's full settings). :func:`select` picks a
chapter's settings for the profile and refuses unknown names.
"""

from __future__ import annotations

from typing import Any

from .checks import check_choice

PROFILES = ("quick", "paper")


def select(profile: str, **settings: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings[profile]``: ``select(profile, quick={...}, paper={...})``."""
    check_choice("profile", profile, PROFILES)
    missing = [p for p in PROFILES if p not in settings]
    if missing:
        raise ValueError(f"settings for profiles {missing} are missing; give one dict per profile in {list(PROFILES)}")
    return dict(settings[profile])
