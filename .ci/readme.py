"""Write README.md from nbs/index.ipynb's cells (what `nbdev_readme` renders with Quarto, which CI machines lack).

Usage: python .ci/readme.py [--check]   (--check exits 1 when README.md is out of step)"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def readme_text():
    nb = json.loads((root/'nbs/index.ipynb').read_text())
    md = '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown') + '\n'
    return md.replace('](images/', '](nbs/images/')  # the notebook's pictures, seen from the repository root

if __name__ == '__main__':
    if '--check' in sys.argv: sys.exit(0 if (root/'README.md').read_text() == readme_text() else 1)
    (root/'README.md').write_text(readme_text())
