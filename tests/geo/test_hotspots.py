"""Tests for geo.hotspots: study cells, weights, Gi* against esda, FDR classes."""

import numpy as np
import pytest

import esda
import geopandas as gpd
import h3.api.basic_int as h3
import shapely

from riskmap.geo.hotspots import (
    CENTRE_RULE_FROM,
    GiStar,
    benjamini_hochberg,
    classify_gi,
    gi_star_z,
    h3_weights,
    hotspots_h3,
    hotspots_mahalla,
    mahalla_weights,
    study_cells,
    two_sided_p,
)

BOX = shapely.box(69.20, 41.28, 69.26, 41.32)


@pytest.fixture(scope="module")
def area() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"mahalla_id": ["a"], "population": [1000]}, geometry=[BOX], crs=4326)


@pytest.fixture(scope="module")
def cells(area) -> np.ndarray:
    return study_cells(area, 9)


@pytest.fixture(scope="module")
def grid4() -> gpd.GeoDataFrame:
    polys = [shapely.box(i, j, i + 1, j + 1) for j in range(4) for i in range(4)]
    return gpd.GeoDataFrame({"mahalla_id": [f"m{k}" for k in range(16)]}, geometry=polys, crs=4326)


def test_study_cells_centres_inside(cells):
    assert cells.size > 150
    assert np.all(np.diff(cells) > 0)
    centres = np.array([h3.cell_to_latlng(int(c)) for c in cells[::25]])
    assert shapely.contains_xy(BOX, centres[:, 1], centres[:, 0]).all()
    # the count matches area / mean cell area within 5%
    cell_km2 = h3.cell_area(int(cells[0]), "km^2")
    box_km2 = gpd.GeoSeries([BOX], crs=4326).to_crs(32642).area.iloc[0] / 1e6
    assert abs(cells.size - box_km2 / cell_km2) / cells.size < 0.05


def test_study_cells_empty_layer():
    empty = gpd.GeoDataFrame({"mahalla_id": []}, geometry=[], crs=4326)
    assert study_cells(empty).size == 0


def test_coarse_study_cells_are_those_that_meet_the_layer(area):
    """Below ``CENTRE_RULE_FROM`` every cell that meets the layer is a study cell: the box
    (5 x 4 km) holds no res-5 or res-6 cell centre, yet each of its points lies in one of the
    cells returned."""
    pts = shapely.points(np.random.default_rng(3).uniform((69.20, 41.28), (69.26, 41.32),
                                                          (500, 2)))
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    for res in range(5, CENTRE_RULE_FROM):
        got = study_cells(area, res)
        held = np.array([h3.latlng_to_cell(b, a, res) for a, b in zip(x, y, strict=True)])
        assert got.size and np.isin(held, got).all(), res
        # the centre rule would have found none: the box holds no centre at res 5 or 6
        centres = shapely.points([h3.cell_to_latlng(int(c))[::-1] for c in got])
        assert not shapely.contains(BOX, centres).any()
    # from CENTRE_RULE_FROM on: the centre rule (test_study_cells_centres_inside)
    assert study_cells(area, CENTRE_RULE_FROM).size


def test_h3_weights_are_edge_neighbours(cells):
    w = h3_weights(cells)
    m = w.sparse.tocsr()
    assert (m != m.T).nnz == 0
    assert m.diagonal().sum() == 0
    card = np.diff(m.indptr)
    assert card.max() == 6 and card.min() >= 1
    i = int(np.argmax(card))
    ring = set(h3.grid_ring(int(cells[i]), 1))
    assert {int(cells[j]) for j in m.indices[m.indptr[i] : m.indptr[i + 1]]} == ring


def test_mahalla_queen_weights(grid4):
    w = mahalla_weights(grid4)
    card = np.diff(w.sparse.tocsr().indptr)
    assert card[5] == 8  # an interior square touches all around it
    assert sorted(card.tolist()) == [3] * 4 + [5] * 8 + [8] * 4


