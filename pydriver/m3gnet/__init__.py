"""Pure-torch M3GNet (matgl 1.x DGL math, three-body indexing corrected), checkpoint loading and export."""
