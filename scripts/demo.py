"""The offline demo: ``pip install -e . && python scripts/demo.py`` (see ``panini_arch/demo/main.py``).

Writes ``demo_output/index.html``; ``--quick`` for a short CI run, ``--hq_dir`` for your own faces.
"""
from panini_arch.demo.main import main

if __name__ == '__main__':
    main()