def test_gi_star_equals_esda_h3(cells):
    rng = np.random.default_rng(3)
    y = rng.poisson(2.0, cells.size).astype(float)
    w = h3_weights(cells)
    ref = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    est = GiStar().fit(y, h3_weights(cells, star=True))
    np.testing.assert_allclose(est.z, ref.Zs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.p, 2 * ref.p_norm, rtol=1e-10)
    np.testing.assert_allclose(gi_star_z(y, w), ref.Zs, rtol=1e-10, atol=1e-12)
    # the vectorised multi-column form matches column by column
    y2 = rng.poisson(1.0, cells.size).astype(float)
    both = gi_star_z(np.column_stack([y, y2]), w)
    ref2 = esda.G_Local(y2, w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(both[:, 1], ref2.Zs, rtol=1e-10, atol=1e-12)


def test_gi_star_equals_esda_mahalla(grid4):
    y = np.array([1.0, 2, 3, 4, 9, 6, 7, 8, 0, 0, 1, 2, 5, 5, 3, 1])
    ref = esda.G_Local(y, mahalla_weights(grid4), transform="B", star=True, permutations=0)
    out = hotspots_mahalla(y, grid4)
    np.testing.assert_allclose(out["gi_z"].to_numpy(), ref.Zs, rtol=1e-10)
    assert out["mahalla_id"].tolist() == grid4["mahalla_id"].tolist()


def test_planted_cluster_is_hot(cells):
    rng = np.random.default_rng(7)
    centre = h3.latlng_to_cell(41.30, 69.23, 9)
    cluster = np.array(h3.grid_disk(centre, 1), dtype=np.int64)
    background = rng.choice(cells, 300)
    hot = np.repeat(cluster, 15)
    out = hotspots_h3(np.concatenate([background, hot]), cells)
    row = out.set_index("h3").loc[centre]
    assert row["gi_class"] == "hot_99"
    assert row["gi_z"] > 10
    assert out["count"].sum() == 300 + hot.size
    assert out["gi_class"].isin(["hot_99", "hot_95", "hot_90"]).sum() >= 7


def test_fdr_fewer_significant_on_noise(cells):
    rng = np.random.default_rng(11)
    y = rng.poisson(3.0, cells.size)
    w = h3_weights(cells, star=True)
    raw = GiStar(fdr=False).fit(y, w)
    fdr = GiStar().fit(y, w)
    n_raw = int((raw.gi_class != "not_significant").sum())
    n_fdr = int((fdr.gi_class != "not_significant").sum())
    assert n_raw > 0
    assert n_fdr < n_raw
    # q >= p always
    assert np.all(fdr.q >= fdr.p - 1e-15)


def test_permutations_reproducible(cells):
    rng = np.random.default_rng(5)
    y = rng.poisson(2.0, cells.size)
    w = h3_weights(cells, star=True)
    a = GiStar(permutations=99, seed=1).fit(y, w)
    b = GiStar(permutations=99, seed=1).fit(y, w)
    np.testing.assert_array_equal(a.p, b.p)
    assert a.p.min() >= 0.0199 and a.p.max() <= 1.0


def test_all_zero_counts_not_significant(cells):
    out = hotspots_h3(np.array([], dtype=np.int64), cells)
    assert (out["gi_class"] == "not_significant").all()
    assert (out["gi_z"] == 0).all() and (out["gi_p"] == 1).all()


def test_benjamini_hochberg_hand_values():
    p = np.array([0.01, 0.04, 0.03, 0.20, np.nan])
    q = benjamini_hochberg(p)
    # sorted p: .01 .03 .04 .20 (m=4) -> .04 .06 .0533 .20 -> cummin from top: .04 .0533 .0533 .2
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])


def test_benjamini_hochberg_columns_are_separate_families():
    """A matrix is adjusted column by column, each column as the definition says on its own
    (ties, NaN and inf left out of the family, an all-NaN column)."""

    def by_definition(col):  # q_i = min over p_j >= p_i of min(1, p_j m / rank_j)
        ok = np.isfinite(col)
        v = np.sort(col[ok])
        m = len(v)
        out = np.full(col.shape, np.nan)
        for i in np.flatnonzero(ok):
            k = np.searchsorted(v, col[i], side="left")  # first rank of its tie group
            out[i] = min(1.0, (v[k:] * m / np.arange(k + 1, m + 1)).min())
        return out

    rng = np.random.default_rng(7)
    p = rng.uniform(size=(200, 6)) ** 3
    p[::7, 1] = np.nan
    p[:, 2] = np.round(p[:, 2], 2)  # ties
    p[:, 3] = np.nan
    p[5, 4] = np.inf
    q = benjamini_hochberg(p)
    for t in range(p.shape[1]):
        np.testing.assert_allclose(q[:, t], by_definition(p[:, t]), equal_nan=True)
        np.testing.assert_allclose(benjamini_hochberg(p[:, t]), q[:, t], equal_nan=True)
    assert np.isnan(q[:, 3]).all() and np.isnan(q[5, 4]) and np.isnan(q[::7, 1]).all()
    assert np.isfinite(q[:, [0, 2, 5]]).all()


def test_two_sided_p_is_scipys_normal_tail():
    from scipy import stats

    z = np.array([-40.0, -3.0, -1.96, -0.1, 0.0, 0.1, 1.96, 3.0, 40.0, np.nan])
    np.testing.assert_array_equal(two_sided_p(z), 2.0 * stats.norm.sf(np.abs(z)))


