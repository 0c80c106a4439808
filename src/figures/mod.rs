//! Plotting helpers and image grids (PNG/SVG/GIF, evcxr display). Draws, never computes the math.
