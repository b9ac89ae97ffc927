"""Differential privacy: one budget, one ledger, the mechanisms that spend it.

* :mod:`~clinisynth.dp.accountant`: zero-concentrated DP (zCDP) and its conversion to
  ``(ε, δ)``;
* :mod:`~clinisynth.dp.sensitive`: the training rows behind a wrapper that nothing can read
  uncharged;
* :mod:`~clinisynth.dp.ledger`: the privacy ledger, whose mechanisms (Gaussian counts,
  thresholded category counts, the exponential mechanism) are the only way through the wrapper;
* :mod:`~clinisynth.dp.domain` and :mod:`~clinisynth.dp.tree`: the DP table domain (bounds,
  categories, bins) and the class-conditional tree of noisy marginals the DP steps build.
"""

from clinisynth.dp.accountant import epsilon_of, rho_of
from clinisynth.dp.ledger import BudgetExceeded, Entry, PrivacyLedger
from clinisynth.dp.sensitive import Sensitive, UnchargedRead

__all__ = ["BudgetExceeded", "Entry", "PrivacyLedger", "Sensitive", "UnchargedRead",
           "epsilon_of", "rho_of"]
