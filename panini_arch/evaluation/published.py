"""Published numbers beside which the comparison report puts ours.

``RESULTS[table][method][metric]``: the Panini-Net paper (AAAI 2022), CelebA-HQ, 1000 test
images; metric names match the ``val.metrics`` keys of ``options/test_*.yml``. ``THETA`` is
its Table 4 (theta of DAFI5 per downsampling factor r).

``DATASET_RESULTS[dataset][label][metric]`` and ``REAL_WORLD[label][dataset][metric]``: the
GFP-GAN paper (Wang et al., CVPR 2021, arXiv:2101.04061), Table 1 (CelebA-Test, 3000 synthetic
512 px faces) and Table 2 (real-world sets, FID against FFHQ and NIQE), its own method's rows.
"""
RESULTS = {
    '1': {  # MFR (512 -> 1024)
        'GFP-GAN': {'psnr': 17.22, 'fid': 34.61, 'lpips': 0.4150},
        'GPEN': {'psnr': 17.91, 'fid': 32.03, 'lpips': 0.4355},
        'Panini-Net': {'psnr': 18.01, 'fid': 24.66, 'lpips': 0.4470},
    },
    '2': {  # 16x SR (64 -> 1024)
        'pSp': {'psnr': 12.90, 'fid': 47.65, 'lpips': 0.6529},
        'GLEAN': {'psnr': 21.66, 'fid': 19.76, 'lpips': 0.4013},
        'Panini-Net': {'psnr': 21.19, 'fid': 16.77, 'lpips': 0.3886},
    },
    '3': {  # fusion ablation, 16x SR
        'Cat-Conv': {'psnr': 21.17, 'fid': 18.41},
        'Panini-Net': {'psnr': 21.19, 'fid': 16.77},
    },
}
THETA = {16: 0.43, 32: 0.54, 64: 0.65, 128: 0.73}
GFPGAN_PAPER = 'GFP-GAN (published, GFP-GAN paper)'
DATASET_RESULTS = {
    'CelebA-Test': {
        GFPGAN_PAPER: {'lpips': 0.3646, 'fid': 42.62, 'niqe': 4.077, 'deg': 34.60, 'lmd': 2.41, 'psnr': 25.08,
                       'ssim': 0.6777},
    },
}
REAL_WORLD = {
    GFPGAN_PAPER: {
        'LFW-Test': {'fid': 49.96, 'niqe': 3.882},
        'CelebChild-Test': {'fid': 111.78, 'niqe': 4.349},
        'WebPhoto-Test': {'fid': 87.35, 'niqe': 4.144},
    },
}


def published(paper, metric):
    """Published value for a run's ``paper`` option ({table, method}) and a metric name, or None."""
    if not paper:
        return None
    return RESULTS.get(str(paper.get('table')), {}).get(paper.get('method'), {}).get(metric)
