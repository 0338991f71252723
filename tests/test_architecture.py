"""The house rules, read from the code: layers, cycles, sizes."""
import ast
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = osp.join(REPO, 'mmenergykd')
#: Lower number = lower floor; a module may import only its floor or below.
LAYERS = {
    'utils': 0,
    'registry': 0,
    'version': 0,
    'models': 1,
    'datasets': 1,
    'evaluation': 1,
    'visualization': 1,
    'engine': 2,
    'apis': 3,
}


def _modules():
    for root, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                rel = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                yield rel[:-len('.__init__')] if rel.endswith(
                    '__init__') else rel, path


def _imports(module: str, path: str):
    """Absolute names of the mmenergykd modules ``path`` imports."""
    tree = ast.parse(open(path).read())
    package = module if path.endswith('__init__.py') else \
        module.rsplit('.', 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                prefix = '.'.join(base +
                                  ([node.module] if node.module else []))
            else:
                prefix = node.module or ''
            names = [prefix] + [f'{prefix}.{a.name}' for a in node.names]
        else:
            continue
        yield from (n for n in names if n.startswith('mmenergykd.'))


def _layer(module: str):
    parts = module.split('.')
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_imports_only_go_down():
    wrong = []
    for module, path in _modules():
        own = _layer(module)
        if own is None:
            continue
        for target in _imports(module, path):
            other = _layer(target)
            if other is not None and other > own:
                wrong.append(f'{module} -> {target}')
    assert not wrong, wrong


def test_no_import_cycles_between_packages():
    known = {m for m, _ in _modules()}
    graph = {}
    for module, path in _modules():
        targets = set()
        for target in _imports(module, path):
            while target and target not in known:
                target = target.rpartition('.')[0]
            if target and target != module:
                targets.add(target)
        graph[module] = targets

    # a cycle through modules that are not each other's package __init__
    def is_parent(a, b):
        return b.startswith(a + '.')

    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if is_parent(nxt, node) or is_parent(node, nxt):
                continue
            if state.get(nxt) == 1:
                raise AssertionError(f'import cycle: {stack + [nxt]}')
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize('limit_lines, limit_function', [(400, 80)])
def test_file_and_function_sizes(limit_lines, limit_function):
    long_files, long_functions = [], []
    for module, path in _modules():
        source = open(path).read()
        if source.count('\n') > limit_lines:
            long_files.append(module)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit_function:
                    long_functions.append(f'{module}.{node.name}: {length}')
    assert not long_files, long_files
    assert not long_functions, long_functions


def test_distiller_composes_its_parts():
    """No mixins: the distiller holds its parts, it does not inherit them."""
    from mmengine.model import BaseModel

    from mmenergykd.models.distillers import EnergyKDDistiller
    assert EnergyKDDistiller.__bases__ == (BaseModel, )


def test_no_dict_writes():
    """Attributes are set as attributes: no ``obj.__dict__[key] = ...`` (nor
    ``__dict__.update`` / ``setdefault``, nor ``object.__setattr__``) to slip
    a value past ``nn.Module.__setattr__``."""

    def is_dict(node):
        return isinstance(node, ast.Attribute) and node.attr == '__dict__'

    found = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(open(path).read())):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) \
                    else [node.target]
            writes = any(
                isinstance(t, ast.Subscript) and is_dict(t.value)
                for t in targets)
            if isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Attribute):
                func = node.func
                writes = writes or (func.attr in ('update', 'setdefault')
                                    and is_dict(func.value)) or (
                                        func.attr == '__setattr__'
                                        and isinstance(func.value, ast.Name)
                                        and func.value.id == 'object')
            if writes:
                found.append(f'{module}:{node.lineno}')
    assert not found, found


TESTS = osp.join(REPO, 'tests')
TOOL_TESTS = osp.join(TESTS, 'test_tools')
TOOL_IMPORT = osp.join(TOOL_TESTS, 'tool_import.py')


def _tool_names() -> set:
    """What a program in ``tools/`` imports by name: the modules and
    packages of ``tools/`` and the scripts of its script folders (such as
    ``tools/reproduce``, whose scripts import each other)."""
    names = set()
    for root, dirs, files in os.walk(osp.join(REPO, 'tools')):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        if root == osp.join(REPO, 'tools'):
            names.update(
                d for d in dirs
                if osp.isfile(osp.join(root, d, '__init__.py')))
        if root == osp.join(
                REPO,
                'tools') or not osp.isfile(osp.join(root, '__init__.py')):
            names.update(f[:-3] for f in files if f.endswith('.py'))
    return names


def _our_tool_path(node, source: str, constants: dict) -> bool:
    """Whether an argument of the call ``node`` names a file of this
    repository's ``tools/`` (directly or through a module-level constant);
    another package's tools (MMPretrain's) do not count."""
    for arg in node.args:
        text = ast.get_source_segment(source, arg) or ''
        if isinstance(arg, ast.Name):
            text = constants.get(arg.id, text)
        if 'tools' in text and 'mmpretrain' not in text:
            return True
    return False


def _tool_uses(path: str, tools: set) -> list:
    source = open(path).read()
    tree = ast.parse(source)
    constants = {
        t.id: ast.get_source_segment(source, node.value) or ''
        for node in tree.body if isinstance(node, ast.Assign)
        for t in node.targets if isinstance(t, ast.Name)
    }
    outside = not path.startswith(TOOL_TESTS + os.sep)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or '']
        else:
            names = []
        for name in names:
            if outside and (name.split('.')[0] in tools
                            or name.startswith('tests.test_tools')):
                found.append(f'{node.lineno}: imports {name}')
        if path == TOOL_IMPORT or not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(
            func, 'id', '')
        target = ast.get_source_segment(source, func) or ''
        if target.startswith('sys.path.'):
            found.append(f'{node.lineno}: edits sys.path')
        elif name in ('spec_from_file_location', 'SourceFileLoader',
                      'import_module') and _our_tool_path(
                          node, source, constants):
            found.append(f'{node.lineno}: loads a tool ({name})')
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                'PYTHONPATH' in (ast.get_source_segment(source, t) or '')
                for t in node.targets) and 'tools' in (ast.get_source_segment(
                    source, node.value) or ''):
            found.append(f'{node.lineno}: puts tools/ on PYTHONPATH')
    return found


def test_only_tool_tests_import_tools():
    """One way to import a tool: ``tests/test_tools/tool_import.py`` (the
    tool's folder on ``sys.path``, as ``python tools/X.py`` has it), used by
    ``tests/test_tools/`` only. The package's tests use the package
    (``mmenergykd.apis`` holds what a tool does); a test elsewhere may run
    a tool as a program (a subprocess, or ``runpy.run_path`` as
    ``__main__``), never import its code, edit ``sys.path`` or put
    ``tools/`` on ``PYTHONPATH``."""
    tools = _tool_names()
    assert {'build_teacher_bank', 'analysis_tools', 'train'} <= tools
    wrong = []
    for root, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in sorted(files):
            if name.endswith('.py'):
                path = osp.join(root, name)
                wrong += [
                    f'{osp.relpath(path, REPO)}:{use}'
                    for use in _tool_uses(path, tools)
                ]
    assert not wrong, wrong
