"""docs/architecture.md's module map names every module, so a newcomer finds where things live."""

from __future__ import annotations

from tests.processes import REPO

LAYERS = ("core", "handlers", "bot", "workers", "models")


def module_map() -> str:
    """The "Module map" section of docs/architecture.md, up to the next section."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Module map")
    return text[start : text.index("\n## ", start + 1)]


def test_the_module_map_names_every_module():
    section = module_map()
    modules = sorted(
        str(path.relative_to(REPO))
        for layer in LAYERS
        for path in (REPO / layer).rglob("*.py")
        if path.stem != "__init__"
    )
    assert modules, "no modules found"
    missing = [
        module
        for module in modules
        if f"`{module}`" not in section and f"`{module.rsplit('/', 1)[-1]}`" not in _folder_lists(section, module)
    ]
    assert missing == [], "add these to docs/architecture.md's module map"


def _folder_lists(section: str, module: str) -> str:
    """The parenthesis after a folder's name, where the map lists its modules by file name
    (``bot/telegram/routers/`` (one router factory per feature: `basics.py`, …))."""
    folder = module.rsplit("/", 1)[0] + "/"
    start = section.find(f"`{folder}`")
    if folder.count("/") < 2 or start < 0:
        return ""
    return section[start : section.index(")", start)]
