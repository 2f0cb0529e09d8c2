"""Connection rules of projections: which pre- and postsynaptic neurons a synapse joins.

A connector is data (:class:`Connector`, read from a protocol's
``projections:`` entry by :func:`connector_from_spec`) and one pure function,
:func:`connect`, that turns it into index arrays ``(i, j)`` with a seeded
``numpy.random.Generator``. The rules and their flags follow NEST's
(``nest.Connect``'s ``conn_spec``), the reference simulator of the field:

``all_to_all``
    every pair.
``one_to_one``
    ``i = j``; both populations have the same size.
``fixed_probability`` (NEST: ``pairwise_bernoulli``)
    each pair independently with probability ``p``.
``fixed_indegree``, ``fixed_outdegree``
    each postsynaptic (presynaptic) neuron gets ``indegree`` (``outdegree``)
    partners drawn uniformly, with repeats unless ``multapses: false``.
``fixed_total_number``
    ``n`` synapses, each pair drawn uniformly.
``total_from_probability``
    ``fixed_total_number`` with the ``n`` that connects a given pair with
    probability ``p`` when synapses are drawn with repeats:
    ``n = round(log(1 - p) / log(1 - 1 / (n_pre n_post)))`` (Potjans &
    Diesmann 2014, eq. 1; the cortical microcircuit's connection table).
``distance`` (NEST: ``pairwise_bernoulli`` with a spatial ``p``)
    each pair independently with probability ``p0 exp(-d^2 / (2 scale^2))``
    (``profile: gaussian``) or ``p0 exp(-d / scale)`` (``exponential``), ``d``
    the distance between the neurons' positions (both populations need
    ``positions:``, see :mod:`neurosim.networks.positions`), none beyond
    ``cutoff`` if given; the expected count is the sum of the probabilities.
``from_file`` (NEST: array connections)
    the pairs of a ``.npz`` file with integer arrays ``i`` and ``j`` (``file``,
    relative to the protocol's folder); checked when the protocol loads
    (indices in range, no self-pairs without ``autapses``, no repeated pairs
    without ``multapses``) and again, by its SHA-256, when it is built. The
    file may hold more arrays of one number per synapse: a projection's
    ``weight: {from_file: NAME, unit: UNIT}`` and ``delay: {...}`` read them
    (:func:`file_array`, :mod:`neurosim.networks.values`).

``autapses`` (a neuron onto itself; only when source and target are the
same population) and ``multapses`` (more than one synapse per pair) are
allowed by default, as in NEST. The number of synapses a connector will make
is known (or its mean is) before any is drawn: :func:`expected_synapses`, so
a protocol's memory is estimated before anything is built.

Drawing is vectorised: ``fixed_probability`` draws the number of synapses
and then a uniform set of that many pairs (cost proportional to the
synapses made, not to the pairs),
the fixed-degree rules draw all partners at once, without repeats through
random keys in blocks of rows.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import metre

from neurosim.errors import NeurosimError, excerpt
from neurosim.networks.positions import distances
from neurosim.schema import (
    check_bool,
    check_choice,
    check_int,
    check_keys,
    check_number,
    check_str,
)
from neurosim.units import parse_quantity

__all__ = [
    "CONNECTORS",
    "MAX_SYNAPSES",
    "Connector",
    "connect",
    "connector_from_spec",
    "expected_synapses",
    "file_array",
]

#: Rules and the keys each one takes besides ``rule``, ``autapses``, ``multapses``.
CONNECTORS: dict[str, tuple[str, ...]] = {
    "all_to_all": (),
    "one_to_one": (),
    "fixed_probability": ("p",),
    "fixed_indegree": ("indegree",),
    "fixed_outdegree": ("outdegree",),
    "fixed_total_number": ("n",),
    "total_from_probability": ("p",),
    "from_file": ("file",),
    "distance": ("p0", "profile", "scale"),
}

#: Distance profiles of the ``distance`` rule.
PROFILES = ("gaussian", "exponential")

#: Most synapses one projection may have (about 0.3 billion is the full-scale
#: cortical microcircuit; memory is checked separately, before building).
MAX_SYNAPSES = 2 * 10**9

#: Random keys drawn at once by the fixed-degree rules without repeats.
_BLOCK = 4_000_000


@dataclass(frozen=True)
class Connector:
    """A connection rule and its parameters (see the module docstring).

    Attributes
    ----------
    rule : str
        One of :data:`CONNECTORS`.
    p : float, optional
        Connection probability of ``fixed_probability``, in [0, 1].
    indegree, outdegree, n : int, optional
        Partners per neuron, or synapses in all, of the fixed-count rules.
    autapses, multapses : bool
        Allow a neuron onto itself (same population only) / repeated pairs.
    """

    rule: str
    p: float | None = None
    indegree: int | None = None
    outdegree: int | None = None
    n: int | None = None
    autapses: bool = True
    multapses: bool = True
    file: str | None = None
    """``from_file``: the resolved path of the ``.npz`` file."""
    sha256: str | None = None
    """``from_file``: the file's SHA-256 when the protocol loaded."""
    extent: tuple[int, int, int, int] | None = None
    """``from_file``: (synapses, largest i + 1, largest j + 1, self-pairs)."""
    p0: float | None = None
    """``distance``: the probability at distance 0."""
    profile: str | None = None
    """``distance``: ``gaussian`` or ``exponential``."""
    scale: float | None = None
    """``distance``: the profile's width (m)."""
    cutoff: float | None = None
    """``distance``: no synapse beyond this distance (m)."""


