"""The shape of the code: imports point down the pipeline, notebooks stay in the anchors' rhythm, maps match the code.

Every module is exported from one numbered notebook; the notebooks' order is the pipeline's. A module may import only
modules of earlier notebooks (at module top or inside a function, `from ecg_vision.x import y`, `from ecg_vision import x`
or a relative import: all count), so there is no cycle and no stage depends on a later one.
"""
import ast, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB = ROOT/'nbs', ROOT/'ecg_vision'
MAX_CODE_LINES = 450   # per notebook
MAX_EXPORT_LINES = 40  # per export cell, unless the cell says why (a first-line comment `# long: <reason>`)


def cells(nb:Path) -> list: return json.loads(nb.read_text())['cells']
def src(c) -> str: return ''.join(c['source'])
def code_lines(c) -> int:
    "Lines of a code cell that hold code: not blank, not an nbdev `#|` directive."
    return sum(1 for l in src(c).splitlines() if l.strip() and not l.lstrip().startswith('#|'))


def modules() -> dict:
    "module name -> the notebook (stem) that exports it."
    res = {}
    for nb in sorted(NBS.glob('*.ipynb')):
        for c in cells(nb):
            if m := re.search(r'^#\|\s*default_exp\s+(\S+)', src(c), re.M): res[m[1]] = nb.stem; break
    return res


def package_imports(path:Path) -> list:
    "(module, line) for every import of a package module in `path`, wherever it sits."
    tree, out = ast.parse(path.read_text()), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level: names = [node.module.split('.')[0]] if node.module else [a.name for a in node.names]
            elif node.module == 'ecg_vision': names = [a.name for a in node.names]
            elif (node.module or '').startswith('ecg_vision.'): names = [node.module.split('.')[1]]
            else: continue
            out += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            out += [(a.name.split('.')[1], node.lineno) for a in node.names if a.name.startswith('ecg_vision.')]
    return out


def test_every_module_has_one_notebook():
    mods = modules()
    lib = {p.stem for p in LIB.glob('*.py') if not p.stem.startswith('_')}
    assert lib == set(mods), f"modules without a notebook: {sorted(lib - set(mods))}; notebooks without a module: {sorted(set(mods) - lib)}"


def test_imports_point_down_the_pipeline():
    "No module imports a module of a later (or the same-numbered later) notebook: no upward import, hence no cycle."
    mods, bad = modules(), []
    for m, nb in mods.items():
        for dep, line in package_imports(LIB/f'{m}.py'):
            if dep in mods and dep != m and mods[dep] > nb: bad.append(f"{m} ({nb}) imports {dep} ({mods[dep]}) at line {line}")
    assert not bad, '\n'.join(bad)


def test_package_imports_at_module_top():
    "Package-internal imports sit at module top, where a reader sees what a module depends on."
    bad = []
    for m in modules():
        tree = ast.parse((LIB/f'{m}.py').read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top and package_imports_of(node):
                bad.append(f"{m}.py:{node.lineno}")
    assert not bad, f"package imports inside functions: {bad}"


def package_imports_of(node) -> bool:
    if isinstance(node, ast.ImportFrom): return bool(node.level) or (node.module or '').split('.')[0] == 'ecg_vision'
    return any(a.name.split('.')[0] == 'ecg_vision' for a in node.names)


def test_guard_catches_an_upward_import(tmp_path):
    "The check above reads function-local and `from ecg_vision import x` imports too."
    f = tmp_path/'m.py'
    f.write_text("from ecg_vision import train\ndef f():\n    from .evaluate import evaluate\n    import ecg_vision.slurm\n")
    assert [d for d, _ in package_imports(f)] == ['train', 'evaluate', 'slurm']


@pytest.mark.parametrize('nb', sorted(p.name for p in NBS.glob('[0-9]*.ipynb')))
def test_notebook_rhythm(nb):
    "At most 450 code lines per notebook; export cells of one idea (at most ~40 lines, or a stated reason)."
    cs = [c for c in cells(NBS/nb) if c['cell_type'] == 'code']
    n = sum(code_lines(c) for c in cs)
    assert n <= MAX_CODE_LINES, f"{nb}: {n} code lines (> {MAX_CODE_LINES}): split it"
    long = [src(c).splitlines()[1][:60] for c in cs if re.match(r'#\|\s*export', src(c))
            and code_lines(c) > MAX_EXPORT_LINES and '# long:' not in src(c).splitlines()[1]]
    assert not long, f"{nb}: export cells over {MAX_EXPORT_LINES} lines: {long}"


def test_import_cells_are_imports_only():
    "nbdev runs every non-export cell holding an import while building the docs: such cells must do nothing else."
    bad = []
    for nb in sorted(NBS.glob('[0-9]*.ipynb')):
        for i, c in enumerate(cells(nb)):
            s = re.sub(r'^#\|.*$', '', src(c), flags=re.M)
            if c['cell_type'] != 'code' or re.match(r'#\|\s*export', src(c)) or 'nbdev_export(' in s: continue  # nbdev's docs build skips the export cell by name
            try: tree = ast.parse(s)
            except SyntaxError: continue
            has_imp = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
            if has_imp and not all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body): bad.append(f"{nb.name} cell {i}")
    assert not bad, f"cells mixing imports with other code: {bad}"


def stage_table(path:Path) -> list:
    "(notebook, module, command) rows of the stage table in a markdown file or notebook."
    text = path.read_text()
    if path.suffix == '.ipynb': text = '\n'.join(src(c) for c in cells(path) if c['cell_type'] == 'markdown')
    rows = re.findall(r'^\| `(\d\w*)` \| `ecg_vision\.(\w+)` \| (`ecgv_\w+`|—) \|', text, re.M)
    return [(nb, m, c.strip('`')) for nb, m, c in rows]


def test_readme_stage_table_matches_the_code():
    "The README's table names every stage notebook, its module and its command, as the code has them."
    from ecg_vision.core import COMMANDS
    cmd = {m: c for c, m in COMMANDS.items()}
    want = [(nb, m, cmd.get(m, '—')) for m, nb in sorted(modules().items(), key=lambda kv: kv[1])]
    assert stage_table(NBS/'index.ipynb') == want


def test_architecture_page_names_real_modules_and_notebooks():
    page = '\n'.join(src(c) for c in cells(NBS/'explanations'/'architecture.ipynb'))
    mods = modules()
    named = set(re.findall(r'`ecg_vision\.(\w+)[`.]', page))
    assert named and named <= set(mods), f"unknown modules named: {sorted(named - set(mods))}"
    nbs = set(re.findall(r'`(\d\d[a-z]?_\w+)`', page))
    assert nbs <= set(mods.values()), f"unknown notebooks named: {sorted(nbs - set(mods.values()))}"
