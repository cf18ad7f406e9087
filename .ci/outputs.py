"""Run notebooks and store their outputs, as the docs site shows them.

Every cell runs as under `nbdev_test` (the `nbdev_export()` cell and `#| slow`/`#| gpu` cells skipped), in `nbs/`, and the
outputs are kept. Temporary folders are written as `<tmp>/`, the test cache as `<cache>/` and the checkout as `.`, so no
page shows the machine it was built on (`.ci/docs.py` checks that). Then `nbdev_clean` tidies the metadata.

Usage: python .ci/outputs.py nbs/05c_train.ipynb [more notebooks ...]"""
import json, os, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBS = [(re.compile(re.escape(str(ROOT/'nbs')) + r'/?'), ''), (re.compile(re.escape(str(ROOT))), '.'),
        (re.compile(r'(/private)?' + re.escape(tempfile.gettempdir()) + r'/ecgv-test-cache/[\w.-]+/'), '<cache>/'),
        (re.compile(r'(/private)?' + re.escape(tempfile.gettempdir()) + r'/[\w.-]+/'), '<tmp>/'),
        (re.compile(r'(/private)?' + re.escape(tempfile.gettempdir()) + r'/[\w.-]+'), '<tmp>'),  # a temporary folder itself
        (re.compile(r'/\S*?/(site|dist)-packages/'), '<site-packages>/'),                      # installed libraries
        (re.compile(re.escape(str(Path.home())) + r'/'), '~/')]                                  # the home folder


def scrub(s:str) -> str:
    "Machine paths in an output replaced by placeholders."
    for rx, new in SUBS: s = rx.sub(new, s)
    return s


def scrub_outputs(nb:dict) -> dict:
    "Every text output of a notebook scrubbed (images untouched)."
    for c in nb['cells']:
        for o in c.get('outputs', []):
            if 'text' in o: o['text'] = scrub(''.join(o['text']))
            for k, v in o.get('data', {}).items():
                if k.startswith('text/') or k == 'application/json': o['data'][k] = scrub(v if isinstance(v, str) else ''.join(v))
    return nb


def run(path:Path):
    "Execute one notebook in place, keeping its outputs."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.process import extract_directives
    nb = read_nb(path)
    def skip(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export(' in cell.source: return True
        d = extract_directives(cell, remove=False)
        return bool({'slow', 'gpu'} & set(d)) or d.get('eval:', [''])[0].lower() == 'false'
    os.environ['IN_TEST'] = '1'
    with working_directory(path.parent):
        k = CaptureShell(path); k.run_all(nb, exc_stop=True, preproc=skip)
    write_nb(nb, path)
    path.write_text(json.dumps(scrub_outputs(json.loads(path.read_text())), indent=1, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    from nbdev.clean import nbdev_clean
    for f in sys.argv[1:]:
        print(f"running {f}", flush=True); run(Path(f).resolve()); nbdev_clean(fname=f)
