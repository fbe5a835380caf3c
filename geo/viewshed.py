"""Line-of-sight viewsheds over a surface raster (DEM plus building heights) by radial ray casting."""

from __future__ import annotations

import numpy as np
from affine import Affine

import shapely
from rasterio import features

__all__ = ["viewshed_mask", "viewshed_polygon"]


def _ray_samples(
    transform: Affine, x: float, y: float, range_m: float, n_rays: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points along radial rays: distances (n_steps,), xs and ys (n_rays, n_steps)."""
    cell = min(abs(transform.a), abs(transform.e))
    step = cell / 2.0
    dist = np.arange(step, range_m + step / 2, step)
    if n_rays is None:
        # enough rays that neighbouring rays are at most half a cell apart at the far end
        n_rays = max(16, int(np.ceil(2.0 * np.pi * range_m / step)))
    theta = np.linspace(0.0, 2.0 * np.pi, n_rays, endpoint=False)
    xs = x + np.sin(theta)[:, None] * dist[None, :]
    ys = y + np.cos(theta)[:, None] * dist[None, :]
    return dist, xs, ys


def _cells(transform: Affine, shape: tuple[int, int], xs: np.ndarray, ys: np.ndarray):
    """Row/column of each coordinate and whether it falls inside the raster."""
    inv = ~transform
    cols = np.floor(inv.a * xs + inv.b * ys + inv.c).astype(np.int64)
    rows = np.floor(inv.d * xs + inv.e * ys + inv.f).astype(np.int64)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows, cols, inside


def viewshed_mask(
    surface: np.ndarray,
    transform: Affine,
    x: float,
    y: float,
    *,
    height_m: float,
    range_m: float,
    target_height_m: float = 0.0,
    n_rays: int | None = None,
) -> np.ndarray:
    """Boolean mask of the raster cells visible from an observer.

    Rays leave the observer every few degrees and are sampled every half cell. Along each ray a
    sample is visible when the slope (elevation difference over distance) to its top
    (surface + ``target_height_m``) is at least the steepest slope to the *surface* of any nearer
    sample on the same ray (the max-angle rule). A cell is visible when any sample inside it is.
    The work is vectorised over all rays at once (``np.maximum.accumulate`` along the ray axis).

    Parameters
    ----------
    surface
        2-D elevation array (terrain, or terrain plus building heights), metres. NaN cells never
        block and are never visible.
    transform
        Affine transform of ``surface`` (rasterio convention); the raster CRS must be metric.
    x, y
        Observer position in the raster CRS.
    height_m
        Observer height above the surface at its position (camera mounting height).
    range_m
        Maximum distance; cells whose centre is farther are not visible.
    target_height_m
        Height above the surface of what must be seen (0 = the ground, ~1.7 = a face).
    n_rays
        Number of rays; by default enough for half-cell spacing at ``range_m``.

    Returns
    -------
    numpy.ndarray
        Boolean array with the shape of ``surface``. All False when the observer is outside the
        raster or ``range_m`` is not positive.

    Examples
    --------
    >>> from affine import Affine
    >>> flat = np.zeros((5, 5))
    >>> viewshed_mask(flat, Affine(1, 0, 0, 0, -1, 5), 2.5, 2.5, height_m=2, range_m=2).sum()
    np.int64(13)
    """
    surface = np.asarray(surface, dtype=np.float64)
    mask = np.zeros(surface.shape, dtype=bool)
    r0, c0, ok = _cells(transform, surface.shape, np.asarray([x]), np.asarray([y]))
    if not (ok[0] and np.isfinite(surface[r0[0], c0[0]]) and range_m > 0):
        return mask
    z0 = surface[r0[0], c0[0]] + height_m
    dist, xs, ys = _ray_samples(transform, x, y, range_m, n_rays)
    rows, cols, inside = _cells(transform, surface.shape, xs, ys)
    z = np.full(xs.shape, np.nan)
    z[inside] = surface[rows[inside], cols[inside]]
    slope_surface = np.where(np.isfinite(z), (z - z0) / dist, -np.inf)
    horizon = np.maximum.accumulate(slope_surface, axis=1)
    prev = np.concatenate([np.full((xs.shape[0], 1), -np.inf), horizon[:, :-1]], axis=1)
    visible = inside & np.isfinite(z) & ((z + target_height_m - z0) / dist >= prev)
    mask[rows[visible], cols[visible]] = True
    mask[r0[0], c0[0]] = True
    # keep only cells whose centre lies within range
    rr, cc = np.indices(surface.shape)
    cx = transform.a * (cc + 0.5) + transform.b * (rr + 0.5) + transform.c
    cy = transform.d * (cc + 0.5) + transform.e * (rr + 0.5) + transform.f
    mask &= np.hypot(cx - x, cy - y) <= range_m
    return mask


def viewshed_polygon(
    surface: np.ndarray,
    transform: Affine,
    x: float,
    y: float,
    *,
    height_m: float,
    range_m: float,
    target_height_m: float = 0.0,
    n_rays: int | None = None,
) -> shapely.Geometry:
    """Visible area from an observer as a (multi)polygon in the raster CRS.

    Runs :func:`viewshed_mask` and vectorises the visible cells with
    ``rasterio.features.shapes``. Parameters are those of :func:`viewshed_mask`.

    Returns
    -------
    shapely.Geometry
        Union of the visible cells; an empty Polygon when nothing is visible.

    Examples
    --------
    >>> from affine import Affine
    >>> flat = np.zeros((5, 5))
    >>> viewshed_polygon(flat, Affine(1, 0, 0, 0, -1, 5), 9.0, 9.0, height_m=2, range_m=2).is_empty
    True
    """
    mask = viewshed_mask(
        surface,
        transform,
        x,
        y,
        height_m=height_m,
        range_m=range_m,
        target_height_m=target_height_m,
        n_rays=n_rays,
    )
    if not mask.any():
        return shapely.Polygon()
    shapes = [
        shapely.geometry.shape(geom)
        for geom, _ in features.shapes(mask.astype(np.uint8), mask=mask, transform=transform)
    ]
    return shapely.union_all(shapes)