def test_classify_gi_levels():
    z = np.array([3.0, 2.0, 1.7, 0.5, -1.7, -2.0, -3.0])
    p = np.array([0.005, 0.04, 0.08, 0.6, 0.08, 0.04, 0.005])
    assert classify_gi(z, p).tolist() == [
        "hot_99",
        "hot_95",
        "hot_90",
        "not_significant",
        "cold_90",
        "cold_95",
        "cold_99",
    ]


def test_length_mismatch_raises(cells):
    with pytest.raises(ValueError, match="weights have"):
        GiStar().fit(np.ones(3), h3_weights(cells))


def test_binary_star_keeps_a_ready_star_and_fixes_any_other() -> None:
    """A canonical 0/1 CSR with a full diagonal is used as it is (no copy of a country's
    weights); anything else becomes one: values to 1, explicit zeros dropped, diagonal set."""
    import scipy.sparse as sp

    from riskmap.geo.hotspots import _binary_star

    star = sp.csr_matrix(np.array([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]]))
    assert _binary_star(star) is star
    raw = sp.csr_matrix(np.array([[0.0, 0.5, 0], [2, 0, 3], [0, 1, 7]]))
    raw.data[0] = 0.0  # an explicit zero: no neighbour
    fixed = _binary_star(raw)
    assert fixed is not raw
    np.testing.assert_array_equal(fixed.toarray(), [[1, 0, 0], [1, 1, 1], [0, 1, 1]])
    wrong_diag = sp.csr_matrix(np.array([[0.0, 1], [1, 1]]))
    np.testing.assert_array_equal(_binary_star(wrong_diag).toarray(), [[1, 1], [1, 1]])


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10, 0.5])
def test_bh_significant_is_the_q_value_rule(alpha) -> None:
    """The threshold form gives exactly ``benjamini_hochberg(p) <= alpha``: ties, NaN, inf,
    p-values on the step line, a family with nothing significant and one with everything."""
    from riskmap.geo.hotspots import bh_significant

    rng = np.random.default_rng(5)
    families = [rng.uniform(size=2000) ** 4, np.round(rng.uniform(size=2000) ** 3, 3),
                np.full(50, 0.9), np.full(50, 1e-6), np.array([]), np.array([np.nan, 0.001])]
    on_line = np.arange(1, 21) * alpha / 20  # p_(k) m / k == alpha for every k
    families.append(on_line)
    with_gaps = families[0].copy()
    with_gaps[::9] = np.nan
    with_gaps[::13] = np.inf
    families.append(with_gaps)
    for p in families:
        want = benjamini_hochberg(p) <= alpha
        np.testing.assert_array_equal(bh_significant(p, alpha), want)
    assert bh_significant(families[0], alpha).any() and not bh_significant(families[2], 0.05).any()


@pytest.mark.parametrize("star", [False, True])
def test_h3_adjacency_in_blocks_is_the_neighbour_matrix(star: bool) -> None:
    """Made block by block (hexagon rows sorted slot-wise, pentagon blocks pair-wise), the
    matrix is canonical CSR and holds exactly the neighbours in the set (and the diagonal
    with ``star``), whatever the order of the cells."""
    from riskmap.geo.hotspots import h3_adjacency

    around = [c for p in h3.get_pentagons(6)[:3] for c in h3.grid_disk(p, 3)]
    plain = h3.grid_disk(h3.latlng_to_cell(41.3, 69.2, 8), 6)
    cells = np.random.default_rng(3).permutation(np.unique(np.array(around + plain[::2],
                                                                    dtype=np.int64)))
    got = h3_adjacency(cells, star=star, chunk=37)
    where = {c: i for i, c in enumerate(cells.tolist())}
    want = np.zeros((len(cells), len(cells)))
    for i, c in enumerate(cells.tolist()):
        for d in h3.grid_disk(c, 1):
            if d in where and (star or d != c):
                want[i, where[d]] = 1.0
    assert got.has_canonical_format and np.array_equal(got.toarray(), want)
    assert got.indices.dtype == np.int32 and got.nnz == want.sum()
    step = np.diff(got.indices)  # strictly increasing within every row
    inner = np.ones(len(step), dtype=bool)
    inner[got.indptr[1:-1][got.indptr[1:-1] > 0] - 1] = False
    assert (step[inner] > 0).all()


@pytest.mark.parametrize("seed, busy_share, months", [(1, 0.02, 12), (2, 0.3, 6), (3, 0.9, 4),
                                                      (4, 0.0, 3), (5, 1.0, 12)])
