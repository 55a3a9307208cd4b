"""Import every table module so `Base.metadata` is complete (Alembic, tests).

Every `models.py` under `control/` is imported (namespace packages included), so a new domain registers
its tables by existing: nothing here needs editing when one is added.
"""

import importlib
from pathlib import Path

import mqttcloud.control


def load_all_models() -> None:
    root = Path(mqttcloud.control.__file__).resolve().parent
    for path in sorted(root.rglob("models.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        parts = path.relative_to(root).with_suffix("").parts
        importlib.import_module(".".join((mqttcloud.control.__name__, *parts)))
