"""Investors' beliefs about the latent narrative factors, and their Bayesian updating.

Every investor ``j`` holds, for each factor ``k``, a normal belief with mean ``mu_jk`` and
precision ``tau_jk`` (factor units). A news signal ``s`` of precision ``pi`` read with trust
``w`` updates it by the normal-normal rule::

    mu' = (tau mu + w pi s) / (tau + w pi),   tau' = tau + w pi

Interpretation is investor-level: ``trust`` scales how much a signal counts (over- or
under-reaction), and "Jevons" investors read a *cheaper* cost of intelligence as *more* compute
demand (their compute-demand reading is ``-elasticity * s_cost``).

Each investor's believed log value of asset ``i`` is
``log V0_i + anchor_i + sum_k b_ik (mu_jk - theta_k0) + idio_ji``.
"""

from __future__ import annotations

import numpy as np

from sim.kernels import beliefs as kernel
from sim.kernels import quantiles
from sim.scenario import BeliefsConfig

#: The decay factor of precisions is folded into the stored values when it falls below this.
RESCALE_BELOW = 1e-6
#: Histogram bins per factor behind :meth:`Beliefs.quantiles`.
QUANTILE_BINS = 4096


def bayes_update(
    mu: np.ndarray,
    tau: np.ndarray,
    signal: np.ndarray,
    precision: np.ndarray | float,
    weight: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal-normal update; all arguments broadcast. Returns (posterior mean, precision)."""
    wp = weight * precision
    tau_new = tau + wp
    return (tau * mu + wp * signal) / tau_new, tau_new


class Beliefs:
    """Beliefs of all investors as arrays (rows = investors); cohorts hold row slices."""

    def __init__(
        self,
        cfg: BeliefsConfig,
        n: int,
        exposures: np.ndarray,
        consensus: np.ndarray,
        factor_names: list[str],
        reaction: np.ndarray,
        rng: np.random.Generator,
        dtype: type = np.float64,
    ) -> None:
        self.cfg = cfg
        n_f = len(factor_names)
        n_a = exposures.shape[0]
        self.factor_names = factor_names
        self.exposures_t: np.ndarray = np.ascontiguousarray(exposures.T.astype(dtype))  # (F, A)
        self.consensus: np.ndarray = consensus.astype(dtype)
        self.i_cd = factor_names.index("compute_demand")
        self.i_moat = factor_names.index("frontier_moat")
        self.i_cost = factor_names.index("cost_of_intelligence")

        bull = rng.random(n) < cfg.bull_share
        mu = consensus + cfg.prior_dispersion * rng.standard_normal((n, n_f))
        # bulls and bears disagree about the AI build-out: compute demand and the moat
        tilt = np.where(bull, 0.5, -0.5) * cfg.bull_bear_gap
        mu[:, self.i_cd] += tilt
        mu[:, self.i_moat] += tilt
        self.mu: np.ndarray = mu.astype(dtype)
        # precisions are stored divided by a common decay factor, so that the decay of every
        # investor's certainty in a tick is one multiplication, not a pass over all of them
        self._tau: np.ndarray = np.full((n, n_f), cfg.prior_precision, dtype=dtype)
        self._tau_scale = 1.0
        self.trust = (
            cfg.trust_mean
            * np.exp(cfg.trust_dispersion * rng.standard_normal(n) - 0.5 * cfg.trust_dispersion**2)
            * reaction
        ).astype(dtype)
        self.jevons = rng.random(n) < cfg.jevons_share
        self.idio: np.ndarray = np.zeros((n, n_a), dtype=dtype)
        self.idio_tau: np.ndarray = np.full(n, cfg.idiosyncratic_precision, dtype=dtype)
        self.bull = bull
        # believed log value minus log V0 (before the anchor), kept up to date row by row so
        # that a step never recomputes it for investors whose beliefs did not move
        self.gap: np.ndarray = np.empty((n, n_a), dtype=dtype)
        self._refresh(slice(None))

    def interpreted(
        self, signal: np.ndarray, has: np.ndarray, jevons: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (signal, informs-mask) an investor of the given kind reads from an event."""
        s = signal.copy()
        m = has.copy()
        if jevons and has[self.i_cost]:
            s[self.i_cd] = -self.cfg.jevons_elasticity * signal[self.i_cost]
            m[self.i_cd] = True
        return s, m

    def update(
        self,
        rows: np.ndarray,
        signal: np.ndarray,
        has: np.ndarray,
        credibility: float,
        idio_signal: np.ndarray | None = None,
    ) -> None:
        """Bayesian update of the investors ``rows`` (int index) who just learnt an event.

        ``signal`` (F,) is in factor units, ``has`` (F,) marks factors the event speaks about;
        ``idio_signal`` (A,) optional firm-level signals (NaN where silent), log value.
        """
        if rows.size == 0:
            return
        if has[self.i_cost]:
            # Jevons readers and the others read the event differently: update them apart
            jev = self.jevons[rows]
            groups = [(rows[~jev], False), (rows[jev], True)]
        else:
            groups = [(rows, False)]  # silent about costs: everyone reads it the same way
        for r, flag in groups:
            if r.size == 0:
                continue
            s, m = self.interpreted(signal, has, flag)
            if m.any():
                kernel.update_rows(
                    r, self.mu, self._tau, self._tau_scale, self.trust, s, m, credibility
                )
        if idio_signal is not None and np.any(~np.isnan(idio_signal)):
            kernel.update_idio(rows, self.idio, self.idio_tau, self.trust, idio_signal, credibility)
        self._refresh(rows)

    def _refresh(self, rows: np.ndarray | slice) -> None:
        """Recompute the believed value gaps of ``rows`` (all investors for a slice)."""
        if isinstance(rows, slice):
            self.gap[rows] = (self.mu[rows] - self.consensus) @ self.exposures_t + self.idio[rows]
        else:
            kernel.refresh_rows(
                rows, self.mu, self.consensus, self.exposures_t, self.idio, self.gap
            )

    @property
    def tau(self) -> np.ndarray:
        """Every investor's precision on each factor (investors x factors), decay applied."""
        return self._tau * self._tau_scale

    def decay(self, hours: float) -> None:
        """Precision fades with a half-life, so that later news can still move beliefs."""
        self._tau_scale *= 0.5 ** (hours / (24.0 * self.cfg.memory_half_life_days))
        if self._tau_scale < RESCALE_BELOW:  # fold the factor in before the stored values grow
            self._tau *= self._tau_scale
            self._tau_scale = 1.0

    def quantiles(self, qs: np.ndarray) -> np.ndarray:
        """Quantiles ``qs`` (fractions) of the belief means across investors, per factor.

        Read off a histogram of :data:`QUANTILE_BINS` bins per factor (one pass over the
        investors), interpolated within the bin: exact to a bin width.
        """
        return quantiles.histogram_quantiles(
            self.mu, np.asarray(qs, dtype=np.float64), QUANTILE_BINS
        )