def connector_from_spec(spec: object, where: str, folder: Path | None = None) -> Connector:
    """Read a ``connector:`` entry: a rule name, or a mapping with ``rule`` and its keys.

    Only the types and ranges that need no population sizes are checked here;
    :func:`check_connector` checks the rest once the sizes are known.
    """
    if isinstance(spec, str):
        spec = {"rule": spec}
    optional = (
        "p",
        "indegree",
        "outdegree",
        "n",
        "autapses",
        "multapses",
        "file",
        "p0",
        "profile",
        "scale",
        "cutoff",
    )
    spec = check_keys(spec, where, ("rule",), optional)
    rule, _ = check_choice(spec, "rule", CONNECTORS, "connector", where)
    values: dict[str, object] = {"rule": rule}
    if "p" in spec:
        p = check_number(spec["p"], f"{where}.p", "a probability in [0, 1]")
        if not 0 <= p <= 1:
            raise NeurosimError(f"{where}.p: expected a probability in [0, 1], got {p!r}")
        if rule == "total_from_probability" and p >= 1:
            # log(1 - p) of eq. 1: a pair is never certain when drawn with repeats
            raise NeurosimError(f"{where}.p: total_from_probability needs p < 1, got {p!r}")
        values["p"] = p
    for key in ("indegree", "outdegree", "n"):
        if key in spec:
            values[key] = check_int(spec[key], f"{where}.{key}", 0, MAX_SYNAPSES)
    for key in ("autapses", "multapses"):
        if key in spec:
            values[key] = check_bool(spec[key], f"{where}.{key}")
    if rule == "from_file":
        values.update(_read_pairs(spec["file"], folder, values.get("multapses", True), where))
    if rule == "distance":
        values.update(_distance_spec(spec, where))
    elif "cutoff" in spec:
        raise NeurosimError(f"{where}.cutoff: not a parameter of connector {rule!r}")
    return Connector(**values)  # type: ignore[arg-type]


def _distance_spec(spec: dict, where: str) -> dict:
    p0 = check_number(spec["p0"], f"{where}.p0", "a probability in [0, 1]")
    if not 0 <= p0 <= 1:
        raise NeurosimError(f"{where}.p0: expected a probability in [0, 1], got {p0!r}")
    if spec["profile"] not in PROFILES:
        raise NeurosimError(
            f"{where}.profile: expected one of {', '.join(PROFILES)}, "
            f"got {excerpt(spec['profile'])}"
        )
    out = {"p0": p0, "profile": spec["profile"]}
    for key in ("scale", "cutoff"):
        if key in spec:
            length = float(parse_quantity(spec[key], f"{where}.{key}", metre))
            if not (np.isfinite(length) and length > 0):
                raise NeurosimError(f"{where}.{key}: has to be > 0, got {excerpt(spec[key])}")
            out[key] = length
    return out


