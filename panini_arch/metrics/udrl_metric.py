"""Does a degradation representation encode the degradation and not the face?

Metrics on embeddings of a held-out set of N degradations x M faces
(``UDRLValDataset``), in BasicSR's ``calculate_metric`` form: every function
takes ``embeddings`` (n, C), ``deg_index`` (n,), ``face_index`` (n,) and
``deg_params`` (n, 4) = (r, sigma, delta, q), numpy arrays or tensors, and
ignores other keyword arguments (such as ``better``).
"""
import numpy as np

from basicsr.utils.registry import METRIC_REGISTRY

PARAM_COLUMNS = {'r': 0, 'sigma': 1, 'delta': 2, 'q': 3}


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def nearest_neighbour(embeddings, allowed):
    """Index of each row's most cosine-similar row among the allowed ones.

    Args:
        embeddings (np.ndarray): (n, C).
        allowed (np.ndarray): (n, n) bool, ``allowed[i, j]``: j may be i's neighbour.

    Returns:
        np.ndarray: (n,) int indices.
    """
    emb = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    sim = np.where(allowed, emb @ emb.T, -np.inf)
    return sim.argmax(axis=1)


@METRIC_REGISTRY.register()
def calculate_degradation_top1(embeddings, deg_index, face_index, **kwargs):
    """Degradation retrieval top-1: the nearest neighbour among *other faces'* embeddings has the same
    degradation. Chance is 1 / N. Returns a float in [0, 1]."""
    emb, deg, face = _numpy(embeddings).astype(np.float64), _numpy(deg_index), _numpy(face_index)
    nn = nearest_neighbour(emb, face[:, None] != face[None, :])
    return float((deg[nn] == deg).mean())


@METRIC_REGISTRY.register()
def calculate_identity_top1(embeddings, deg_index, face_index, **kwargs):
    """Identity retrieval top-1 (content leakage): the nearest neighbour among embeddings of *other
    degradations* shows the same face. Chance is 1 / M; an encoder of degradation only stays near it."""
    emb, deg, face = _numpy(embeddings).astype(np.float64), _numpy(deg_index), _numpy(face_index)
    nn = nearest_neighbour(emb, deg[:, None] != deg[None, :])
    return float((face[nn] == face).mean())


def ridge_fit_predict(x_train, y_train, x_test, alpha):
    """Closed-form ridge regression on standardised features; returns predictions for ``x_test``."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    a, b = (x_train - mean) / std, (x_test - mean) / std
    y_mean = y_train.mean()
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y_train - y_mean))
    return b @ w + y_mean


@METRIC_REGISTRY.register()
def calculate_probe_r2(embeddings, deg_index, deg_params, target='log_r', alpha=10.0, test_fraction=0.5,
                       **kwargs):
    """Linear probe: R^2 of a ridge regression from the embedding to one degradation parameter.

    The probe is fitted on the first ``1 - test_fraction`` of the degradations (by ``deg_index``) and
    scored on the rest, so the test degradations are unseen.

    Args:
        target (str): ``log_r``, ``r``, ``sigma``, ``delta`` or ``q``.
        alpha (float): ridge penalty on standardised features.
        test_fraction (float): share of degradations held out, in (0, 1).

    Returns:
        float: 1 - SSE / SST on the held-out degradations (1 = perfect, 0 = predicting the mean,
        negative = worse than the mean).
    """
    emb, deg, params = _numpy(embeddings).astype(np.float64), _numpy(deg_index), _numpy(deg_params)
    column = PARAM_COLUMNS[target[4:] if target.startswith('log_') else target]
    y = params[:, column].astype(np.float64)
    if target.startswith('log_'):
        y = np.log(y)
    num_deg = int(deg.max()) + 1
    test = deg >= int(round(num_deg * (1 - test_fraction)))
    if test.all() or not test.any():
        raise ValueError(f'test_fraction={test_fraction} leaves no train or no test degradations of {num_deg}')
    pred = ridge_fit_predict(emb[~test], y[~test], emb[test], alpha)
    sst = ((y[test] - y[test].mean())**2).sum()
    return float(1 - ((y[test] - pred)**2).sum() / max(sst, 1e-12))
