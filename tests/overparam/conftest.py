"""Make this folder's independent reference module (``overparam_reference``) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
