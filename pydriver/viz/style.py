"""How each kind of atom, anion, surface and line looks (no OVITO import: plain data).

OVITO's own element table does not fit these systems: it names types only when the label starts
with an element symbol it knows (``B_BH4`` and ``H_BH4`` map, ``B_B12H12`` and ``H_B12H12`` get
radius 0 and a generic colour), and its default B radius (2.01 A) is larger than Na's (1.91 A).
The display radii below are chosen for pictures of ionic conductors: Na+ as its Shannon ionic
radius (6-fold, 1.02 A; Shannon, Acta Cryst. A32, 751 (1976)), B and H of the anions small so the
bonds (ball-and-stick) and polyhedra stay visible.
"""

from __future__ import annotations

RGB = tuple[float, float, float]

#: display radius (A) and colour per element; elements not listed fall back to OVITO's table
ELEMENT_STYLE: dict[str, tuple[float, RGB]] = {
    "Na": (1.02, (0.62, 0.36, 0.90)),
    "B": (0.42, (0.96, 0.55, 0.25)),
    "H": (0.26, (0.92, 0.92, 0.92)),
    "Li": (0.76, (0.80, 0.50, 1.00)),
    "K": (1.38, (0.56, 0.25, 0.83)),
}
#: colour of the B and H atoms, bonds and polyhedra of each anion kind (Figure 3A-like palette)
ANION_COLORS: dict[str, RGB] = {
    "BH4": (0.20, 0.65, 0.30),
    "B12H12": (0.20, 0.45, 0.85),
    "B10H10": (0.75, 0.35, 0.65),
}
#: colour of anion kinds not in ANION_COLORS
OTHER_ANION_COLOR: RGB = (0.55, 0.55, 0.55)
#: H atoms of an anion: the anion colour blended towards white by this fraction
H_LIGHTEN = 0.55

#: bond cutoffs (A) inside anions: B-H 1.21 A in BH4 and B12H12, B-B 1.78 A in the B12 cage
#: (r2SCAN structures of examples/structures); cutoffs sit between bonded and next neighbours
#: (B-B across a BH4...BH4 contact > 3 A, H-H inside BH4 1.98 A is not bonded)
BOND_CUTOFFS_A: dict[tuple[str, str], float] = {("B", "H"): 1.45, ("B", "B"): 2.05}
BOND_WIDTH_A = 0.18

#: Na probability-density isosurface (yellow, as in VESTA/OVITO figures of diffusion networks)
ISOSURFACE_COLOR: RGB = (1.00, 0.80, 0.05)
ISOSURFACE_TRANSPARENCY = 0.25
#: mobile-ion colouring by the analysis's active flag
ACTIVE_COLOR: RGB = (0.90, 0.10, 0.10)
INACTIVE_COLOR: RGB = (0.55, 0.55, 0.60)
#: trajectory lines: Na hops and the H atoms of a rotating anion
HOP_LINE_COLOR: RGB = (0.85, 0.10, 0.10)
ROTATION_LINE_COLOR: RGB = (0.10, 0.55, 0.95)
#: lines between Na sites with hops (``--what sites``; the sites themselves are coloured by occupancy)
SITE_HOP_LINE_COLOR: RGB = (0.85, 0.10, 0.10)
LINE_WIDTH_A = 0.12
BACKGROUND: RGB = (1.0, 1.0, 1.0)


def anion_color(anion: str | None) -> RGB | None:
    """Colour of an anion kind (``None`` for free ions)."""
    if not anion:
        return None
    return ANION_COLORS.get(anion, OTHER_ANION_COLOR)


def type_style(element: str, anion: str | None) -> tuple[float | None, RGB | None]:
    """Display radius (A) and colour of a type; ``(None, None)`` keeps OVITO's defaults.

    B and H of an anion take the anion colour (H lightened); free ions their element colour.
    """
    radius, color = ELEMENT_STYLE.get(element, (None, None))
    kind = anion_color(anion)
    if kind is not None:
        color = kind if element != "H" else tuple(c + (1.0 - c) * H_LIGHTEN for c in kind)
    return radius, color
