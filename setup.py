"""Install panini-arch: Panini-Net (AAAI 2022) as a BasicSR plugin."""
from setuptools import find_packages, setup


def read_version():
    with open('panini_arch/version.py', encoding='utf-8') as f:
        namespace = {}
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='panini-arch',
    version=read_version(),
    description='Panini-Net face restoration as a BasicSR plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['panini_arch', 'panini_arch.*']),
    # basicsr 1.4.2 ships only an sdist whose setup.py reads its version through locals() after exec,
    # which Python 3.13 no longer fills: it builds on 3.9 to 3.12.
    python_requires='>=3.9,<3.13',
    install_requires=[
        'basicsr>=1.4.2,<1.5',
        # 2.5: torch.onnx.export(ExportedProgram, dynamo=True, external_data=...); 2.3: torch.amp.GradScaler(device)
        'torch>=2.5',
        'torchvision>=0.20',  # torch 2.5's; batched and CUDA torchvision.io.encode_jpeg/decode_jpeg are 0.19
        'lmdb',
        'opencv-python>=4.5,<5',
        'numpy',
        'scipy',
        'scikit-image',
        'matplotlib',
        'pillow',
        'lpips',
        'pyyaml',
        'tqdm',
    ],
    extras_require={
        'test': ['pytest', 'gfpgan', 'facexlib', 'onnx', 'onnxscript', 'onnxruntime'],
        'peers': ['gfpgan'],
        'retinaface': ['facexlib'],
        'export': ['onnx', 'onnxscript', 'onnxruntime'],
    },
    entry_points={
        'console_scripts': [
            'panini-train=panini_arch.train:main',
            'panini-test=panini_arch.test:main',
            'panini-restore=panini_arch.inference:main',
            'panini-convert=panini_arch.convert:main',
            'panini-eval=panini_arch.evaluation.evaluate_command:main',
            'panini-compare=panini_arch.evaluation.compare_command:main',
            'panini-export=panini_arch.export:main',
        ],
    },
)
