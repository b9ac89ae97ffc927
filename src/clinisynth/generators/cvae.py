"""Conditional variational autoencoder (PyTorch), conditioned on the class.

Encoder ``q(z | x, y) = N(mu(x, y), diag sigma^2(x, y))``, decoder ``p(x | z, y)``: Gaussian with a
learned per-feature scale on numeric and missing-indicator columns, categorical (softmax) on each
one-hot block. Training maximises the ELBO

    E_q[log p(x | z, y)] - beta * KL(q(z | x, y) || N(0, I))

with Adam, on a stratified split; training stops when the validation loss has not improved for
``patience`` epochs and the best weights are kept.

The budget scales with the data: by default the batch holds ``clip(n_train / 50, 64, 512)``
rows, and the epochs are capped so that training takes at most ``max_steps`` gradient steps
(``epochs <= max_steps / steps_per_epoch``). Small tables keep batch 64 and the full epoch budget;
a table of 100,000 rows trains ~170 steps per epoch for at most ~18 epochs instead of 1,300
steps per epoch for 300 (a step of batch 512 costs about half one of 1,024, and the step count,
not the batch, is what the budget bounds). A class with more than ``max_rows_per_class`` rows
trains on a seeded uniform subsample of that many (the step budget, not the rows, bounds what
is learned).
Training runs on one torch thread whatever the thread setting (:mod:`clinisynth.threads`): the
layers are tiny, and one thread keeps the floating-point reductions in one order, so results
do not depend on the machine's cores.

Sampling draws ``z ~ N(0, I)``, then ``x ~ p(x | z, y = k)``, so no row is tied to a training row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from clinisynth.encoding import ONEHOT
from clinisynth.generators.base import Arrays, BaseGenerator, cap_rows_per_class


class _Net(nn.Module):
    def __init__(self, d: int, n_classes: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(d + n_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        )
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent + n_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, d),
        )
        self.log_sigma = nn.Parameter(torch.full((d,), -1.0))

    def forward(self, x: torch.Tensor, c: torch.Tensor):
        h = self.encoder(torch.cat([x, c], dim=1))
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(torch.cat([z, c], dim=1)), mu, logvar


class CVAEGenerator(BaseGenerator):
    name = "cvae"

    def __init__(self, hidden: int = 128, latent_dim: int = 8, epochs: int = 300,
                 batch_size: int | None = None, learning_rate: float = 1e-3, beta: float = 1.0,
                 patience: int = 25, validation_fraction: float = 0.15,
                 max_steps: int = 3000, max_rows_per_class: int | None = 200_000,
                 seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.beta = beta
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_steps = max_steps
        self.max_rows_per_class = max_rows_per_class

    # -- layout ---------------------------------------------------------------------------------
    def _layout(self) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Indices of Gaussian columns, and (start, stop) of each softmax block."""
        blocks = [(b.start, b.stop) for b in self.blocks_ if b.kind == ONEHOT]
        gaussian = np.ones(self.n_features_, dtype=bool)
        for start, stop in blocks:
            gaussian[start:stop] = False
        return np.flatnonzero(gaussian), blocks

    def _build(self) -> _Net:
        return _Net(self.n_features_, int(self.classes_.max()) + 1, self.hidden, self.latent_dim)

    # -- training -------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if (self.batch_size is not None and self.batch_size < 1) or self.max_steps < 1:
            raise ValueError("cvae: batch_size and max_steps must be at least 1")
        seed = int(self._rng.integers(2**31 - 1))
        with _one_thread(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net_ = self._build()
            keep = cap_rows_per_class(y, self.max_rows_per_class, self._rng)
            self._train(X[keep], y[keep])

    def budget(self, n_train: int) -> tuple[int, int]:
        """``(batch_size, epochs)`` for ``n_train`` training rows (see the module docstring)."""
        batch = (int(np.clip(n_train // 50, 64, 512)) if self.batch_size is None
                 else int(self.batch_size))
        steps_per_epoch = max(1, -(-n_train // batch))
        return batch, max(1, min(int(self.epochs), int(self.max_steps) // steps_per_epoch))

    def _loss(self, net: _Net, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        g, blocks = self._loss_layout
        out, mu, logvar = net(x, c)
        log_sigma = net.log_sigma[g]
        resid = (x[:, g] - out[:, g]) / torch.exp(log_sigma)
        rec = (0.5 * resid**2 + log_sigma).sum(dim=1)
        for start, stop in blocks:
            target = x[:, start:stop].argmax(dim=1)
            rec = rec + nn.functional.cross_entropy(out[:, start:stop], target, reduction="none")
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
        return (rec + self.beta * kl).mean()

    def _train(self, X: np.ndarray, y: np.ndarray) -> None:
        n_classes = int(self.classes_.max()) + 1
        gaussian, blocks = self._layout()
        self._loss_layout = (torch.as_tensor(gaussian, dtype=torch.long), blocks)
        val = _stratified_mask(y, self.validation_fraction, self._rng)
        xt = torch.as_tensor(X, dtype=torch.float32)
        ct = nn.functional.one_hot(torch.as_tensor(y), n_classes).float()
        tr_idx, va_idx = np.flatnonzero(~val), np.flatnonzero(val)
        net = self.net_
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        best, best_state, stale = np.inf, None, 0
        self.history_: list[float] = []
        batch_size, epochs = self.budget(len(tr_idx))
        for _epoch in range(epochs):
            net.train()
            perm = tr_idx[self._rng.permutation(len(tr_idx))]
            for start in range(0, len(perm), batch_size):
                b = torch.as_tensor(perm[start:start + batch_size])
                opt.zero_grad()
                loss = self._loss(net, xt[b], ct[b])
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                v = torch.as_tensor(va_idx)
                vloss = float(self._loss(net, xt[v], ct[v]))
            self.history_.append(vloss)
            if vloss < best - 1e-4:
                best, stale = vloss, 0
                best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self.n_epochs_ = len(self.history_)

    # -- sampling -------------------------------------------------------------------------------
    def _sample_class(self, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        gaussian, blocks = self._layout()
        n_classes = int(self.classes_.max()) + 1
        z = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        c = np.zeros((n, n_classes), dtype=np.float32)
        c[:, k] = 1.0
        with torch.no_grad(), _one_thread():
            out = self.net_.decoder(torch.cat([torch.as_tensor(z), torch.as_tensor(c)], dim=1))
            sigma = torch.exp(self.net_.log_sigma).numpy().astype(np.float64)
        out = out.numpy().astype(np.float64)
        X = np.zeros((n, self.n_features_))
        X[:, gaussian] = out[:, gaussian] + sigma[gaussian] * rng.standard_normal(
            (n, len(gaussian)))
        for start, stop in blocks:
            logits = out[:, start:stop]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            choice = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
            X[np.arange(n), start + np.minimum(choice, stop - start - 1)] = 1.0
        return X

    # -- persistence ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], Arrays]:
        arrays = {f"net.{k}": t.detach().cpu().numpy() for k, t in self.net_.state_dict().items()}
        return {"n_epochs": self.n_epochs_, "history": self.history_}, arrays

    def _set_state(self, meta: dict[str, Any], arrays: Arrays) -> None:
        self.net_ = self._build()
        state = {k[len("net."):]: torch.as_tensor(v) for k, v in arrays.items()
                 if k.startswith("net.")}
        self.net_.load_state_dict(state)
        self.net_.eval()
        self.n_epochs_ = int(meta["n_epochs"])
        self.history_ = list(meta["history"])


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread: for this tiny network it is as fast, and the result is then the
    same bits whatever the machine's thread count (matrix products split over several threads
    may sum in another order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _stratified_mask(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask picking about ``fraction`` of each class (at least one row per class)."""
    mask = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        rows = np.flatnonzero(y == k)
        n_val = max(1, int(round(fraction * len(rows))))
        if n_val < len(rows):
            mask[rng.choice(rows, size=n_val, replace=False)] = True
    return mask
