"""The docs site's pages: nbdev's own notebook processing (the step `nbdev_docs` runs before Quarto) passes over every
notebook, and no processed page holds an error output, a machine path, or a dataclass without its fields' descriptions
(`.ci/docs.py`; the GitHub docs workflow then renders the pages with Quarto on every pull request)."""
import re, subprocess, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]

def test_docs_pages_build_and_are_clean():
    p = subprocess.run([sys.executable, str(ROOT/'.ci'/'docs.py')], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert re.search(r'docs: \d+ pages processed, 0 problems', p.stdout)

def test_docs_checker_catches_machine_paths(tmp_path):
    "The page check finds a temporary folder, a home folder and an error output."
    sys.path.insert(0, str(ROOT/'.ci'))
    import importlib, json; docs = importlib.import_module('docs')
    nb = tmp_path/'p.ipynb'
    nb.write_text(json.dumps(dict(cells=[dict(cell_type='code', source='x', outputs=[
        dict(output_type='stream', name='stdout', text='wrote /tmp/abc/run/model.pth\n'),
        dict(output_type='execute_result', data={'text/plain': "PosixPath('/home/ana/x')"}),
        dict(output_type='error', ename='NameError', evalue='x')])])))
    probs = docs.page_problems(nb)
    assert len(probs) == 3 and any('/tmp/' in p for p in probs) and any('NameError' in p for p in probs)

def test_sidebar_lists_every_page_tutorials_first():
    "Every notebook is in the sidebar once, and the tutorials come before the stages."
    sb = yaml.safe_load((ROOT/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    flat = lambda xs: [y for x in xs for y in (flat(x['contents']) if isinstance(x, dict) else [x])]
    pages = flat(sb)
    nbs = sorted(str(p.relative_to(ROOT/'nbs')) for p in (ROOT/'nbs').rglob('*.ipynb') if '_proc' not in p.parts and '.ipynb_checkpoints' not in p.parts)
    assert sorted(pages) == nbs and len(pages) == len(set(pages))
    assert sb[1]['section'] == 'Tutorials', sb[1]
    for s in sb:
        if isinstance(s, dict) and 'href' in s: assert (ROOT/'nbs'/s['href']).is_file(), s['href']
