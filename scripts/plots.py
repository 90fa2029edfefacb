"""Plots the scripts share: theta against r beside the paper's Table 4 (``analyze_theta.py``, the demo)."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from panini_arch.evaluation.published import THETA  # noqa: E402


def plot_theta(rs, means, stds, path, label, xlabel='downsampling factor r', title=None, dpi=100):
    """Mean +- std theta of a net per r (log axis) and the paper's Table 4 values; saves a PNG, returns ``path``."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(rs, means, yerr=stds, marker='o', capsize=4, label=f'{label} (mean +- std)')
    ax.plot(list(THETA), list(THETA.values()), 's--', label='paper, Table 4')
    ax.set(xscale='log', xlabel=xlabel, ylabel='theta (DAFI5 prior weight)', title=title)
    ax.minorticks_off()
    ax.set_xticks(rs, [str(r) for r in rs])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
