"""The demo's self-contained HTML report (relative image links, no network) and its plots."""
import html
import os

from demo_evaluate import score_suffix
from panini_arch.evaluation.published import THETA
from plots import plot_theta, plt

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:center}
img.face{width:128px;height:128px;image-rendering:pixelated}.note{color:#555}"""


def theta_plot(rows, path):
    """Table 4 style: theta vs r (1024-pixel equivalent) for this net and the paper."""
    return plot_theta([row['r_paper'] for row in rows], [row['theta_mean'] for row in rows],
                      [row['theta_std'] for row in rows], path, 'demo net',
                      xlabel='downsampling factor r (1024-px equivalent)')


def theta_reading(rows):
    """What the demo net's theta does from the mildest to the strongest r, read from its own numbers."""
    first, last = rows[0], rows[-1]
    change = last['theta_mean'] - first['theta_mean']
    spread = max(row['theta_std'] for row in rows)
    span = f'{first["theta_mean"]:.3f} at r = {first["r_paper"]} and {last["theta_mean"]:.3f} at r = {last["r_paper"]}'
    if abs(change) < 0.005:
        return f'This net: theta is flat ({span}); it does not follow the degradation.'
    if abs(change) <= spread:
        return (f'This net: theta moves by {change:+.3f} ({span}), within the spread between faces '
                f'(std up to {spread:.3f}): no trend this run shows.')
    return f'This net: theta {"rises" if change > 0 else "falls"} with r ({span}, change {change:+.3f}).'


def plot_curves(curves, path):
    """Per run (columns): logged training losses (top) and validation metrics (bottom) against the iteration."""
    fig, axes = plt.subplots(2, len(curves), figsize=(5.5 * len(curves), 6.5), squeeze=False)
    for column, (title, run) in enumerate(curves.items()):
        for row, (phase, scale) in enumerate((('train', 'symlog'), ('val', 'linear'))):
            ax = axes[row, column]
            for name in sorted({key for _, values in run[phase] for key in values}):
                ax.plot(*zip(*[(it, values[name]) for it, values in run[phase] if name in values]),
                        'o-' if phase == 'val' else '-', label=name)
            ax.set(title=f'{title}: {phase}', xlabel='iteration', yscale=scale)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def img(path, root, cls='face'):
    """An <img> tag with a path relative to the report folder."""
    return f'<img class="{cls}" src="{html.escape(os.path.relpath(path, root))}">'


def image_cells(row, keys, root):
    """``<tr><td>name</td>`` and one ``<td><img></td>`` per key of ``row``; the row is left open."""
    return f'<tr><td>{html.escape(row["name"])}</td>' + ''.join(f'<td>{img(row[key], root)}</td>' for key in keys)


def restoration_section(rows, root, columns=None, faces='Held-out faces'):
    """LQ / each method / GT grid with PSNR and SSIM per image and method, and the means.

    Args:
        columns (dict | None): row key -> column title, in order (default: bicubic, then the trained
            Panini-Net in ``restored``).
        faces (str): what the faces are, for the heading.
    """
    columns = columns or {'bicubic': 'bicubic', 'restored': 'Panini-Net'}
    titles = [html.escape(title) for title in columns.values()]
    out = [f'<h2>{html.escape(faces)}: LQ / {" / ".join(titles)} / GT</h2>',
           '<table><tr><th>face</th><th>LQ (net input)</th>' + ''.join(f'<th>{t}</th>' for t in titles) +
           '<th>GT</th>' + ''.join(f'<th>PSNR {t}</th>' for t in titles) +
           ''.join(f'<th>SSIM {t}</th>' for t in titles) + '</tr>']
    scores = [f'{metric}{score_suffix(key)}' for metric in ('psnr', 'ssim') for key in columns]
    digits = {'psnr': 2, 'ssim': 3}
    for row in rows:
        out.append(image_cells(row, ('lq', *columns, 'gt'), root) +
                   ''.join(f'<td>{row[key]:.{digits[key[:4]]}f}</td>' for key in scores) + '</tr>')
    mean = {key: sum(r[key] for r in rows) / len(rows) for key in scores}
    out.append(f'<tr><th>mean</th><td colspan="{len(columns) + 2}"></td>' +
               ''.join(f'<th>{mean[key]:.{digits[key[:4]]}f}</th>' for key in scores) + '</tr></table>')
    return '\n'.join(out)


def sweep_section(rows, biases, root):
    """The prior-weight sweep: outputs and theta per DAFI ``mask_bias`` (rows from ``demo_evaluate.prior_sweep``)."""
    out = ['<h2>Prior weight: the DAFI masks moved by mask_bias</h2>',
           '<p class="note">mask_bias is added to the prior logit of all five DAFIs: negative values keep the '
           'input features, positive ones the GAN prior; 0 is the learned mask. Under each image: theta.</p>',
           '<table><tr><th>face</th><th>LQ</th>' + ''.join(f'<th>{b:+g}</th>' for b in biases) + '</tr>']
    for row in rows:
        out.append(f'<tr><td>{html.escape(row["name"])}</td><td>{img(row["lq"], root)}</td>' +
                   ''.join(f'<td>{img(row[f"bias{b:g}"], root)}<br>{row[f"theta{b:g}"]:.3f}</td>' for b in biases) +
                   '</tr>')
    out.append('</table>')
    return '\n'.join(out)


def fusion_section(rows, root):
    """Fig. 7 style: Y, Y_IFE (prior term dropped) and Y_GPB (input term dropped)."""
    out = ['<h2>Fig. 7: what each branch contributes</h2>',
           '<p class="note">Y_IFE: output with the GAN-prior features zeroed; Y_GPB: with the input features '
           'zeroed.</p><table><tr><th>face</th><th>LQ</th><th>Y</th><th>Y_IFE</th><th>Y_GPB</th></tr>']
    for row in rows:
        out.append(image_cells(row, ('lq', 'Y', 'Y_IFE', 'Y_GPB'), root) + '</tr>')
    out.append('</table>')
    return '\n'.join(out)


def theta_section(rows, plot_path, root):
    """Table 4 style table and plot, with the paper's claim and what this net's numbers show."""
    cells = ''.join(f'<tr><td>{row["r_paper"]}</td><td>{row["r"]:g}</td><td>{row["theta_mean"]:.3f} &plusmn; '
                    f'{row["theta_std"]:.3f}</td><td>{THETA.get(row["r_paper"], "")}</td></tr>' for row in rows)
    paper = (f'Paper (Table 4): theta rises with degradation, {THETA[min(THETA)]} at r = {min(THETA)} to '
             f'{THETA[max(THETA)]} at r = {max(THETA)}.')
    return ('<h2>Table 4: theta (DAFI5 prior weight) against the downsampling factor r</h2>'
            f'<p>{html.escape(paper)} {html.escape(theta_reading(rows))}</p>'
            '<table><tr><th>r (1024-px)</th><th>r (demo size)</th><th>theta, demo net</th><th>theta, paper</th></tr>'
            f'{cells}</table><p>{img(plot_path, root, cls="plot")}</p>')


def write_report(root, summary, restoration, fusion, theta, theta_plot, curves_plot, timings, columns=None,
                 sweep=None, title='panini-arch offline demo', faces='Held-out faces'):
    """Write ``root/index.html``; returns its path.

    Args:
        summary (list[str]): lines describing the run (data, sizes, iterations, which weights).
        restoration, fusion, theta (list[dict]): rows from ``demo_evaluate``.
        theta_plot (str): PNG path. curves_plot (str | None): training curves PNG, None without training.
        timings (dict): stage name -> seconds.
        columns (dict | None): restoration columns, see :func:`restoration_section`.
        sweep (tuple | None): (rows of ``demo_evaluate.prior_sweep``, biases).
        title, faces (str): the page title; what the restored faces are.
    """
    stage_rows = ''.join(f'<tr><td>{html.escape(k)}</td><td>{v:.1f} s</td></tr>' for k, v in timings.items())
    body = [
        f'<h1>{html.escape(title)}</h1>',
        '<ul>' + ''.join(f'<li>{html.escape(line)}</li>' for line in summary) + '</ul>',
        restoration_section(restoration, root, columns, faces),
        theta_section(theta, theta_plot, root),
        fusion_section(fusion, root),
    ]
    if sweep:
        body.append(sweep_section(*sweep, root))
    if curves_plot:
        body.append(f'<h2>Training curves</h2><p>{img(curves_plot, root, cls="plot")}</p>')
    body.append(f'<h2>Time per stage</h2><table>{stage_rows}</table>')
    path = os.path.join(root, 'index.html')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                f'<style>{STYLE}</style></head><body>\n' + '\n'.join(body) + '\n</body></html>\n')
    return path
