"""Score a folder of restored faces made by any method (the ``panini-eval`` command).

    python scripts/evaluate_outputs.py --restored DIR [--gt DIR] --name NAME [--opt options/test_X.yml]

See ``panini_arch/evaluation/evaluate_command.py`` (``--help``) and docs/evaluation.md.
"""
from panini_arch.evaluation.evaluate_command import main

if __name__ == '__main__':
    main()