def test_quiet_split_gives_the_whole_lattice_figures(seed, busy_share, months) -> None:
    """Fitted on the active cells and one row per star size of the quiet ones, Gi* z (every
    bin), the BH q-values, the FDR-significant bins and the emerging classes are exactly
    (bit for bit) those of the whole lattice, cell for cell: sparse counts, counts nearly
    everywhere (the quiet rows then become significant cold spots), no counts and all
    counts; a lattice with holes and pentagons, so star sizes range from 1 to 7."""
    import scipy.sparse as sp

    from riskmap.geo.hotspots import (
        bh_significant,
        h3_adjacency,
        h3_star_sizes,
        quiet_split,
        quiet_split_h3,
    )
    from riskmap.geo.trends import EmergingHotSpots

    rng = np.random.default_rng(seed)
    disk = np.array(h3.grid_disk(h3.latlng_to_cell(41.3, 69.2, 9), 14), dtype=np.int64)
    penta = np.array([c for p in h3.get_pentagons(9)[:2] for c in h3.grid_disk(p, 3)],
                     dtype=np.int64)
    alone = h3.latlng_to_cell(40.0, 65.0, 9)  # a cell with no neighbour in the lattice
    cells = np.unique(np.r_[disk[rng.uniform(size=disk.size) > 0.15], penta, alone])
    w = h3_adjacency(cells, star=True)
    n = cells.size
    y = np.zeros((n, months))
    # counts fall in the disk only (the pentagons' cells stay quiet); high and even counts
    # nearly everywhere make the quiet cells significant cold spots
    busy = np.flatnonzero(np.isin(cells, disk) & (rng.uniform(size=n) < busy_share))
    lam = 30.0 if busy_share >= 0.9 else 2.0
    y[busy] = rng.poisson(lam, size=(busy.size, months)) + (rng.uniform(size=(busy.size, 1))
                                                             < 0.5) * 3
    split = quiet_split(sp.csr_matrix(w), np.flatnonzero(y.sum(axis=1) > 0))
    # the same split from the cells alone (no lattice matrix), as the build makes it
    by_h3 = quiet_split_h3(cells, h3_star_sizes(cells), np.flatnonzero(y.sum(axis=1) > 0))
    for name in ("rows", "card", "weight", "card_all"):
        np.testing.assert_array_equal(getattr(by_h3, name), getattr(split, name))
    assert by_h3.n == n and (by_h3.lag != split.lag).nnz == 0
    assert set(np.unique(split.card_all).tolist()) >= {1, 2, 6, 7}
    assert split.weight.sum() == n and split.card.size == split.n_active + np.unique(
        np.delete(split.card_all, split.rows)).size
    everyone = np.ones(split.card.size, dtype=bool)
    cells_back, row = split.expand(everyone)
    np.testing.assert_array_equal(cells_back, np.arange(n))  # every cell, once, in order
    assert np.count_nonzero(y[np.setdiff1d(np.arange(n), split.rows)]) == 0

    z_all = gi_star_z(y, w)
    z_split = split.gi_star_z(y[split.rows])
    np.testing.assert_array_equal(z_split[row], z_all)
    p_all, p_split = two_sided_p(z_all), two_sided_p(z_split)
    np.testing.assert_array_equal(benjamini_hochberg(p_split, split.weight)[row],
                                  benjamini_hochberg(p_all))
    for t in range(months):
        for alpha in (0.01, 0.10):
            np.testing.assert_array_equal(
                bh_significant(p_split[:, t], alpha, split.weight)[row],
                bh_significant(p_all[:, t], alpha))
    whole = EmergingHotSpots().fit_z(z_all)
    part = EmergingHotSpots().fit_z(z_split, split.weight)
    np.testing.assert_array_equal(part.category[row], whole.category)
    np.testing.assert_array_equal(part.hot[row], whole.hot)
    np.testing.assert_array_equal(part.cold[row], whole.cold)
    if busy_share == 0.9:  # the quiet cells are cold spots here: they are expanded back
        quiet_rows = np.arange(split.n_active, split.card.size)
        assert whole.cold[:, -1].any() and part.cold[quiet_rows].any()
        kept, src = split.expand(part.cold[:, -1])
        np.testing.assert_array_equal(kept, np.flatnonzero(whole.cold[:, -1]))
        assert (src >= split.n_active).any()


def test_quiet_split_of_an_empty_lattice() -> None:
    """A resolution at which no cell centre falls in the mahallas: nothing to fit, no error."""
    from riskmap.geo.hotspots import quiet_split_h3

    empty = np.zeros(0, dtype=np.int64)
    split = quiet_split_h3(empty, np.zeros(0, dtype=np.int8), empty)
    assert split.n == 0 and split.card.size == 0
    assert split.gi_star_z(np.zeros((0, 3))).shape == (0, 3)
    cells, rows = split.expand(np.zeros(0, dtype=bool))
    assert cells.size == 0 and rows.size == 0
