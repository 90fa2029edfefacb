"""Numbers published in the Panini-Net paper (AAAI 2022), CelebA-HQ, 1000 test images.

``RESULTS[table][method][metric]``; metric names match the ``val.metrics`` keys of
``options/test_*.yml``. ``THETA`` is Table 4 (theta of DAFI5 per downsampling factor r).
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


def published(paper, metric):
    """Published value for a run's ``paper`` option ({table, method}) and a metric name, or None."""
    if not paper:
        return None
    return RESULTS.get(str(paper.get('table')), {}).get(paper.get('method'), {}).get(metric)
