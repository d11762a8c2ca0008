"""The store's attribute vocabulary: how a store node says where it came from (used by converter and validator).

Every name the converter writes about the source, and every encoding of a link, lives here, so the
planner, the remainder accounting and the validator cannot drift apart.

>>> source_attrs({"unit": "s"})
{'nwb1:unit': 's'}
>>> from_source_attrs({"nwb1:unit": "s", "nwb1_path": "/a"})
{'unit': 's'}
>>> link_value("external_link", target="/data", file="raw.h5")
'external:raw.h5:/data'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SOURCE_ATTR_PREFIX = "nwb1:"
"""Prefix of every source attribute kept on a store node (``unit`` -> ``nwb1:unit``)."""
PATH = "nwb1_path"
"""The HDF5 path a node came from (a pattern such as ``.../<roi_list[i]>/img_mask`` for stacks)."""
TYPE = "nwb1_type"
"""The legacy neurodata type of a kept node."""
RULE = "nwb1_rule"
"""``profile:rule`` that made a mapped group."""
TRANSFORM = "nwb1_transform"
"""The named transform steps applied to the source (see :mod:`nwb1zarr.planning.transforms`)."""
DERIVATION = "nwb1_derivation"
DERIVED_FROM = "nwb1_derived_from"
COLUMN = "nwb1_column"
"""The source column name (from ``features`` / ``feature_description``) a variable holds."""
COMPOUND_FIELD = "nwb1_field"
"""The compound field a kept variable holds (the plan's record; never parsed from names)."""
COMBINE = "nwb1_combine"
ITEM_ATTRS = "nwb1_item_attrs"
"""Source attributes of each item of a stacked / concatenated variable, in item order."""
LINKS = "nwb1_links"
"""On a kept group: its links by name (see :func:`link_value`)."""
MAPPED = "nwb1_mapped"
"""On a kept group: where its mapped children went."""
PACKED = "nwb1_packed"
"""On a kept group (layout 2): its packed child groups by store name, each the attributes it would carry as a
group. A source group is packed when it has no attributes, no subgroups and every dataset in it is mapped (the
ROI groups of an ImageSegmentation): hundreds of groups holding nothing but a pointer would otherwise each cost
a store node."""
IDENTICAL_TO = "nwb1_identical_to"
ALIAS_ATTRS = "nwb1_alias_attrs"
TIME_NOTE = "nwb1_time_note"
PIX_MASK_ORIENTATION = "nwb1_pix_mask_orientation"
"""On /rois/pixels: which way pix_mask rows were verified against img_mask ("x,y", "y,x" or "neither")."""
PIX_MASK_ORIENTATION_DETAIL = "nwb1_pix_mask_orientation_detail"
PIX_MASK_COLUMN = "nwb1_pix_mask_column"
"""On each /rois/pixels column: the pix_mask column it holds."""


def source_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Source attributes as a store node keeps them."""
    return {f"{SOURCE_ATTR_PREFIX}{k}": v for k, v in attrs.items()}


def from_source_attrs(store_attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The source attributes a store node keeps (inverse of :func:`source_attrs`)."""
    n = len(SOURCE_ATTR_PREFIX)
    return {k[n:]: v for k, v in store_attrs.items() if k.startswith(SOURCE_ATTR_PREFIX)}


def link_value(kind: str, *, target: str, file: str | None = None) -> str:
    """How ``nwb1_links`` records a link: soft -> its target, hard -> ``hard:<target>``,
    external -> ``external:<file>:<target>``."""
    if kind == "soft_link":
        return target
    if kind == "hard_link":
        return f"hard:{target}"
    if kind == "external_link":
        return f"external:{file}:{target}"
    raise ValueError(f"not a link kind: {kind!r}")


def hard_link_target(recorded: Any) -> str | None:
    """The target path of a recorded hard link, or None when ``recorded`` is not one.

    >>> hard_link_target("hard:/a/b"), hard_link_target("/a/b")
    ('/a/b', None)
    """
    prefix = "hard:"
    return recorded[len(prefix):] if isinstance(recorded, str) and recorded.startswith(prefix) else None
