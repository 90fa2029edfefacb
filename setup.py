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
    python_requires='>=3.9',
    install_requires=[
        'basicsr==1.4.2',
        'torch>=2.0,<=2.14.1',
        'torchvision',
        'facexlib',
        'lmdb',
        'opencv-python>=4.5,<5',
        'numpy',
        'scipy',
        'scikit-image',
        'matplotlib',
        'pillow',
        'lpips',
        'tb-nightly',
        'pyyaml',
        'tqdm',
    ],
    extras_require={
        'test': ['pytest', 'gfpgan', 'onnx', 'onnxscript', 'onnxruntime'],
        'peers': ['gfpgan'],
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
        ],
    },
)
