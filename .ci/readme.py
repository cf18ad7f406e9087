"""Write README.md from nbs/index.ipynb's cells (what `nbdev_readme` renders with Quarto, which CI machines lack): its
markdown, and its code cells as Python blocks.

Usage: python .ci/readme.py [--check]   (--check exits 1 when README.md is out of step)"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def cell_text(c) -> str:
    "A markdown cell as it is; a code cell as a fenced Python block (directive lines left out)."
    s = ''.join(c['source'])
    if c['cell_type'] == 'markdown': return s
    return '```python\n' + re.sub(r'^#\|.*\n?', '', s, flags=re.M).strip() + '\n```'

def readme_text():
    nb = json.loads((root/'nbs/index.ipynb').read_text())
    md = '\n\n'.join(cell_text(c) for c in nb['cells'] if c['cell_type'] in ('markdown', 'code')) + '\n'
    md = md.replace("'fixtures/", "'nbs/fixtures/")  # the notebook runs in nbs/; the README is read from the root
    md = re.sub(r'\]\(((?:tutorials/|explanations/)?[\w.-]+)\.ipynb\)', r'](nbs/\1.ipynb)', md)  # links between pages
    return md.replace('](images/', '](nbs/images/')  # the notebook's pictures, seen from the repository root

if __name__ == '__main__':
    if '--check' in sys.argv: sys.exit(0 if (root/'README.md').read_text() == readme_text() else 1)
    (root/'README.md').write_text(readme_text())