def distance_probability(conn: Connector, d: np.ndarray) -> np.ndarray:
    """Connection probability of the ``distance`` rule at distances ``d`` (m)."""
    if conn.profile == "gaussian":
        p = conn.p0 * np.exp(-0.5 * (d / conn.scale) ** 2)
    else:
        p = conn.p0 * np.exp(-d / conn.scale)
    if conn.cutoff is not None:
        p = np.where(d > conn.cutoff, 0.0, p)
    return p


def _distance_blocks(conn: Connector, positions, same: bool):
    """Per block of presynaptic rows: (first row, probabilities (rows, n_post))."""
    pre, post, period = positions
    rows = max(1, _BLOCK // max(1, len(post)))
    for first in range(0, len(pre), rows):
        p = distance_probability(conn, distances(pre[first : first + rows], post, period))
        if same and not conn.autapses:
            k = np.arange(p.shape[0])
            p[k, first + k] = 0.0
        yield first, p


def _load_pairs(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            i, j = data["i"], data["j"]
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise NeurosimError(
            f"{where}: {path} is not an .npz file with integer arrays 'i' and 'j' "
            f"({type(err).__name__})"
        ) from None
    if i.ndim != 1 or i.shape != j.shape or i.dtype.kind not in "iu" or j.dtype.kind not in "iu":
        raise NeurosimError(
            f"{where}: 'i' and 'j' in {path} must be 1-d integer arrays of one length"
        )
    if len(i) > MAX_SYNAPSES:
        raise NeurosimError(f"{where}: {len(i)} synapses, more than {MAX_SYNAPSES:.0e}")
    if len(i) and min(int(i.min()), int(j.min())) < 0:
        raise NeurosimError(f"{where}: negative neuron index in {path}")
    return i.astype(np.int64), j.astype(np.int64)


def _sha256(path: Path) -> str:
    """The file's SHA-256, read in pieces (a connection file can hold billions of synapses)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_array(conn: Connector, name: str, where: str) -> np.ndarray:
    """The array ``name`` of a ``from_file`` connector's file: one float per synapse.

    Checked in one line each: the file is the one the protocol loaded (its
    SHA-256), the array exists, is a 1-d array of real numbers as long as
    ``i`` and ``j``, and every number is finite.

    Parameters
    ----------
    conn : Connector
        A ``from_file`` connector (its ``file``, ``sha256`` and ``extent``).
    name : str
        The array's name in the ``.npz`` file.
    where : str
        Location for error messages (``"p.yaml: projections.ee.weight.from_file"``).

    Returns
    -------
    numpy.ndarray of float64
        The numbers as stored (the caller applies their unit).
    """
    path = Path(conn.file)
    if not path.is_file() or _sha256(path) != conn.sha256:
        raise NeurosimError(f"{where}: {path} changed or vanished since the protocol loaded")
    try:
        with np.load(path, allow_pickle=False) as data:
            if name not in data.files:
                raise NeurosimError(
                    f"{where}: no array {excerpt(name)} in {path} (have: {', '.join(data.files)})"
                )
            values = data[name]
    except (OSError, ValueError, EOFError) as err:
        raise NeurosimError(
            f"{where}: cannot read array {excerpt(name)} of {path} ({type(err).__name__})"
        ) from None
    count = conn.extent[0]
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        raise NeurosimError(
            f"{where}: {excerpt(name)} in {path} must be a 1-d array of real numbers, "
            f"got {values.ndim}-d {values.dtype}"
        )
    if len(values) != count:
        raise NeurosimError(
            f"{where}: {excerpt(name)} in {path} has {len(values)} values for {count} synapses"
        )
    values = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise NeurosimError(
            f"{where}: {excerpt(name)} in {path} is {values[bad[0]]} at synapse {bad[0]} "
            f"({len(bad)} values not finite)"
        )
    return values


def _read_pairs(file: object, folder: Path | None, multapses: bool, where: str) -> dict:
    name = check_str(file, f"{where}.file", "a path to an .npz file", 4096)
    path = Path(name) if Path(name).is_absolute() or folder is None else Path(folder) / name
    if not path.is_file():
        raise NeurosimError(f"{where}.file: no file {excerpt(str(path))}")
    digest = _sha256(path)
    i, j = _load_pairs(path, f"{where}.file")
    if not multapses and len(i):
        order = np.lexsort((j, i))
        if np.any((np.diff(i[order]) == 0) & (np.diff(j[order]) == 0)):
            raise NeurosimError(f"{where}.file: repeated pairs in {path} (set multapses: true)")
    extent = (
        len(i),
        int(i.max()) + 1 if len(i) else 0,
        int(j.max()) + 1 if len(j) else 0,
        int(np.count_nonzero(i == j)),
    )
    return {"file": str(path.resolve()), "sha256": digest, "extent": extent}


def check_connector(conn: Connector, n_pre: int, n_post: int, same: bool, where: str) -> None:
    """Refuse, in one line, a connector the population sizes make impossible.

    ``same``: source and target are the same population (autapses possible).
    """
    no_self = same and not conn.autapses
    if same and n_pre != n_post:
        raise NeurosimError(f"{where}: one population with two sizes, {n_pre} and {n_post}")
    if conn.rule == "one_to_one" and n_pre != n_post:
        raise NeurosimError(
            f"{where}: one_to_one needs populations of the same size, got {n_pre} and {n_post}"
        )
    if conn.rule == "from_file":
        count, top_i, top_j, self_pairs = conn.extent
        if top_i > n_pre or top_j > n_post:
            raise NeurosimError(
                f"{where}.file: indices up to {top_i - 1} (i) and {top_j - 1} (j) for "
                f"populations of {n_pre} and {n_post}"
            )
        if no_self and self_pairs:
            raise NeurosimError(
                f"{where}.file: {self_pairs} pairs of a neuron onto itself (set autapses: true)"
            )
    if conn.rule == "one_to_one" and no_self:
        raise NeurosimError(f"{where}: one_to_one within a population without autapses is empty")
    for key, pool in (("indegree", n_pre), ("outdegree", n_post)):
        k = getattr(conn, key)
        if k is not None and not conn.multapses and k > pool - no_self:
            raise NeurosimError(
                f"{where}.{key}: {k} distinct partners out of {pool - no_self} "
                "(allow multapses, or lower it)"
            )
        if k is not None and k > 0 and pool - no_self < 1:
            raise NeurosimError(f"{where}.{key}: no possible partner (one neuron, no autapses)")
    if conn.rule in ("fixed_total_number", "total_from_probability"):
        pairs = n_pre * n_post - (min(n_pre, n_post) if no_self else 0)
        n = total_number(conn, n_pre, n_post)
        if n and pairs < 1:
            raise NeurosimError(f"{where}.n: no possible pair (one neuron, no autapses)")
        if not conn.multapses and n > pairs:
            raise NeurosimError(
                f"{where}.n: {n} distinct synapses out of {pairs} pairs "
                "(allow multapses, or lower it)"
            )
    count = expected_synapses(conn, n_pre, n_post, same)
    if count > MAX_SYNAPSES:
        raise NeurosimError(
            f"{where}: about {count:.3g} synapses, "
            f"more than the {MAX_SYNAPSES:.0e} one projection may have"
        )


def expected_synapses(
    conn: Connector, n_pre: int, n_post: int, same: bool, positions=None
) -> float:
    """Number of synapses ``conn`` makes (the mean for the random-count rules).

    ``positions``: ``(pre, post, period)`` for the ``distance`` rule (see :func:`connect`).
    """
    no_self = same and not conn.autapses
    if conn.rule == "all_to_all":
        return float(n_pre * n_post - (min(n_pre, n_post) if no_self else 0))
    if conn.rule == "one_to_one":
        return 0.0 if no_self else float(n_pre)
    if conn.rule == "fixed_probability":
        pairs = n_pre * n_post - (min(n_pre, n_post) if no_self else 0)
        return float(conn.p) * pairs
    if conn.rule == "fixed_indegree":
        return float(conn.indegree) * n_post
    if conn.rule == "fixed_outdegree":
        return float(conn.outdegree) * n_pre
    if conn.rule == "from_file":
        return float(conn.extent[0])
    if conn.rule == "distance":
        if positions is None:  # an upper bound until the positions are known
            return float(conn.p0) * (n_pre * n_post - (min(n_pre, n_post) if no_self else 0))
        return float(sum(p.sum() for _, p in _distance_blocks(conn, positions, same)))
    return float(total_number(conn, n_pre, n_post))


def total_number(conn: Connector, n_pre: int, n_post: int) -> int:
    """The synapse count of ``fixed_total_number`` (``n``) or ``total_from_probability``.

    For the latter, the count of uniformly drawn synapses (repeats allowed)
    that leaves a given pair unconnected with probability ``1 - p``:
    ``(1 - 1/(n_pre n_post))^n = 1 - p`` (Potjans & Diesmann 2014, eq. 1).
    """
    if conn.rule != "total_from_probability":
        return int(conn.n)
    pairs = n_pre * n_post
    if conn.p == 0 or pairs < 2:
        return 0 if conn.p == 0 else pairs
    return round(math.log1p(-conn.p) / math.log1p(-1.0 / pairs))


def connect(
    conn: Connector,
    n_pre: int,
    n_post: int,
    rng: np.random.Generator,
    same: bool = False,
    positions=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the synapses of ``conn`` between ``n_pre`` and ``n_post`` neurons.

    Parameters
    ----------
    conn : Connector
    n_pre, n_post : int
        Sizes of the source and target populations.
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the
        same synapses.
    same : bool
        Source and target are the same population (``autapses`` applies).
    positions : tuple, optional
        ``(pre, post, period)`` for the ``distance`` rule: positions (n, dims)
        in metres and the periodic box size (None: no wrapping).

    Returns
    -------
    i, j : numpy.ndarray of int64
        Presynaptic and postsynaptic indices, one entry per synapse.
    """
    check_connector(conn, n_pre, n_post, same, "connector")
    no_self = same and not conn.autapses
    if conn.rule == "all_to_all":
        i, j = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        return _drop_self(i, j) if no_self else (i, j)
    if conn.rule == "one_to_one":
        i = np.arange(n_pre, dtype=np.int64)
        return i, i.copy()
    if conn.rule == "fixed_probability":
        i, j = np.divmod(_bernoulli_indices(n_pre * n_post, conn.p, rng), n_post)
        return _drop_self(i, j) if no_self else (i, j)
    if conn.rule == "fixed_indegree":
        j, i = _fixed_degree(n_post, n_pre, conn.indegree, conn.multapses, no_self, rng)
        return i, j
    if conn.rule == "fixed_outdegree":
        return _fixed_degree(n_pre, n_post, conn.outdegree, conn.multapses, no_self, rng)
    if conn.rule == "distance":
        if positions is None:
            raise NeurosimError("connector: the distance rule needs the populations' positions")
        parts = [
            (first + r, c)
            for first, p in _distance_blocks(conn, positions, same)
            for r, c in [np.nonzero(rng.random(p.shape) < p)]
        ]
        i = np.concatenate([r for r, _ in parts] or [np.zeros(0, np.int64)]).astype(np.int64)
        j = np.concatenate([c for _, c in parts] or [np.zeros(0, np.int64)]).astype(np.int64)
        return i, j
    if conn.rule == "from_file":
        path = Path(conn.file)
        if not path.is_file() or _sha256(path) != conn.sha256:
            raise NeurosimError(f"connector: {path} changed or vanished since the protocol loaded")
        return _load_pairs(path, "connector")
    return _fixed_total(
        n_pre, n_post, total_number(conn, n_pre, n_post), conn.multapses, no_self, rng
    )


def _drop_self(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = i != j
    return i[keep], j[keep]


def _bernoulli_indices(n_pairs: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices in ``range(n_pairs)``, each present with probability ``p``.

    The count is Binomial(n_pairs, p) and, given the count, the set is a
    uniform subset: the same law as one coin per pair, at a cost in memory
    and time of the synapses made, not of the pairs.
    """
    return _distinct(n_pairs, int(rng.binomial(n_pairs, p)), rng)


def _distinct(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A uniform random ``k``-subset of ``range(n)``, sorted (int64).

    Draws with repeats and tops up the missing ones; by symmetry of the
    labels every subset is equally likely. Above half of ``n`` the
    complement is drawn instead, so a top-up never waits long.
    """
    if k > n // 2:
        drop = _distinct(n, n - k, rng)
        keep = np.ones(n, dtype=bool)
        keep[drop] = False
        return np.flatnonzero(keep).astype(np.int64)
    out = _sorted_unique(rng.integers(0, n, size=k, dtype=np.int64))
    while len(out) < k:
        more = rng.integers(0, n, size=k - len(out), dtype=np.int64)
        out = _sorted_unique(np.concatenate([out, more]))
    return out


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique of numpy 2.3 takes ~100x longer than sorting for 10^7 integers
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _fixed_degree(
    n_own: int, n_pool: int, k: int, multapses: bool, no_self: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` partners in ``range(n_pool)`` for each of ``n_own`` neurons: (own, partner)."""
    own = np.repeat(np.arange(n_own, dtype=np.int64), k)
    if k == 0:
        return own, np.empty(0, dtype=np.int64)
    if multapses:
        # draw from the pool without the neuron itself, then skip over it
        partner = rng.integers(0, n_pool - no_self, size=n_own * k, dtype=np.int64)
        if no_self:
            partner += partner >= own
        return own, partner
    if n_pool > _BLOCK:
        # a huge pool: one sparse draw per neuron, never a row of n_pool keys
        parts = []
        for n in range(n_own):
            chosen = rng.permutation(_distinct(n_pool - no_self, k, rng))
            parts.append(chosen + (chosen >= n) if no_self else chosen)
        return own, np.concatenate(parts)
    rows = max(1, _BLOCK // n_pool)
    parts = []
    for start in range(0, n_own, rows):
        stop = min(n_own, start + rows)
        keys = rng.random((stop - start, n_pool))
        if no_self:  # one population: a neuron is never its own partner
            keys[np.arange(stop - start), np.arange(start, stop)] = np.inf
        # the k smallest random keys of a row are a uniform k-subset of the pool
        parts.append(np.argpartition(keys, k - 1, axis=1)[:, :k].ravel())
    return own, np.concatenate(parts).astype(np.int64)


def _fixed_total(
    n_pre: int, n_post: int, n: int, multapses: bool, no_self: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synapses on uniformly drawn pairs (distinct unless ``multapses``)."""
    if no_self:
        # one population (n_pre == n_post): pairs off the diagonal, numbered
        # row by row, n_post - 1 to a row
        pairs = n_pre * (n_post - 1)
        k = (
            rng.integers(0, pairs, size=n, dtype=np.int64)
            if multapses
            else rng.permutation(_distinct(pairs, n, rng))
        )
        i, r = np.divmod(k, n_post - 1)
        return i, r + (r >= i)
    k = (
        rng.integers(0, n_pre * n_post, size=n, dtype=np.int64)
        if multapses
        else rng.permutation(_distinct(n_pre * n_post, n, rng))
    )
    return np.divmod(k, n_post)
